/**
 * Daemons a test environment runs on the host (OLM v0's operators and opm,
 * OLM v1's catalogd, operator-controller and registry): each in a process
 * group of its own with one log file, all registered with a parent-death
 * guard that stops them when the test process dies however it dies, and
 * stopped together (SIGTERM, then SIGKILL for what is left after 10 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { signalGroup } from '../../testenv/cluster';

export interface HostProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly args: string[];
  /** Exit code or signal once it has exited; undefined while it runs. */
  exit?: string;
}

export interface Launched {
  c: HostProcess;
  child: ChildProcess;
  exited: Promise<void>;
}

export interface HostProcesses {
  /** What runs (or ran and died unexpectedly), in launch order. */
  readonly running: readonly Launched[];
  /** Starts `bin` in `dir`, its output appended to `dir/<logName>` (default `<name>.log`). */
  launch(name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv, logName?: string): Launched;
  /** Stops one on purpose (its exit is no failure); the others run on. */
  stopOne(r: Launched): Promise<void>;
  /** Throws, with their log tails, when any has exited. */
  assertRunning(): void;
  /** The last lines of every log, for failure messages. */
  logTails(lines?: number): string;
  /** Polls ready() while `r` runs; throws with its log tail when it exits or `timeoutMs` passes. */
  waitReady(r: Launched, what: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void>;
  /** Whether `r`'s log matches `re` so far. */
  logHas(r: Launched, re: RegExp): boolean;
  /** Stops all of them and the guard. */
  stopAll(): Promise<void>;
}

export function tailOf(file: string, lines: number): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return all.slice(-lines - 1).join('\n').trimEnd();
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

/**
 * The parent-death guard: reads "pid" lines from its stdin ("-pid" takes one
 * back); on EOF (its owner exited, however) it SIGTERMs every registered
 * process group, then SIGKILLs what is left after 5 s. Plain JavaScript for `node -e`.
 */
const GUARD = `
const pids = new Set();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => {
  buf += c;
  const lines = buf.split('\\n');
  buf = lines.pop();
  for (const l of lines) {
    if (l.startsWith('-')) pids.delete(Number(l.slice(1)));
    else if (l) pids.add(Number(l));
  }
});
const sig = (pid, s) => { try { process.kill(-pid, s); } catch { try { process.kill(pid, s); } catch {} } };
process.stdin.on('end', () => {
  for (const p of pids) sig(p, 'SIGTERM');
  setTimeout(() => { for (const p of pids) sig(p, 'SIGKILL'); process.exit(0); }, 5000);
});
`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves 'timeout' after ms; the timer never holds jest open and is cleared once the race is won. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((resolve) => (t = setTimeout(() => resolve('timeout'), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** `label` prefixes every message (e.g. `olm-env`); `dir` holds the logs. */
export function hostProcesses(opts: { dir: string; label: string; log: (m: string) => void }): HostProcesses {
  const { dir, label, log } = opts;
  const guard = spawn(process.execPath, ['-e', GUARD], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH ?? '' } });
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void }).unref?.();
  const running: Launched[] = [];
  let stopping = false;
  const expectedExits = new Set<number>();

  const launch = (name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = {}, logName = `${name}.log`): Launched => {
    const logFile = path.join(dir, logName);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(bin, args, { cwd: dir, detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    } finally {
      closeSync(fd);
    }
    const c: HostProcess = { name, pid: child.pid ?? -1, logFile, args };
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        c.exit = signal ? `signal ${signal}` : `exit code ${code}`;
        guard.stdin?.write(`-${c.pid}\n`);
        if (!stopping && !expectedExits.has(c.pid)) log(`${name} (pid ${c.pid}) stopped on its own: ${c.exit}; log ${logFile}`);
        resolve();
      });
      child.once('error', (e) => {
        c.exit = `spawn error: ${e.message}`;
        resolve();
      });
    });
    child.unref();
    if (child.pid) guard.stdin?.write(`${child.pid}\n`);
    const r = { c, child, exited };
    running.push(r);
    return r;
  };

  const stopOne = async (r: Launched) => {
    // Out of the list first: its exit is wanted, not a failure.
    const i = running.indexOf(r);
    if (i >= 0) running.splice(i, 1);
    expectedExits.add(r.c.pid);
    signalGroup(r.c.pid, 'SIGTERM');
    if ((await within(r.exited, 10_000)) === 'timeout') {
      signalGroup(r.c.pid, 'SIGKILL');
      await r.exited;
    }
  };

  const assertRunning = () => {
    const dead = running.filter((r) => r.c.exit !== undefined);
    if (dead.length) throw new Error(dead.map((r) => `${label}: ${r.c.name} exited (${r.c.exit}); last lines of ${r.c.logFile}:\n${tailOf(r.c.logFile, 40)}`).join('\n\n'));
  };

  const logTails = (lines = 25) => running.map((r) => `--- ${r.c.name} (${r.c.logFile}) ---\n${tailOf(r.c.logFile, lines)}`).join('\n');

  const waitReady = async (r: Launched, what: string, ready: () => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (r.c.exit !== undefined) throw new Error(`${label}: ${r.c.name} exited (${r.c.exit}) before ${what}; last lines of ${r.c.logFile}:\n${tailOf(r.c.logFile, 40)}`);
      if (await ready()) return;
      if (Date.now() > deadline) throw new Error(`${label}: ${r.c.name} not ready after ${timeoutMs / 1000}s (waited for ${what}); last lines of ${r.c.logFile}:\n${tailOf(r.c.logFile, 40)}`);
      await sleep(250);
    }
  };

  const logHas = (r: Launched, re: RegExp) => {
    try {
      return re.test(readFileSync(r.c.logFile, 'utf8'));
    } catch {
      return false;
    }
  };

  const stopAll = async () => {
    stopping = true;
    for (const r of running) if (r.c.exit === undefined) signalGroup(r.c.pid, 'SIGTERM');
    const all = Promise.all(running.map((r) => r.exited));
    if ((await within(all, 10_000)) === 'timeout') {
      for (const r of running) if (r.c.exit === undefined) signalGroup(r.c.pid, 'SIGKILL');
      await within(all, 5_000);
    }
    // Nothing is left to guard: closing the pipe lets the guard exit.
    guard.stdin?.destroy();
  };

  return { running, launch, stopOne, assertRunning, logTails, waitReady, logHas, stopAll };
}
