/**
 * Runs one of our TypeScript entry points (controller/main.ts, ...) as a real
 * child process on the project's Node, through tsx's loader, keeping its log
 * lines for assertions and for the failure message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(__dirname, '..', '..');
const TSX_LOADER = pathToFileURL(resolve(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Every line it printed (stdout and stderr), oldest first. */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
  /** The last lines, for a failure message. */
  tail(n?: number): string;
}

/**
 * `entry` is a .ts file (run through tsx) or a bundled .js file (run as is, as in the image).
 * `nodeFlags` go on node's command line, as the image passes its own (V8 flags NODE_OPTIONS refuses).
 */
export function spawnTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = []): Child {
  const runner = entry.endsWith('.js') ? [] : ['--import', TSX_LOADER];
  const child = spawn(process.execPath, [...nodeFlags, ...runner, resolve(ROOT, entry), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
      if (lines.length > 20_000) lines.splice(0, lines.length - 20_000);
    });
  }
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    pid: child.pid!,
    process: child,
    lines,
    exited,
    stop: (graceMs = 15_000) => stopGracefully(child, exited, graceMs),
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    tail: (n = 40) => lines.slice(-n).join('\n'),
  };
}

/** SIGTERM, then SIGKILL after graceMs; resolves with the exit code (at once if it already exited). */
export async function stopGracefully(child: ChildProcess, exited: Promise<number | null>, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await exited;
  clearTimeout(t);
  return code;
}
