/**
 * Helpers for the real-node tests: the node's registry, crictl, and what the
 * kernel says about a container's process. The node itself comes from the
 * project's global setup (testenv/real-node/jest-global-setup.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';
import { skopeoCopy } from '../../testenv/real-node/pause-image';

export function nodeEnv(name: 'FLIGHT_NODE_REGISTRY' | 'FLIGHT_NODE_BIN' | 'FLIGHT_NODE_STATE' | 'FLIGHT_NODE_NAME'): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests with \`npm run jest -- --selectProjects real-node\` (its global setup starts the node)`);
  return v;
}

/** crictl against the node's containerd; stdout. */
export function crictl(args: string[]): string {
  const sock = path.join(nodeEnv('FLIGHT_NODE_STATE'), 'containerd', 'containerd.sock');
  const r = spawnSync(path.join(nodeEnv('FLIGHT_NODE_BIN'), 'crictl'), ['--runtime-endpoint', `unix://${sock}`, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`crictl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A file of the tree that `npm run synth` / `npm run image` writes; a clear failure when missing. */
export function distFile(rel: string, how: string): string {
  const f = path.join(REPO_ROOT, rel);
  if (!existsSync(f)) throw new Error(`${rel} is missing: run \`${how}\` first`);
  return f;
}

/** Digest of the one manifest in an OCI layout written by `npm run image`. */
export function layoutDigest(dir: string): string {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  return index.manifests[0]!.digest;
}

/** Pushes an OCI layout into the node's registry as <repo>:<tag>; resolves with the seconds it took. */
export function pushLayout(dir: string, repo: string, tag: string): number {
  const t0 = Date.now();
  skopeoCopy(`oci:${dir}`, `docker://${nodeEnv('FLIGHT_NODE_REGISTRY')}/${repo}:${tag}`);
  return (Date.now() - t0) / 1000;
}

/** HTTP status of a manifest (by digest) in the node's registry. */
export function registryHasManifest(repo: string, digest: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `http://${nodeEnv('FLIGHT_NODE_REGISTRY')}/v2/${repo}/manifests/${digest}`,
      { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** What /proc/<pid>/status says about a process's identity and confinement. */
export interface ProcSecurity {
  uids: number[];
  gids: number[];
  capEff: string;
  noNewPrivs: string;
  seccomp: string;
  /** Mount options of the process's root (/) as its own mount namespace sees it. */
  rootOptions: string[];
}

export function procSecurity(pid: number): ProcSecurity {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => status.match(new RegExp(`^${k}:\\s*(.*)$`, 'm'))?.[1]?.trim() ?? '';
  const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4] === '/')
    .pop();
  return {
    uids: field('Uid').split(/\s+/).map(Number),
    gids: field('Gid').split(/\s+/).map(Number),
    capEff: field('CapEff'),
    noNewPrivs: field('NoNewPrivs'),
    seccomp: field('Seccomp'),
    rootOptions: (root?.[5] ?? '').split(','),
  };
}
