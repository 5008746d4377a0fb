/**
 * Probe and metrics HTTP servers (controller-runtime's :8081 health probe and
 * :8080 metrics endpoints).
 *
 * - /healthz  liveness: answers while the event loop turns (plus optional
 *             checks). It must NOT depend on the apiserver, or an apiserver
 *             outage would make the kubelet restart every replica.
 * - /readyz   readiness: all readiness checks pass (e.g. informers synced).
 *             Non-leaders are ready too: readiness is about serving, and
 *             standbys must stay in the Service/PDB budget.
 * - /metrics  Prometheus text from the registry.
 * Both probes answer 200 "ok" or 503 listing failed checks; `?verbose` lists
 * every check, like the apiserver's own /readyz?verbose.
 * Metrics and probes may share one address (same server) or use two.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { noopLogger, type Logger } from './logger';

export type Check = () => boolean | Promise<boolean>;

export interface ProbeServerOptions {
  /** "host:port" or ":port"; ":0" picks a free port; "" or "0" disables. Default ":8081". */
  healthAddr?: string;
  /** Default ":8080". May equal healthAddr. */
  metricsAddr?: string;
  registry?: Registry;
  logger?: Logger;
  /** A check taking longer than this fails. Default 5000 ms. */
  checkTimeoutMs?: number;
}

export interface BoundAddresses {
  health?: AddressInfo;
  metrics?: AddressInfo;
}

function parseAddr(addr: string): { host?: string; port: number } | undefined {
  if (!addr || addr === '0') return undefined;
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : undefined;
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad listen address ${addr}`);
  return { host, port };
}

export class ProbeServer {
  private readonly readyChecks = new Map<string, Check>();
  private readonly liveChecks = new Map<string, Check>();
  private readonly servers: http.Server[] = [];
  private readonly logger: Logger;

  constructor(private readonly opts: ProbeServerOptions = {}) {
    this.logger = (opts.logger ?? noopLogger).child({ component: 'probes' });
    this.liveChecks.set('ping', () => true);
  }

  /** Adds a named readiness check (e.g. "informer-widgets": () => informer.hasSynced()). */
  addReadyCheck(name: string, check: Check): this {
    this.readyChecks.set(name, check);
    return this;
  }

  /** Adds a named liveness check. Keep these local (no network calls). */
  addHealthCheck(name: string, check: Check): this {
    this.liveChecks.set(name, check);
    return this;
  }

  /** Binds the servers; resolves with the bound addresses (useful with port 0). */
  async start(): Promise<BoundAddresses> {
    const health = parseAddr(this.opts.healthAddr ?? ':8081');
    const metrics = parseAddr(this.opts.metricsAddr ?? ':8080');
    const same = health && metrics && health.port !== 0 && health.port === metrics.port && health.host === metrics.host;
    const out: BoundAddresses = {};
    if (same) {
      const a = await this.listen(health, true, true);
      out.health = a;
      out.metrics = a;
      return out;
    }
    if (health) out.health = await this.listen(health, true, false);
    if (metrics) out.metrics = await this.listen(metrics, false, true);
    return out;
  }

  /**
   * Listens on one more address ("host:port" / ":port"), serving the probes
   * and/or /metrics there. start() uses it; startHealthServer too.
   */
  listenOn(addr: string, what: { probes: boolean; metrics: boolean } = { probes: true, metrics: true }): Promise<AddressInfo> {
    const a = parseAddr(addr);
    if (!a) throw new Error(`bad listen address ${JSON.stringify(addr)}`);
    return this.listen(a, what.probes, what.metrics);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  /** Runs checks: { ok, lines } with "[+]name ok" / "[-]name failed". */
  async runChecks(kind: 'ready' | 'live'): Promise<{ ok: boolean; lines: string[] }> {
    const checks = kind === 'ready' ? this.readyChecks : this.liveChecks;
    const timeout = this.opts.checkTimeoutMs ?? 5000;
    const results = await Promise.all(
      [...checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const ok = await Promise.race([
            Promise.resolve().then(check),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeout))),
          ]);
          return { name, ok: ok === true };
        } catch {
          return { name, ok: false };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ok: results.every((r) => r.ok), lines: results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed`)) };
  }

  private listen(a: { host?: string; port: number }, probes: boolean, metrics: boolean): Promise<AddressInfo> {
    const server = http.createServer((req, res) => {
      this.handle(req, res, probes, metrics).catch((err) => {
        this.logger.error('probe handler failed', { err });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.keepAliveTimeout = 5_000;
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(a.port, a.host, () => {
        server.off('error', reject);
        const addr = server.address() as AddressInfo;
        this.logger.info('listening', { probes, metrics, address: addr.address, port: addr.port });
        resolve(addr);
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, probes: boolean, metrics: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (probes && (url.pathname === '/healthz' || url.pathname === '/livez' || url.pathname === '/readyz')) {
      const { ok, lines } = await this.runChecks(url.pathname === '/readyz' ? 'ready' : 'live');
      const verbose = url.searchParams.has('verbose');
      const body = ok && !verbose ? 'ok\n' : `${lines.join('\n')}\n${url.pathname.slice(1)} check ${ok ? 'passed' : 'failed'}\n`;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    if (metrics && url.pathname === '/metrics') {
      if (!this.opts.registry) {
        res.writeHead(404).end();
        return;
      }
      const text = await this.opts.registry.metrics();
      res.writeHead(200, { 'content-type': this.opts.registry.contentType });
      res.end(text);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

export interface HealthServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export interface StartHealthServerOptions {
  /** "host:port" or ":port" (":0" = any free port). */
  address: string;
  /** Named readiness checks for /readyz. */
  readyz?: Record<string, Check>;
  /** Named liveness checks for /healthz (keep them local). */
  healthz?: Record<string, Check>;
  /** Serve /metrics from this registry too (else /metrics is 404). */
  registry?: Registry;
  logger?: Logger;
  checkTimeoutMs?: number;
}

/**
 * One server on one address serving /healthz, /livez, /readyz and (with a
 * registry) /metrics. Call twice for controller-runtime's split layout
 * (probes :8081, metrics :8080).
 */
export async function startHealthServer(o: StartHealthServerOptions): Promise<HealthServer> {
  const s = new ProbeServer({ healthAddr: '', metricsAddr: '', registry: o.registry, logger: o.logger, checkTimeoutMs: o.checkTimeoutMs });
  for (const [name, check] of Object.entries(o.readyz ?? {})) s.addReadyCheck(name, check);
  for (const [name, check] of Object.entries(o.healthz ?? {})) s.addHealthCheck(name, check);
  const address = await s.listenOn(o.address);
  return { address, close: () => s.stop() };
}
