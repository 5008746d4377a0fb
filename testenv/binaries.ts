/**
 * Finds the control-plane binaries. Order, per binary:
 *   1. $FLIGHT_K8S_BIN  - a folder with any of etcd, kube-apiserver,
 *                         kube-controller-manager, kube-scheduler, kubectl,
 *                         kwok (+ kwok-stages.yaml next to it);
 *   2. $KUBEBUILDER_ASSETS - a setup-envtest folder (etcd, kube-apiserver,
 *                         kubectl; it has no controller-manager or scheduler);
 *   3. tools/ensure.sh k8s / kwok - builds them from upstream Go modules
 *                         (minutes when cold, cached afterwards).
 * FLIGHT_NO_BUILD=1 forbids step 3: a missing binary is then an error naming
 * every place that was searched.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..');

export const K8S_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;
export type K8sBinary = (typeof K8S_BINARIES)[number];

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  /** Stage objects for kwok's --config (copied from sigs.k8s.io/kwok at build time). */
  kwokStages: string;
  /** Where each binary came from, for logs and for the version test. */
  sources: Record<string, string>;
}

export interface ResolveOptions {
  /** Build missing binaries with tools/ensure.sh (default: unless FLIGHT_NO_BUILD=1). */
  build?: boolean;
  /** Only these are required (default: all). */
  need?: Array<K8sBinary | 'kwok'>;
  log?: (msg: string) => void;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs tools/ensure.sh <family> and returns the folder it prints. */
export function ensureFamily(family: 'k8s' | 'kwok' | 'olm' | 'pulumi' | 'etcd' | 'helm', log: (msg: string) => void = defaultLog): string {
  const script = path.join(REPO_ROOT, 'tools', 'ensure.sh');
  if (!existsSync(path.join(REPO_ROOT, 'tools', family, 'build.sh'))) {
    throw new Error(`testenv: tools/${family}/build.sh is missing; cannot build the ${family} binaries`);
  }
  const started = Date.now();
  // stderr goes straight to the terminal: a cold build says so and takes minutes.
  const r = spawnSync('bash', [script, family], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`testenv: tools/ensure.sh ${family} failed (exit ${r.status ?? r.signal}); see its output above`);
  }
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (!dir || !existsSync(dir)) throw new Error(`testenv: tools/ensure.sh ${family} printed no folder (got ${JSON.stringify(r.stdout)})`);
  const secs = (Date.now() - started) / 1000;
  if (secs > 2) log(`testenv: tools/ensure.sh ${family} took ${secs.toFixed(1)}s`);
  return dir;
}

function defaultLog(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

export function resolveBinaries(opts: ResolveOptions = {}): Binaries {
  const log = opts.log ?? defaultLog;
  const build = opts.build ?? process.env.FLIGHT_NO_BUILD !== '1';
  const need = new Set<string>(opts.need ?? [...K8S_BINARIES, 'kwok']);
  const found: Record<string, string> = {};
  const sources: Record<string, string> = {};
  const searched: string[] = [];

  const look = (dir: string | undefined, label: string, names: readonly string[]) => {
    if (!dir) return;
    searched.push(`${label}=${dir}`);
    for (const n of names) {
      const p = path.join(dir, n);
      if (!found[n] && isExecutable(p)) {
        found[n] = p;
        sources[n] = label;
      }
    }
  };

  const envBin = process.env.FLIGHT_K8S_BIN;
  look(envBin, 'FLIGHT_K8S_BIN', [...K8S_BINARIES, 'kwok']);
  look(process.env.KUBEBUILDER_ASSETS, 'KUBEBUILDER_ASSETS', K8S_BINARIES);
  // kwok is only usable with its Stage file next to it.
  if (found.kwok) {
    const stages = path.join(path.dirname(found.kwok), 'kwok-stages.yaml');
    if (existsSync(stages)) found['kwok-stages.yaml'] = stages;
    else {
      log(`testenv: ignoring ${found.kwok}: no kwok-stages.yaml next to it`);
      delete found.kwok;
    }
  }

  const missingK8s = K8S_BINARIES.filter((n) => need.has(n) && !found[n]);
  const missingKwok = need.has('kwok') && !found.kwok;
  if ((missingK8s.length || missingKwok) && !build) {
    const missing = [...missingK8s, ...(missingKwok ? ['kwok'] : [])];
    throw new Error(
      `testenv: cannot find ${missing.join(', ')}. Searched: ${searched.join(', ') || '(no FLIGHT_K8S_BIN / KUBEBUILDER_ASSETS set)'}. ` +
        'Unset FLIGHT_NO_BUILD to build them with tools/ensure.sh, or point FLIGHT_K8S_BIN at a folder holding them.',
    );
  }
  if (missingK8s.length) {
    const dir = ensureFamily('k8s', log);
    searched.push(`tools/ensure.sh k8s=${dir}`);
    for (const n of missingK8s) {
      const p = path.join(dir, n);
      if (!isExecutable(p)) throw new Error(`testenv: tools/ensure.sh k8s built no ${n} in ${dir}`);
      found[n] = p;
      sources[n] = 'tools/k8s';
    }
  }
  if (missingKwok) {
    const dir = ensureFamily('kwok', log);
    const p = path.join(dir, 'kwok');
    const stages = path.join(dir, 'kwok-stages.yaml');
    if (!isExecutable(p) || !existsSync(stages)) throw new Error(`testenv: tools/ensure.sh kwok built no kwok + kwok-stages.yaml in ${dir}`);
    found.kwok = p;
    found['kwok-stages.yaml'] = stages;
    sources.kwok = 'tools/kwok';
  }
  const get = (n: string) => found[n] ?? '';
  return {
    etcd: get('etcd'),
    kubeApiserver: get('kube-apiserver'),
    kubeControllerManager: get('kube-controller-manager'),
    kubeScheduler: get('kube-scheduler'),
    kubectl: get('kubectl'),
    kwok: get('kwok'),
    kwokStages: get('kwok-stages.yaml'),
    sources,
  };
}

/** The k8s.io/kubernetes version pinned in tools/k8s/go.mod (what tools/ensure.sh k8s builds). */
export function pinnedKubernetesVersion(): string {
  const gomod = readFileSync(path.join(REPO_ROOT, 'tools', 'k8s', 'go.mod'), 'utf8');
  const m = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(gomod);
  if (!m) throw new Error('testenv: tools/k8s/go.mod pins no k8s.io/kubernetes version');
  return m[1]!;
}

/** `<binary> --version` output's version ("Kubernetes v1.36.3" -> "v1.36.3", "etcd Version: 3.6.8" -> "3.6.8"). */
export function binaryVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const m = /v?\d+\.\d+\.\d+[^\s,)]*/.exec(out);
  if (!m) throw new Error(`testenv: ${bin} --version printed no version: ${out.trim()}`);
  return m[0];
}
