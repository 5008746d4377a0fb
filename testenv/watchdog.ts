/**
 * Parent-death watchdog for a test control plane. Linux has no portable
 * "kill my children when I die" for Node (no prctl(PR_SET_PDEATHSIG)), and the
 * components run detached in their own sessions so a Ctrl-C or a killed
 * process group does not half-kill them. So startCluster() spawns this
 * process, detached as well, with a pipe on its stdin whose write end only
 * the owner holds. When the owner exits for any reason - normal exit, crash,
 * SIGKILL, OOM kill - the kernel closes that end and we read EOF: then we stop
 * every component listed in <dir>/cluster.json and remove <dir> if the
 * cluster was ephemeral. A real node beside it (<dir>/real-node.json) is torn
 * down too, by testenv/real-node/cleanup.ts: its daemons, pods, mounts,
 * cgroups, host paths and sysctls before the control plane, its network
 * namespace after.
 *
 * Run directly by Node's built-in TypeScript type stripping (no tsx, no
 * loader, quick to start), so it must stay self-contained and use only
 * erasable TypeScript syntax:
 *     node testenv/watchdog.ts <cluster-dir>
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir || !path.isAbsolute(dir)) {
  process.stderr.write('usage: node testenv/watchdog.ts <absolute cluster dir>\n');
  process.exit(2);
}

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} watchdog[${process.pid}]: ${msg}\n`);
}

/** True while pid runs (not a zombie) and its command line mentions dir. */
function ours(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir as string);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // its process group (spawned detached: pgid == pid)
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tearingDown = false;
async function teardown(reason: string): Promise<void> {
  if (tearingDown) return;
  tearingDown = true;
  const stateFile = path.join(dir as string, 'cluster.json');
  let processes: Record<string, number> = {};
  let persistent = false;
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    processes = state.processes ?? {};
    persistent = state.persistent === true;
  } catch (e) {
    log(`cannot read ${stateFile}: ${(e as Error).message}`);
  }
  const realNode = existsSync(path.join(dir as string, 'real-node.json'));
  const cleanup = (phase: string) => {
    log(`${reason}: real node cleanup (${phase})`);
    const r = spawnSync(process.execPath, ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', path.join(path.dirname(process.argv[1] as string), 'real-node', 'cleanup.ts'), phase, dir as string], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 120_000 });
    if (r.status !== 0) log(`real node cleanup (${phase}) exited ${r.status ?? r.signal}`);
  };
  if (realNode) cleanup('stop');
  // Clients first, then the apiserver, then etcd (an apiserver without its
  // etcd hangs in shutdown).
  for (const phase of [['kwok', 'kube-scheduler', 'kube-controller-manager'], ['kube-apiserver'], ['etcd']]) {
    const pids = phase.map((name) => processes[name]).filter((pid): pid is number => !!pid && ours(pid));
    if (!pids.length) continue;
    log(`${reason}: stopping ${phase.join(', ')} (${pids.join(' ')})`);
    for (const pid of pids) signal(pid, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (pids.some(ours) && Date.now() < deadline) await sleep(50);
    for (const pid of pids.filter(ours)) {
      log(`pid ${pid} ignored SIGTERM for 5s: SIGKILL`);
      signal(pid, 'SIGKILL');
    }
    while (pids.some(ours) && Date.now() < deadline + 5000) await sleep(50);
  }
  if (realNode) cleanup('network');
  if (!persistent && existsSync(dir as string)) rmSync(dir as string, { recursive: true, force: true });
  log('done');
  process.exit(0);
}

process.stdin.on('data', () => {
  /* the owner never writes; reading keeps the pipe drained */
});
process.stdin.on('end', () => void teardown('owner gone (stdin closed)'));
process.stdin.on('close', () => void teardown('owner gone (stdin closed)'));
process.stdin.on('error', () => void teardown('owner gone (stdin error)'));
process.on('SIGTERM', () => void teardown('SIGTERM'));
process.on('SIGINT', () => void teardown('SIGINT'));
process.on('SIGHUP', () => void teardown('SIGHUP'));
log(`watching ${dir} for owner ${process.ppid}`);
