/**
 * No control-plane process may outlive the test run that started it, however
 * that run ends. Each case starts a second, ephemeral cluster from a child
 * process (test/cluster/fixtures/owned-cluster.ts), SIGKILLs that owner and
 * checks that every component goes away.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, resolveBinaries } from '../../testenv/binaries';
import { procAlive as alive, reapStaleClusters, stopCluster } from '../../testenv/cluster';
import { waitFor } from '../../testenv/kube';

interface Owned {
  child: ChildProcess;
  dir: string;
  pids: number[];
}

let root: string;
const owners: ChildProcess[] = [];
// The global setup's binaries (JSON in FLIGHT_BINARIES); resolved here when reusing a cluster.
const binaries = process.env.FLIGHT_BINARIES ? JSON.parse(process.env.FLIGHT_BINARIES) : resolveBinaries();

function startOwned(extraEnv: Record<string, string>): Promise<Owned> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'owned-cluster.ts')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', FLIGHT_CLUSTER_ROOT: root, FLIGHT_TEST_BINARIES: JSON.stringify(binaries), ...extraEnv },
  });
  owners.push(child);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        const info = JSON.parse(line);
        resolve({ child, dir: info.dir, pids: Object.values(info.processes as Record<string, number>) });
      }
    });
    child.on('exit', (code, sig) => reject(new Error(`owner exited (${code ?? sig}) before its cluster was ready:\n${err}`)));
  });
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'flight-lifecycle-'));
});

afterAll(async () => {
  for (const c of owners) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const run = path.join(root, 'run');
  if (existsSync(run)) for (const d of readdirSync(run)) await stopCluster(path.join(run, d), { keepDir: false, graceMs: 1000 });
  rmSync(root, { recursive: true, force: true });
});

describe('no process outlives its owner', () => {
  test('the watchdog stops the cluster when its owner is SIGKILLed', async () => {
    const owned = await startOwned({});
    expect(owned.pids).toHaveLength(6); // 5 components + watchdog
    expect(owned.pids.every(alive)).toBe(true);
    owned.child.kill('SIGKILL');
    await waitFor('every component and the state dir to be gone', () => !owned.pids.some(alive) && !existsSync(owned.dir), {
      timeoutMs: 20_000,
    });
  });

  test('without a watchdog, the next start reaps the orphaned cluster', async () => {
    const owned = await startOwned({ FLIGHT_CLUSTER_WATCHDOG: '0' });
    expect(owned.pids).toHaveLength(5);
    owned.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    expect(owned.pids.every(alive)).toBe(true); // orphaned, still running
    const saved = process.env.FLIGHT_CLUSTER_ROOT;
    process.env.FLIGHT_CLUSTER_ROOT = root;
    try {
      expect(await reapStaleClusters()).toEqual([owned.dir]);
    } finally {
      if (saved === undefined) delete process.env.FLIGHT_CLUSTER_ROOT;
      else process.env.FLIGHT_CLUSTER_ROOT = saved;
    }
    expect(owned.pids.filter(alive)).toEqual([]);
    expect(existsSync(owned.dir)).toBe(false);
  });
});
