/**
 * Tears a real node down to nothing, whatever state it was left in: a
 * finished test, a failed start, or an owner that was SIGKILLed (then the
 * watchdog or the next start's reaper runs this). Everything it needs is in
 * <cluster dir>/real-node.json, written before anything is created.
 *
 * Two phases, around the control plane's own stop (which runs inside the
 * node's network namespace too):
 *   stopNode(dir)      kubelet, the pods (crictl rmp), containerd, the other
 *                      node daemons, every process left in a kubepods
 *                      cgroup, the kubepods cgroups, every mount under the
 *                      state dir, host paths the node created, and the
 *                      host sysctls kubelet rewrites, written back;
 *   removeNetwork(dir) every process still in the namespace, the veth and
 *                      the namespace.
 *
 * Only node:* imports, ../proc.ts (node:* only; named with its extension,
 * as native ES modules need) and erasable TypeScript: testenv/watchdog.ts
 * runs it directly with Node's type stripping
 * (test/real-node/cleanup-script.test.ts loads it that way):
 *     node testenv/real-node/cleanup.ts <stop|network|all> <cluster dir>
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { procAlive, procOurs } from '../proc.ts';

/** The network namespace of the node: one per machine (see docs/real-node.md). */
export const NETNS = 'flight-node';
/** Host end of the veth pair and its address (a /30 of our own). */
export const HOST_VETH = 'flight-h0';
export const HOST_IP = '10.250.0.1';
/** The node's end (inside the namespace) and the node address. */
export const NODE_VETH = 'eth0';
export const NODE_IP = '10.250.0.2';
export const VETH_PREFIX = 30;
/** Host-global sysctls kubelet writes once at start (kernel/vm are not per network namespace). */
export const KUBELET_SYSCTLS = ['kernel.panic', 'kernel.panic_on_oops', 'vm.overcommit_memory'];
/**
 * Host paths kubelet, containerd, the CNI plugins or skopeo use whatever the
 * configured root and state dirs are. Removed at teardown only if the start
 * found them absent.
 */
export const HOST_PATHS = ['/run/flight-node', '/var/lib/kubelet/device-plugins', '/var/lib/kubelet', '/var/log/containers', '/var/log/pods', '/var/lib/cni', '/var/lib/containers', '/run/containerd'];
/** containerd's shim socket dir must be at most 42 characters long: a short host path, ours, removed at teardown. */
export const SHIM_SOCKET_DIR = '/run/flight-node/s';
/** Name of the cgroup kubelet puts pods under (cgroupfs driver, cgroupRoot /). */
export const KUBEPODS = 'kubepods';

/** What <cluster dir>/real-node.json holds. */
export interface NodeRecord {
  version: 1;
  netns: string;
  hostVeth: string;
  /** Holds containerd's root/state, kubelet's root, logs, configs. */
  stateDir: string;
  /** Values before kubelet started; written back at teardown. */
  sysctls: Record<string, string>;
  /** HOST_PATHS that did not exist before the start (so ours to remove). */
  createdHostPaths: string[];
  /** Daemons by name; every one was started by us with the state dir on its command line. */
  processes: Record<string, number>;
  crictl?: string;
  containerdSocket?: string;
}

export function recordFile(dir: string): string {
  return path.join(dir, 'real-node.json');
}

export function readRecord(dir: string): NodeRecord | null {
  try {
    return JSON.parse(readFileSync(recordFile(dir), 'utf8')) as NodeRecord;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

async function stopPids(pids: number[], graceMs: number, isOurs: (pid: number) => boolean): Promise<void> {
  const live = pids.filter(isOurs);
  for (const p of live) kill(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some(isOurs) && Date.now() < deadline) await sleep(50);
  for (const p of live.filter(isOurs)) kill(p, 'SIGKILL');
  while (live.some(isOurs) && Date.now() < deadline + 5000) await sleep(50);
}

/** /sys/fs/cgroup/<controller>/kubepods for each mounted hierarchy (v1: one per controller; v2: one). */
export function kubepodsCgroups(): string[] {
  const out: string[] = [];
  const root = '/sys/fs/cgroup';
  const candidates = [path.join(root, KUBEPODS)];
  try {
    for (const c of readdirSync(root)) candidates.push(path.join(root, c, KUBEPODS));
  } catch {
    /* no cgroupfs */
  }
  for (const c of candidates) {
    try {
      if (statSync(c).isDirectory()) out.push(c);
    } catch {
      /* absent */
    }
  }
  return [...new Set(out)];
}

/** Every directory under dir, deepest first (dir last). */
function dirsDeepestFirst(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(path.join(d, e));
    out.push(d);
  };
  walk(dir);
  return out;
}

function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Kills every process in the kubepods cgroups (only pods live there), then removes the cgroups. */
export async function removeKubepods(log: (m: string) => void): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const roots = kubepodsCgroups();
    if (!roots.length) return;
    const pids = new Set<number>();
    for (const r of roots) for (const d of dirsDeepestFirst(r)) for (const p of cgroupPids(d)) pids.add(p);
    if (pids.size) {
      log(`killing ${pids.size} process(es) left in ${KUBEPODS} cgroups`);
      for (const p of pids) kill(p, 'SIGKILL');
      const deadline = Date.now() + 5000;
      while ([...pids].some(procAlive) && Date.now() < deadline) await sleep(50);
    }
    for (const r of roots) {
      for (const d of dirsDeepestFirst(r)) {
        try {
          rmdirSync(d);
        } catch {
          /* busy: next round */
        }
      }
    }
    if (!kubepodsCgroups().length) return;
    await sleep(500);
  }
  const left = kubepodsCgroups();
  if (left.length) log(`could not remove ${left.join(', ')}`);
}

/** Mount points at or under prefix, deepest first (from this mount namespace's mountinfo). */
export function mountsUnder(prefix: string): string[] {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const points = info
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4] ?? ''))
    .filter((m) => m === prefix || m.startsWith(`${prefix}/`));
  return [...new Set(points)].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

/** Unmounts everything under prefix, deepest first; a mount stacked several times is unmounted until gone. */
export function unmountAll(prefix: string, log: (m: string) => void): void {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(prefix);
    if (!points.length) return;
    for (const m of points) {
      const r = spawnSync('umount', [m], { encoding: 'utf8' });
      if (r.status !== 0) spawnSync('umount', ['-l', m]);
    }
  }
  const left = mountsUnder(prefix);
  if (left.length) log(`mounts left under ${prefix}: ${left.join(' ')}`);
}

function writeSysctl(name: string, value: string): void {
  writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, `${value}\n`);
}

export function readSysctl(name: string): string {
  return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
}

/** Writes back the sysctls kubelet changed (no-op where they are as saved). */
export function restoreSysctls(rec: NodeRecord, log: (m: string) => void): void {
  for (const [k, v] of Object.entries(rec.sysctls)) {
    try {
      if (readSysctl(k) !== v) {
        writeSysctl(k, v);
        log(`restored ${k}=${v}`);
      }
    } catch (e) {
      log(`cannot restore ${k}: ${(e as Error).message}`);
    }
  }
}

/** Stops the node's daemons and pods and removes what they left on the host. Safe to call again. */
export async function stopNode(dir: string, log: (m: string) => void = () => {}): Promise<void> {
  const rec = readRecord(dir);
  if (!rec) return;
  const isOurs = (p: number) => procOurs(p, rec.stateDir);
  const procs = rec.processes;
  // kubelet first, so it does not restart what we remove next.
  if (procs.kubelet) await stopPids([procs.kubelet], 3000, isOurs);
  // Pods through the runtime while containerd still runs: their mounts,
  // network namespaces and IP leases go the regular way.
  if (procs.containerd && isOurs(procs.containerd) && rec.crictl && rec.containerdSocket) {
    spawnSync(rec.crictl, ['--runtime-endpoint', `unix://${rec.containerdSocket}`, '--timeout', '5s', 'rmp', '-fa'], { stdio: 'ignore', timeout: 20_000 });
  }
  const rest = Object.entries(procs)
    .filter(([name]) => name !== 'kubelet')
    .map(([, pid]) => pid);
  await stopPids(rest, 3000, isOurs);
  // Shims (their command line names the state dir too) and containers.
  const strays = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => p !== process.pid && isOurs(p));
  if (strays.length) {
    log(`stopping ${strays.length} leftover process(es) of ${rec.stateDir}`);
    await stopPids(strays, 2000, isOurs);
  }
  await removeKubepods(log);
  unmountAll(rec.stateDir, log);
  for (const p of rec.createdHostPaths) {
    unmountAll(p, log);
    rmSync(p, { recursive: true, force: true });
  }
  restoreSysctls(rec, log);
}

/** Inode of a network namespace file (/run/netns/X or /proc/PID/ns/net). */
function nsInode(file: string): number | null {
  try {
    return statSync(file).ino;
  } catch {
    return null;
  }
}

/** Pids whose network namespace is the named one. */
export function pidsInNetns(name: string): number[] {
  const ino = nsInode(`/run/netns/${name}`);
  if (ino === null) return [];
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => p !== process.pid && procAlive(p) && nsInode(`/proc/${p}/ns/net`) === ino);
}

/**
 * Deletes the node's network: kills whatever still runs inside (everything
 * there was started by the run; `ip netns del` with a process inside only
 * drops the name), then the veth and the namespace.
 */
export async function removeNetwork(dir: string | null, log: (m: string) => void = () => {}): Promise<void> {
  const rec = dir ? readRecord(dir) : null;
  const name = rec?.netns ?? NETNS;
  const hostVeth = rec?.hostVeth ?? HOST_VETH;
  if (existsSync(`/run/netns/${name}`)) {
    const pids = pidsInNetns(name);
    if (pids.length) {
      log(`killing ${pids.length} process(es) still in netns ${name}`);
      await stopPids(pids, 2000, (p) => pids.includes(p) && procAlive(p));
    }
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  }
  // Deleting the namespace deletes its veth end and so the pair; this covers a half-made pair.
  if (existsSync(`/sys/class/net/${hostVeth}`)) spawnSync('ip', ['link', 'del', hostVeth], { stdio: 'ignore' });
  if (dir) rmSync(recordFile(dir), { force: true });
}

/** What is left of a node on this machine (empty when clean). */
export function leftovers(stateDir?: string): string[] {
  const out: string[] = [];
  if (existsSync(`/run/netns/${NETNS}`)) out.push(`netns ${NETNS}`);
  if (existsSync(`/sys/class/net/${HOST_VETH}`)) out.push(`link ${HOST_VETH}`);
  for (const c of kubepodsCgroups()) out.push(`cgroup ${c}`);
  const mounts = execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' })
    .split('\n')
    .filter((m) => /kubelet|containerd|flight-node/.test(m) || (stateDir && m.startsWith(stateDir)));
  for (const m of mounts) out.push(`mount ${m}`);
  return out;
}

async function main(): Promise<void> {
  const [phase, dir] = process.argv.slice(2);
  if (!phase || !dir || !path.isAbsolute(dir)) {
    process.stderr.write('usage: node testenv/real-node/cleanup.ts <stop|network|all> <absolute cluster dir>\n');
    process.exit(2);
  }
  const log = (m: string) => process.stdout.write(`${new Date().toISOString()} real-node cleanup: ${m}\n`);
  if (phase === 'stop' || phase === 'all') await stopNode(dir, log);
  if (phase === 'network' || phase === 'all') await removeNetwork(dir, log);
}

// Run as a script (by the watchdog; Node parses this file as an ES module then), not when imported.
if (/real-node[/\\]cleanup\.ts$/.test(process.argv[1] ?? '')) void main();
