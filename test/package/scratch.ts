/**
 * The package as a user meets it: `npm pack` of this repo, then projects of
 * their own in temporary folders that install the tarball (and its peers from
 * the npm registry, through the npm cache) with no path into this repo.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * The environment of a user's shell: none of the npm_* variables `npm run jest`
 * sets, and not this repo's node_modules/.bin on PATH (its Node 24, its tools).
 */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') env[k] = v;
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => d && !d.startsWith(REPO_ROOT) && !d.includes(`${path.sep}node_modules${path.sep}`))
    .join(path.delimiter);
  return { ...env, ...extra };
}

export function run(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 600_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** Like run, but throws with the output when the command fails. */
export async function ok(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  const r = await run(command, args, opts);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${opts.cwd}) exited ${r.code} after ${r.seconds}s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

export interface Packed {
  tarball: string;
  /** Bytes of the .tgz, and of its files unpacked. */
  size: number;
  unpackedSize: number;
  files: string[];
  seconds: number;
}

/** `npm pack` of the repo (its prepack runs `npm run build`) into `dir`. */
export async function pack(dir: string): Promise<Packed> {
  // The repo's own tooling (Node 24, tsx) builds it, as a maintainer publishing it would.
  const r = await ok('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, env: { ...userEnv(), PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}${path.delimiter}${userEnv().PATH}` } });
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
  return { tarball: path.join(dir, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path), seconds: r.seconds };
}

/** A user's project: its own package.json and files, nothing else. */
export function scratchProject(dir: string, pkg: Record<string, unknown>, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ private: true, ...pkg }, null, 2)}\n`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** `npm install` as a user runs it; --prefer-offline takes what the npm cache has without asking the registry again. */
export function npmInstall(dir: string, env = userEnv()): Promise<Run> {
  return ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: dir, env, timeoutMs: 900_000 });
}
