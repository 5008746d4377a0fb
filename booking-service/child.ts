/**
 * Runs booking-service as a child process (the way tests and benchmarks
 * should, so that kill -9 is real and the service has its own event loop).
 *
 *   const svc = await spawnBookingService({ dataDir, tokenFile });
 *   ... svc.url ...
 *   await svc.kill9();                 // crash it
 *   const again = await spawnBookingService({ dataDir, tokenFile, port: svc.port });
 *   await again.stop();                // SIGTERM, graceful
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FaultConfig } from './faults';

const ROOT = resolve(__dirname, '..');
const MAIN = resolve(__dirname, 'main.ts');
const TSX_LOADER = pathToFileURL(resolve(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface ChildServiceOptions {
  dataDir: string;
  tokenFile: string;
  /** Default 0 (a free port; read back from the "listening" log line). */
  port?: number;
  /** --routes: "default" | "unlimited" | file | inline JSON. */
  routes?: string;
  faults?: FaultConfig;
  /** Request logs off (default true). */
  quiet?: boolean;
  /** Where the child's stdout/stderr lines go; default: kept in `logs` only. */
  onLog?: (line: string) => void;
  startTimeoutMs?: number;
  /** Node binary; default the one running this process. */
  nodePath?: string;
}

export interface ChildService {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Last 500 log lines (stdout and stderr). */
  readonly logs: string[];
  /** SIGTERM and wait for exit (SIGKILL after timeoutMs, default 15 s). */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

export async function spawnBookingService(opts: ChildServiceOptions): Promise<ChildService> {
  const args = ['--import', TSX_LOADER, MAIN, '--port', String(opts.port ?? 0), '--data-dir', opts.dataDir, '--token-file', opts.tokenFile];
  if (opts.routes) args.push('--routes', opts.routes);
  if (opts.faults) args.push('--faults', JSON.stringify(opts.faults));
  if (opts.quiet ?? true) args.push('--quiet');
  const child = spawn(opts.nodePath ?? process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const logs: string[] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let onListening: ((port: number) => void) | undefined;
  const take = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        if (logs.length > 500) logs.shift();
        opts.onLog?.(line);
        if (onListening && line.includes('"listening"')) {
          try {
            const e = JSON.parse(line) as { msg?: string; port?: number };
            if (e.msg === 'listening' && typeof e.port === 'number') onListening(e.port);
          } catch {
            /* not JSON */
          }
        }
      }
    });
  };
  take(child.stdout!);
  take(child.stderr!);

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const port = await new Promise<number>((resolvePort, reject) => {
    onListening = resolvePort;
    child.once('exit', (code, signal) => reject(new Error(`booking-service exited before listening (code ${code}, signal ${signal}):\n${logs.join('\n')}`)));
    child.once('error', reject);
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`booking-service did not start within ${timeoutMs} ms:\n${logs.join('\n')}`));
    }, timeoutMs);
  }).finally(() => clearTimeout(timer));
  onListening = undefined;

  const waitExit = async (ms: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    process: child,
    logs,
    async stop(ms = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await waitExit(ms);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
