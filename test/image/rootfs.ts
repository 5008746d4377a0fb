/**
 * Runs an OCI image without a container engine, the way a runtime would, for
 * tests: the layers are unpacked in order into a root filesystem, which is
 * then mounted read-only (readOnlyRootFilesystem, as the Deployment asks) in a
 * private mount namespace with /proc, a tmpfs /tmp, a minimal /dev, and the
 * host's /etc/hosts and /etc/resolv.conf bound in; the entrypoint runs there
 * under chroot as the image's User. The network is the host's, so 127.0.0.1
 * reaches the test API server and the booking service.
 *
 * Needs root (chroot, unshare, mount) and GNU tar.
 */
import { stopGracefully } from '../support/child-process';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('test/image: running an image with chroot needs root');
  for (const tool of ['unshare', 'chroot', 'mount', 'tar']) {
    if (spawnSync(tool, ['--version']).error) throw new Error(`test/image: ${tool} is not installed`);
  }
}

/** Unpacks uncompressed layer tars, in order, into `rootfs` (owners and modes as recorded). */
export function unpackLayers(layers: Buffer[], rootfs: string): void {
  mkdirSync(rootfs, { recursive: true });
  layers.forEach((tar, i) => {
    const file = join(rootfs, `..layer${i}.tar`);
    writeFileSync(file, tar);
    const r = spawnSync('tar', ['-x', '-p', '--same-owner', '--numeric-owner', '-f', file, '-C', rootfs], { encoding: 'utf8' });
    spawnSync('rm', ['-f', file]);
    if (r.status !== 0) throw new Error(`tar -x layer ${i}: ${r.stderr}`);
  });
}

export interface RunOptions {
  rootfs: string;
  /** The image config's "config" object (User, Env, Entrypoint, Cmd, WorkingDir). */
  config: { User?: string; Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string };
  args?: string[];
  env?: Record<string, string>;
  onLine?: (line: string) => void;
  /** Mount an empty tmpfs on /tmp, as the controller's Deployment does with an emptyDir (default true). */
  tmpfs?: boolean;
}

export interface Running {
  child: ChildProcess;
  logs: string[];
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts the image's entrypoint (+ args, replacing Cmd) in the prepared rootfs. */
export function runImage(opts: RunOptions): Running {
  const { rootfs, config } = opts;
  // Mount points a runtime would provide (the image has none of these).
  for (const d of ['proc', 'dev', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
  for (const f of ['etc/hosts', 'etc/resolv.conf']) if (!existsSync(join(rootfs, f))) writeFileSync(join(rootfs, f), '');
  const argv = [...(config.Entrypoint ?? []), ...(opts.args ?? config.Cmd ?? [])];
  if (!argv.length) throw new Error('image has no Entrypoint or Cmd');
  const env: Record<string, string> = Object.fromEntries((config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  Object.assign(env, opts.env);
  // The wrapper runs on the host with the host's PATH; only the entrypoint gets
  // the image's environment (env -i), as a runtime would give it.
  const hostTool = (t: string) => {
    const r = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`test/image: ${t} not found`);
    return r.stdout.trim();
  };
  const script = [
    'set -e',
    'R=$1; shift',
    'mount --bind "$R" "$R"',
    'mount -o remount,bind,ro "$R"',
    'mount -t proc proc "$R/proc"',
    ...(opts.tmpfs ?? true ? ['mount -t tmpfs -o mode=1777,size=64m tmpfs "$R/tmp"'] : ['mount --bind "$R/tmp" "$R/tmp"', 'mount -o remount,bind,rw "$R/tmp"']),
    'mount -t tmpfs -o mode=755,size=1m tmpfs "$R/dev"',
    'for d in null zero random urandom; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done',
    'mount --bind /etc/hosts "$R/etc/hosts"',
    'mount --bind /etc/resolv.conf "$R/etc/resolv.conf"',
    'exec "$@"',
  ].join('\n');
  const exec = [
    hostTool('env'), '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    hostTool('chroot'), ...(config.User ? [`--userspec=${config.User}`] : []), rootfs,
    ...argv,
  ];
  // unshare without --fork: the shell, env, chroot and the entrypoint are one process,
  // so signals reach the entrypoint directly. The mounts vanish with it.
  const child = spawn(hostTool('unshare'), ['--mount', '--propagation', 'private', 'sh', '-c', script, 'run-image', rootfs, ...exec], {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const take = (s: NodeJS.ReadableStream) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      buf += c;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        if (logs.length > 2000) logs.shift();
        opts.onLine?.(line);
      }
    });
  };
  take(child.stdout!);
  take(child.stderr!);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    logs,
    stop: (graceMs = 10_000) => stopGracefully(child, exited, graceMs),
  };
}
