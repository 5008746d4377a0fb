/**
 * The image build's cache, outside the clone like tools/ensure.sh's:
 * $FLIGHT_IMAGE_CACHE, else ~/.cache/flight-operator/image. Holds downloaded
 * .deb files (checked against their pinned sha256 on every use), their
 * extracted trees, the stripped Node binary and compressed layers. Deleting it
 * only costs time: every entry is rebuilt from pinned inputs to the same bytes.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..');

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLIGHT_IMAGE_CACHE || join(homedir(), '.cache', 'flight-operator', 'image');
}

export function cachePath(...parts: string[]): string {
  return join(cacheRoot(), ...parts);
}

/**
 * Returns `dir`, filling it with `fill(tmpDir)` first if it is not complete.
 * Concurrent builders each fill their own temp dir; the last rename wins and
 * every winner holds the same content.
 */
export function cachedDir(dir: string, fill: (tmp: string) => void): string {
  if (existsSync(join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
    writeFileSync(join(tmp, '.complete'), '');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command; throws with its output when it fails or cannot start. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { what?: string } = {}): RunResult {
  // env explicitly: the child sees this module's process.env (under jest, the test's copy, where tests put fakes on PATH).
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: process.env, ...opts });
  const what = opts.what ?? `${cmd} ${args.join(' ')}`;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${what}: "${cmd}" is not installed` : `${what}: ${r.error.message}`);
  }
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${(stderr || stdout).trim()}`);
  return { stdout, stderr };
}
