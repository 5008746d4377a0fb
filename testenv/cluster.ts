/**
 * A real Kubernetes control plane on 127.0.0.1 for tests and the local demo:
 * etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one
 * fake Node, so Deployments become Available without a kubelet). Binaries come
 * from testenv/binaries.ts (built from upstream Go modules by tools/ensure.sh,
 * or FLIGHT_K8S_BIN / KUBEBUILDER_ASSETS).
 *
 *   const c = await startCluster();          // ephemeral, watchdog-guarded
 *   ... KUBECONFIG=c.kubeconfigPath ...
 *   await c.restart('kube-apiserver', { signal: 'SIGKILL' });  // one component, same flags/ports/certs
 *   await c.stop();
 *
 * Everything lives in one state dir: pki/, *.kubeconfig, etcd/ data, logs/
 * (one log per component) and cluster.json (ports, pids, binaries). Each
 * component runs detached in its own process group. Three layers make sure
 * nothing outlives its owner:
 *   - stop() / stopCluster(dir): SIGTERM each group, SIGKILL after 5 s;
 *   - an ephemeral cluster's watchdog (testenv/watchdog.ts) stops it as soon
 *     as the owning process dies, however it dies;
 *   - startCluster() first reaps the ephemeral clusters under
 *     <root>/run/ whose owner is dead (in case the watchdog was killed too).
 * Only this module's node:* imports are used, so jest's globalSetup and the
 * CLI load it fast.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Binaries, REPO_ROOT, resolveBinaries } from './binaries';
import { ControlPlaneNetwork, KWOK_NODE_ANNOTATION, POD_CIDR, SERVICE_CIDR, specs } from './components';
import { ensurePki, kubeconfigYaml, KUBERNETES_SERVICE_IP } from './pki';
import { procAlive, procOurs } from './proc';
import { removeNetwork, stopNode } from './real-node/cleanup';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof COMPONENTS)[number];

export { KUBERNETES_SERVICE_IP, KWOK_NODE_ANNOTATION, POD_CIDR, SERVICE_CIDR };
export type { ControlPlaneNetwork };
export const DEFAULT_NODE_NAME = 'kwok-node-0';

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
}

/** What <dir>/cluster.json holds. */
export interface ClusterState {
  version: 1;
  dir: string;
  persistent: boolean;
  /** The process whose death ends an ephemeral cluster (null: runs until `down`). */
  owner: { pid: number; startTime: string } | null;
  server: string;
  kubeconfig: string;
  ports: Ports;
  nodeName: string;
  processes: Partial<Record<Component | 'watchdog', number>>;
  binaries: Binaries;
  startedAt: string;
  /** Seconds from startCluster() to each milestone. */
  timings?: Record<string, number>;
  /** kube-controller-manager's --use-service-account-credentials, so restart() starts it the same way. */
  controllerServiceAccounts?: boolean;
  /** restart() of a component, oldest first: which, when, how, and the old and new pid. */
  /** Set when the control plane runs in a real node's network namespace (testenv/real-node/). */
  network?: ControlPlaneNetwork;
  restarts?: Array<{ component: Component; at: string; signal: 'SIGTERM' | 'SIGKILL'; oldPid?: number; pid: number; downMs: number; readyMs: number }>;
}

export interface StartOptions {
  /** State dir. Default: a fresh ephemeral dir under <root>/run/. */
  dir?: string;
  /** Keep the dir (certs, etcd data) on stop and let the cluster outlive this process. Default: false. */
  persistent?: boolean;
  /** Stop the cluster when this process dies. Default: !persistent. */
  watchdog?: boolean;
  binaries?: Binaries;
  nodeName?: string;
  /**
   * Run each kube-controller-manager controller under its own service account
   * (--use-service-account-credentials, as kubeadm does). Default false, as
   * kwokctl does: then all controllers use the controller-manager's own
   * certificate (system:masters) and the cluster is ready ~4 s sooner on 2
   * busy cores, because the controller-manager no longer creates ~35 service
   * accounts and tokens one after another before it starts any controller.
   * FLIGHT_CLUSTER_CONTROLLER_SA=1 turns it on.
   */
  controllerServiceAccounts?: boolean;
  /**
   * Run the control plane inside this network namespace, advertised at its
   * address, without kwok: for a real node (testenv/real-node/), which
   * creates the namespace first. Default: on the host's 127.0.0.1 with kwok.
   */
  network?: ControlPlaneNetwork;
  /** Give up waiting for readiness after this long. Default 180 s (FLIGHT_CLUSTER_TIMEOUT_MS). */
  timeoutMs?: number;
  log?: (msg: string) => void;
}

export interface Cluster {
  dir: string;
  /** Admin kubeconfig (client cert with O=system:masters). */
  kubeconfigPath: string;
  server: string;
  caFile: string;
  nodeName: string;
  binaries: Binaries;
  state: ClusterState;
  timings: Record<string, number>;
  stop(): Promise<void>;
  /** Stops one component (its process group) and starts it again with the same flags, ports and certs; see restartComponent. */
  restart(component: Component, opts?: RestartOptions): Promise<RestartResult>;
}

/** Root for cluster state: $FLIGHT_CLUSTER_ROOT or ~/.cache/flight-operator. */
export function clusterRoot(): string {
  return process.env.FLIGHT_CLUSTER_ROOT ?? path.join(os.homedir(), '.cache', 'flight-operator');
}

/** State dir of the long-lived `npm run cluster -- up` cluster. */
export function defaultPersistentDir(): string {
  return process.env.FLIGHT_CLUSTER_DIR ?? path.join(clusterRoot(), 'cluster');
}

const runRoot = () => path.join(clusterRoot(), 'run');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- processes -------------------------------------------------------------

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; tells a pid's reuse apart. */
export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export { procAlive } from './proc';

/** Signals pid's process group (a detached child's pgid is its pid), else pid alone; a gone process is no error. */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  if (pid <= 0) return; // -0 would be our own process group
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM every listed process of dir (its whole group), SIGKILL what is left after graceMs. */
export async function killProcesses(dir: string, pids: number[], graceMs = 5000): Promise<void> {
  const live = pids.filter((p) => procOurs(p, dir));
  for (const p of live) signalGroup(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some((p) => procOurs(p, dir)) && Date.now() < deadline) await sleep(50);
  const stubborn = live.filter((p) => procOurs(p, dir));
  for (const p of stubborn) signalGroup(p, 'SIGKILL');
  while (stubborn.some((p) => procOurs(p, dir)) && Date.now() < deadline + 5000) await sleep(50);
}

export function readState(dir: string): ClusterState | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as ClusterState;
  } catch {
    return null;
  }
}

function writeState(state: ClusterState): void {
  const file = path.join(state.dir, 'cluster.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  // rename is atomic: a watchdog or reaper never reads half a file
  renameSync(`${file}.tmp`, file);
}

/** Which of a state's processes still run. */
export function liveProcesses(state: ClusterState): Partial<Record<Component | 'watchdog', number>> {
  const out: Partial<Record<Component | 'watchdog', number>> = {};
  for (const [name, pid] of Object.entries(state.processes)) {
    if (pid && procOurs(pid, state.dir)) out[name as Component] = pid;
  }
  return out;
}

const STOP_ORDER: Component[][] = [
  ['kwok', 'kube-scheduler', 'kube-controller-manager'],
  ['kube-apiserver'],
  ['etcd'],
];

/** Stops the cluster whose state is in dir (any process may call this). Removes dir unless persistent (or keepDir). */
export async function stopCluster(dir: string, opts: { keepDir?: boolean; graceMs?: number } = {}): Promise<void> {
  const state = readState(dir);
  if (state) {
    // This process does the teardown: the watchdog (if any) goes first, at once.
    const { watchdog } = state.processes;
    if (watchdog && procOurs(watchdog, dir)) {
      signalGroup(watchdog, 'SIGKILL');
      await killProcesses(dir, [watchdog], 1000);
    }
    // A real node beside it (testenv/real-node/) goes first: kubelet would
    // only log errors once the apiserver is gone.
    await stopNode(dir);
    // Clients first, then the apiserver, then etcd: an apiserver whose etcd
    // is gone hangs in shutdown until SIGKILL.
    for (const phase of STOP_ORDER) {
      const pids = phase.map((name) => state.processes[name]).filter((p): p is number => !!p);
      await killProcesses(dir, pids, opts.graceMs);
    }
  } else await stopNode(dir);
  // The node's network namespace, which the control plane ran in, last.
  if (existsSync(path.join(dir, 'real-node.json'))) await removeNetwork(dir);
  if (!(opts.keepDir ?? state?.persistent ?? false)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Stops ephemeral clusters under <root>/run/ whose owner process is gone (the
 * test run was killed and so was its watchdog) and removes their dirs.
 * Returns the dirs it reaped.
 */
export async function reapStaleClusters(log: (msg: string) => void = () => {}): Promise<string[]> {
  const root = runRoot();
  if (!existsSync(root)) return [];
  const reaped: string[] = [];
  for (const name of readdirSync(root)) {
    const dir = path.join(root, name);
    const state = readState(dir);
    if (state && !state.owner) continue; // a persistent cluster placed here by hand: only `down` stops it
    if (state?.owner) {
      const ownerAlive = procAlive(state.owner.pid) && procStartTime(state.owner.pid) === state.owner.startTime;
      if (ownerAlive) continue;
    } else {
      // No state yet: a start in progress writes it within milliseconds; leave young dirs alone.
      try {
        if (Date.now() - statSync(dir).mtimeMs < 60_000) continue;
      } catch {
        continue;
      }
    }
    const left = state ? Object.values(liveProcesses(state)).length : 0;
    log(`testenv: reaping stale cluster ${dir} (owner gone, ${left} process(es) left)`);
    await stopCluster(dir, { keepDir: false, graceMs: 2000 });
    reaped.push(dir);
  }
  return reaped;
}

// ---- files -----------------------------------------------------------------

/** n distinct free TCP ports on 127.0.0.1 (all bound at once, then released), none of them in `avoid`. */
export async function freePorts(n: number, avoid: Set<number> = new Set()): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < n) {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(srv);
      const port = (srv.address() as net.AddressInfo).port;
      if (!avoid.has(port)) ports.push(port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
  return ports;
}

/** One free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function choosePorts(previous: Ports | undefined): Promise<Ports> {
  const keys: Array<keyof Ports> = ['etcdClient', 'etcdPeer', 'apiserver', 'controllerManager', 'scheduler'];
  // A restarted persistent cluster keeps its ports when it can: etcd remembers
  // its peer URL and users keep the kubeconfig's server address.
  if (previous && (await Promise.all(keys.map((k) => portFree(previous[k])))).every(Boolean)) return { ...previous };
  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler] = await freePorts(5);
  return { etcdClient: etcdClient!, etcdPeer: etcdPeer!, apiserver: apiserver!, controllerManager: controllerManager!, scheduler: scheduler! };
}


function tail(file: string, lines = 40): string {
  try {
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- API calls (node:https, no client library) ------------------------------

export interface Api {
  request(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string }>;
}

export function apiClient(server: string, pki: string): Api {
  const ca = readFileSync(path.join(pki, 'ca.crt'));
  const cert = readFileSync(path.join(pki, 'admin.crt'));
  const key = readFileSync(path.join(pki, 'admin.key'));
  const url = new URL(server);
  return {
    request(method, urlPath, body) {
      return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request(
          {
            host: url.hostname,
            port: url.port,
            path: urlPath,
            method,
            ca,
            cert,
            key,
            agent: false,
            timeout: 5000,
            headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${urlPath}`)));
        req.on('error', reject);
        req.end(data);
      });
    },
  };
}

// ---- start -----------------------------------------------------------------


function nodeObject(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    status: {
      capacity: { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    },
  };
}

class StartError extends Error {}

/**
 * Starts a control plane and resolves once /readyz is ok, the fake Node is
 * Ready and the `default` ServiceAccount exists in `default`.
 */
export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  try {
    return await startOnce(opts);
  } catch (e) {
    // Free ports are picked, released, then bound by the components: another
    // process may take one in between. Try once more with new ports.
    if (e instanceof StartError && /address already in use/.test(e.message)) {
      (opts.log ?? ((m: string) => process.stderr.write(`${m}\n`)))('testenv: a port was taken meanwhile; starting again with new ports');
      return startOnce(opts);
    }
    throw e;
  }
}

async function startOnce(opts: StartOptions): Promise<Cluster> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string) => (timings[k] = Math.round((Date.now() - t0) / 10) / 100);
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const persistent = opts.persistent ?? false;
  const useWatchdog = opts.watchdog ?? (!persistent && process.env.FLIGHT_CLUSTER_WATCHDOG !== '0');
  const nodeName = opts.nodeName ?? DEFAULT_NODE_NAME;
  const controllerServiceAccounts = opts.controllerServiceAccounts ?? process.env.FLIGHT_CLUSTER_CONTROLLER_SA === '1';
  const timeoutMs = opts.timeoutMs ?? Number(process.env.FLIGHT_CLUSTER_TIMEOUT_MS ?? 180_000);

  await reapStaleClusters(log);
  const binaries = opts.binaries ?? resolveBinaries({ log });
  mark('binaries');

  let dir: string;
  if (opts.dir) {
    dir = path.resolve(opts.dir);
    mkdirSync(dir, { recursive: true });
  } else {
    mkdirSync(runRoot(), { recursive: true });
    dir = mkdtempSync(path.join(runRoot(), 'c-'));
  }
  const previous = readState(dir);
  if (previous) {
    const live = liveProcesses(previous);
    if (Object.keys(live).length) {
      const comps = Object.keys(live).filter((k) => k !== 'watchdog');
      if (comps.length === COMPONENTS.length - (previous.network ? 1 : 0)) {
        throw new StartError(`testenv: a cluster is already running in ${dir} (${Object.values(live).join(' ')}); stop it first`);
      }
      log(`testenv: ${dir} has a half-running cluster (${comps.join(', ') || 'watchdog only'}); stopping it`);
      await stopCluster(dir, { keepDir: true, graceMs: 2000 });
    }
  }
  const logs = path.join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  mkdirSync(path.join(dir, 'kwok-home'), { recursive: true });

  const network = opts.network;
  const pki = ensurePki(dir, network ? [network.address] : []);
  mark('pki');
  const ports = await choosePorts(previous?.ports);
  const server = `https://${network?.address ?? '127.0.0.1'}:${ports.apiserver}`;
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, pki.dir, 'admin'), { mode: 0o600 });
  for (const user of ['kube-controller-manager', 'kube-scheduler', 'kwok']) {
    writeFileSync(path.join(dir, `${user}.kubeconfig`), kubeconfigYaml(server, pki.dir, user), { mode: 0o600 });
  }

  const state: ClusterState = {
    version: 1,
    dir,
    persistent,
    owner: persistent ? null : { pid: process.pid, startTime: procStartTime(process.pid) ?? '' },
    server,
    kubeconfig,
    ports,
    nodeName,
    processes: {},
    binaries,
    startedAt: new Date(t0).toISOString(),
    controllerServiceAccounts,
    ...(network ? { network } : {}),
  };
  writeState(state);

  const children: ChildProcess[] = [];
  let watchdog: ChildProcess | undefined;
  if (useWatchdog) {
    const out = openSync(path.join(logs, 'watchdog.log'), 'a');
    watchdog = spawn(process.execPath, [path.join(__dirname, 'watchdog.ts'), dir], {
      detached: true,
      stdio: ['pipe', out, out],
      // jest sets NODE_OPTIONS (--experimental-vm-modules); the watchdog needs none.
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    closeSync(out);
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
    state.processes.watchdog = watchdog.pid!;
    writeState(state);
  }

  // Any exit before we are done fails the start, with that component's log.
  let failure: Error | undefined;
  const exited = new Map<Component, string>();
  for (const s of specs({ dir, binaries, ports, nodeName, controllerServiceAccounts, network })) {
    const logFile = path.join(logs, `${s.name}.log`);
    const out = openSync(logFile, 'a');
    const child = spawn(s.bin, s.args, { detached: true, stdio: ['ignore', out, out], env: s.env ?? process.env, cwd: dir });
    closeSync(out);
    child.unref();
    child.on('error', (e) => {
      exited.set(s.name, e.message);
      failure ??= new StartError(`testenv: cannot run ${s.name} (${s.bin}): ${e.message}`);
    });
    child.on('exit', (code, sig) => {
      const how = sig ? `signal ${sig}` : `exit code ${code}`;
      exited.set(s.name, how);
      failure ??= new StartError(`testenv: ${s.name} stopped during start (${how}); last lines of ${logFile}:\n${tail(logFile)}`);
    });
    children.push(child);
    if (child.pid) state.processes[s.name] = child.pid;
  }
  writeState(state);
  mark('spawned');

  const api = apiClient(server, pki.dir);
  const deadline = t0 + timeoutMs;
  const waitFor = async (what: string, check: () => Promise<boolean>, logOf: Component): Promise<void> => {
    let lastErr = '';
    for (;;) {
      if (failure) throw failure;
      try {
        if (await check()) return;
      } catch (e) {
        lastErr = (e as Error).message;
      }
      if (Date.now() > deadline) {
        const f = path.join(logs, `${logOf}.log`);
        throw new StartError(
          `testenv: timed out after ${timeoutMs / 1000}s waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}; last lines of ${f}:\n${tail(f)}`,
        );
      }
      await sleep(100);
    }
  };

  const stopAll = async (graceMs?: number) => {
    await stopCluster(dir, { keepDir: persistent, graceMs });
  };

  try {
    await waitFor('kube-apiserver /readyz', async () => (await api.request('GET', '/readyz')).status === 200, 'kube-apiserver');
    mark('readyz');
    // A real node registers itself: testenv/real-node/ waits for it.
    if (!network) await waitFor(
      `Node ${nodeName} to be created`,
      async () => {
        const r = await api.request('POST', '/api/v1/nodes', nodeObject(nodeName));
        if (r.status === 201 || r.status === 409) return true;
        throw new Error(`POST /api/v1/nodes: ${r.status} ${r.body.slice(0, 300)}`);
      },
      'kube-apiserver',
    );
    await Promise.all([
      network ? Promise.resolve() : waitFor(
        `Node ${nodeName} to be Ready with a fresh Lease (kwok)`,
        async () => {
          const r = await api.request('GET', `/api/v1/nodes/${nodeName}`);
          if (r.status !== 200) return false;
          const node = JSON.parse(r.body);
          const ready = (node.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
          if (ready?.status !== 'True') return false;
          // A restarted cluster's Node is Ready from before: the Lease renewed
          // since this start shows that kwok runs now.
          const l = await api.request('GET', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`);
          if (l.status !== 200) return false;
          const renewed = Date.parse(JSON.parse(l.body).spec?.renewTime ?? '');
          return renewed >= t0 - 2000;
        },
        'kwok',
      ).then(() => mark('nodeReady')),
      waitFor(
        'ServiceAccount default/default (kube-controller-manager)',
        async () => (await api.request('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
        'kube-controller-manager',
      ).then(() => mark('defaultServiceAccount')),
    ]);
  } catch (e) {
    log(`testenv: cluster start failed after ${((Date.now() - t0) / 1000).toFixed(1)}s; stopping it`);
    // A half-started apiserver may sit out SIGTERM: do not wait long for it.
    await stopAll(1000);
    throw e;
  }
  mark('ready');
  // From here on an exit is no start failure; status reports it.
  for (const c of children) c.removeAllListeners('exit');
  state.timings = timings;
  writeState(state);

  let stopped: Promise<void> | undefined;
  return {
    dir,
    kubeconfigPath: kubeconfig,
    server,
    caFile: path.join(pki.dir, 'ca.crt'),
    nodeName,
    binaries,
    state,
    timings,
    stop: () => (stopped ??= stopAll()),
    restart: async (component, ropts) => {
      const r = await restartComponent(dir, component, { log, ...ropts });
      state.processes[component] = r.pid;
      return r;
    },
  };
}

// ---- restart one component --------------------------------------------------

export interface RestartOptions {
  /** SIGTERM (default): a graceful stop, SIGKILL after graceMs. SIGKILL: a crash, at once. Either goes to the whole process group. */
  signal?: 'SIGTERM' | 'SIGKILL';
  /** How long SIGTERM may take before SIGKILL. Default 5000, as stop(). */
  graceMs?: number;
  /** How long the component stays down before it starts again. Default 0. */
  downMs?: number;
  /** Give up waiting for it to serve again after this long. Default 120 s. */
  timeoutMs?: number;
  log?: (msg: string) => void;
}

export interface RestartResult {
  component: Component;
  signal: 'SIGTERM' | 'SIGKILL';
  oldPid?: number;
  pid: number;
  /** From the signal to the new process running. */
  downMs: number;
  /** From the signal to serving again: etcd /health, kube-apiserver /readyz; the others: still running 1 s after the start. */
  readyMs: number;
}

const restarting = new Set<string>();

/** The command line of pid, NUL-separated (empty when it is gone). */
function cmdline(pid: number | undefined): string {
  if (!pid) return '';
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** etcd's /health over plain HTTP (the test cluster's etcd has no TLS). */
function etcdHealthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 2000, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(res.statusCode === 200 && /"health"\s*:\s*"true"/.test(text)));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Stops one component of the cluster in dir (SIGTERM or SIGKILL to its
 * process group, as stop() does) and starts it again with the same binary,
 * flags, ports, certs and data dir, appending to the same log; cluster.json
 * gets the new pid at once (so stop(), the watchdog and the reaper find it)
 * and a line in `restarts`. Resolves once it serves again: etcd /health,
 * kube-apiserver /readyz, the others still running 1 s after their start.
 * A new process that exits at once (e.g. its port was taken meanwhile) is
 * started again, up to 3 times. Any process may call this; two restarts of
 * the same component at once from one process are refused.
 */
export async function restartComponent(clusterDir: string, component: Component, opts: RestartOptions = {}): Promise<RestartResult> {
  const dir = path.resolve(clusterDir);
  const state = readState(dir);
  if (!state) throw new Error(`testenv: no cluster state in ${dir}`);
  if (!COMPONENTS.includes(component)) throw new Error(`testenv: unknown component ${component} (one of ${COMPONENTS.join(', ')})`);
  const key = `${dir}\u0000${component}`;
  if (restarting.has(key)) throw new Error(`testenv: ${component} of ${dir} is already being restarted`);
  restarting.add(key);
  try {
    const log = opts.log ?? (() => {});
    const signal = opts.signal ?? 'SIGTERM';
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const sa = state.controllerServiceAccounts ?? cmdline(state.processes['kube-controller-manager']).includes('--use-service-account-credentials=true');
    const spec = specs({ dir, binaries: state.binaries, ports: state.ports, nodeName: state.nodeName, controllerServiceAccounts: sa, network: state.network }).find((s) => s.name === component);
    if (!spec) throw new Error(`testenv: ${component} does not run in the cluster of ${dir}`);
    const logFile = path.join(dir, 'logs', `${component}.log`);
    const oldPid = state.processes[component];
    const t0 = Date.now();
    if (oldPid && procOurs(oldPid, dir)) {
      if (signal === 'SIGKILL') {
        signalGroup(oldPid, 'SIGKILL');
        const deadline = Date.now() + 10_000;
        while (procOurs(oldPid, dir) && Date.now() < deadline) await sleep(20);
      } else {
        await killProcesses(dir, [oldPid], opts.graceMs ?? 5000);
      }
      if (procOurs(oldPid, dir)) throw new Error(`testenv: ${component} (pid ${oldPid}) did not stop`);
    }
    if (opts.downMs) await sleep(opts.downMs);

    const api = component === 'kube-apiserver' ? apiClient(state.server, path.join(dir, 'pki')) : undefined;
    const serving = async (): Promise<boolean> => {
      if (component === 'etcd') return etcdHealthy(state.ports.etcdClient);
      if (api) return (await api.request('GET', '/readyz').catch(() => ({ status: 0 }))).status === 200;
      return true;
    };
    for (let attempt = 1; ; attempt++) {
      writeFileSync(logFile, `\n--- testenv: ${signal === 'SIGKILL' ? 'killed' : 'stopped'} and started again at ${new Date().toISOString()} (restart attempt ${attempt}) ---\n`, { flag: 'a' });
      const out = openSync(logFile, 'a');
      const child = spawn(spec.bin, spec.args, { detached: true, stdio: ['ignore', out, out], env: spec.env ?? process.env, cwd: dir });
      closeSync(out);
      child.unref();
      let exited: string | undefined;
      child.on('error', (e) => (exited ??= e.message));
      child.on('exit', (code, sig) => (exited ??= sig ? `signal ${sig}` : `exit code ${code}`));
      const pid = child.pid;
      if (!pid) {
        await sleep(50);
        throw new Error(`testenv: cannot run ${component} (${spec.bin}): ${exited ?? 'no pid'}`);
      }
      // Recorded at once: stop(), the watchdog and the reaper must find the new process.
      const fresh = readState(dir) ?? state;
      fresh.processes[component] = pid;
      writeState(fresh);
      const downMs = Date.now() - t0;
      const started = Date.now();
      let ok = false;
      while (!exited && Date.now() - t0 < timeoutMs) {
        if (component === 'etcd' || component === 'kube-apiserver' ? await serving() : Date.now() - started >= 1000) {
          ok = true;
          break;
        }
        await sleep(100);
      }
      if (ok && !exited) {
        child.removeAllListeners('exit');
        const result: RestartResult = { component, signal, ...(oldPid ? { oldPid } : {}), pid, downMs, readyMs: Date.now() - t0 };
        const after = readState(dir) ?? fresh;
        after.restarts = [...(after.restarts ?? []), { component, at: new Date(t0).toISOString(), signal, ...(oldPid ? { oldPid } : {}), pid, downMs, readyMs: result.readyMs }];
        writeState(after);
        log(`testenv: ${component} restarted (${signal}, pid ${oldPid ?? '-'} -> ${pid}), serving again after ${result.readyMs} ms`);
        return result;
      }
      if (!exited) {
        signalGroup(pid, 'SIGKILL');
        throw new Error(`testenv: ${component} did not serve again within ${timeoutMs / 1000}s of its restart; last lines of ${logFile}:\n${tail(logFile)}`);
      }
      if (attempt >= 3) throw new Error(`testenv: ${component} stopped right after its restart (${exited}), ${attempt} times; last lines of ${logFile}:\n${tail(logFile)}`);
      log(`testenv: ${component} stopped right after its restart (${exited}); starting it again`);
      await sleep(1000);
    }
  } finally {
    restarting.delete(key);
  }
}

export interface ComponentStatus {
  name: Component | 'watchdog';
  pid?: number;
  running: boolean;
  log: string;
}

/** What `npm run cluster -- status` prints: processes and /readyz of the cluster in dir. */
export async function clusterStatus(dir: string): Promise<{ state: ClusterState | null; components: ComponentStatus[]; readyz?: string }> {
  const state = readState(dir);
  if (!state) return { state: null, components: [] };
  const components: ComponentStatus[] = [...COMPONENTS, 'watchdog' as const]
    .filter((name) => name !== 'watchdog' || state.processes.watchdog)
    .filter((name) => name !== 'kwok' || !state.network)
    .map((name) => {
      const pid = state.processes[name];
      return { name, pid, running: !!pid && procOurs(pid, dir), log: path.join(dir, 'logs', `${name}.log`) };
    });
  let readyz: string | undefined;
  if (components.find((c) => c.name === 'kube-apiserver')?.running) {
    try {
      const r = await apiClient(state.server, path.join(dir, 'pki')).request('GET', '/readyz');
      readyz = r.status === 200 ? 'ok' : `${r.status} ${r.body.trim().split('\n').slice(-3).join(' ')}`;
    } catch (e) {
      readyz = (e as Error).message;
    }
  }
  return { state, components, readyz };
}

/** How to point kubectl at a cluster. */
export function usage(c: { kubeconfigPath: string; binaries: Binaries }): string {
  const kubectl = c.binaries.kubectl || 'kubectl';
  return [
    `  export KUBECONFIG=${c.kubeconfigPath}`,
    `  ${kubectl} get nodes`,
    `  alias kubectl=${kubectl}   # the kubectl built with the control plane`,
    `  export FLIGHT_KUBECONFIG=${c.kubeconfigPath}   # npm run jest -- --selectProjects integration reuses it`,
  ].join('\n');
}

export { REPO_ROOT };
