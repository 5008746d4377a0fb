/**
 * A plain-HTTP proxy on loopback in front of the test API server that can
 * hold back watch events: a replica behind it keeps a cache that lags (a
 * watch gap, a slow link) while its lists, reads and writes still go
 * through. The controller under test gets a kubeconfig naming the proxy; the
 * proxy talks TLS to the API server with the admin kubeconfig's credentials
 * (client-node wants insecure-skip-tls-verify to speak plain HTTP at all; the
 * hop is loopback only).
 *
 *   hold()     from now on, bytes of watch responses (?watch=true) are
 *              buffered, not forwarded (on open and new watches)
 *   release()  forwards what was buffered and lets watches flow again
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from '../../testenv/kube';

export interface WatchProxy {
  /** A kubeconfig whose server is this proxy (no credentials: the proxy adds them). */
  readonly kubeconfig: string;
  hold(): void;
  release(): void;
  /** Watch response chunks held back so far (0 before the first hold). */
  readonly heldChunks: number;
  close(): Promise<void>;
}

export async function startWatchProxy(): Promise<WatchProxy> {
  const kc = loadKubeConfig();
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const upstream = new URL(cluster.server);
  const b64 = (s?: string) => (s ? Buffer.from(s, 'base64') : undefined);
  const agent = new https.Agent({ ca: b64(cluster.caData), cert: b64(user.certData), key: b64(user.keyData), keepAlive: true });

  let holding = false;
  let heldChunks = 0;
  const waiting = new Set<() => void>();
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const isWatch = /[?&]watch=(true|1)(&|$)/.test(req.url ?? '');
    const up = https.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!isWatch) {
          upRes.pipe(res);
          return;
        }
        const buffered: Buffer[] = [];
        const flush = () => {
          for (const c of buffered.splice(0)) res.write(c);
        };
        waiting.add(flush);
        upRes.on('data', (c: Buffer) => {
          if (holding) {
            buffered.push(c);
            heldChunks++;
          } else {
            flush();
            res.write(c);
          }
        });
        upRes.on('end', () => {
          waiting.delete(flush);
          if (!holding) {
            flush();
            res.end();
          } else waiting.add(() => (flush(), res.end()));
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'watch-proxy-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: proxy',
      `  cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}`,
      'users:',
      '- name: proxy',
      '  user: {}',
      'contexts:',
      '- name: proxy',
      '  context: {cluster: proxy, user: proxy}',
      'current-context: proxy',
      '',
    ].join('\n'),
  );
  return {
    kubeconfig,
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const f of [...waiting]) f();
    },
    get heldChunks() {
      return heldChunks;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}
