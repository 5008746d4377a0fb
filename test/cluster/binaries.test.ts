/**
 * Where the control-plane binaries come from (testenv/binaries.ts), and what
 * a start does when a component cannot run: fail with that component's log,
 * leave nothing behind.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Binaries, resolveBinaries } from '../../testenv/binaries';
import { procAlive, startCluster } from '../../testenv/cluster';

const built: Binaries = process.env.FLIGHT_BINARIES ? JSON.parse(process.env.FLIGHT_BINARIES) : resolveBinaries();
const saved = { ...process.env };
let tmp: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'flight-binaries-'));
  delete process.env.FLIGHT_K8S_BIN;
  delete process.env.KUBEBUILDER_ASSETS;
  delete process.env.FLIGHT_NO_BUILD;
});

afterEach(() => {
  for (const k of ['FLIGHT_K8S_BIN', 'KUBEBUILDER_ASSETS', 'FLIGHT_NO_BUILD', 'FLIGHT_CLUSTER_ROOT']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(tmp, { recursive: true, force: true });
});

function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, target] of Object.entries(files)) symlinkSync(target, path.join(dir, f));
  return dir;
}

describe('resolveBinaries', () => {
  test('KUBEBUILDER_ASSETS (etcd, kube-apiserver, kubectl) is used, the rest comes from tools/ensure.sh', () => {
    const assets = folder('assets', { etcd: built.etcd, 'kube-apiserver': built.kubeApiserver, kubectl: built.kubectl });
    process.env.KUBEBUILDER_ASSETS = assets;
    const b = resolveBinaries({ log: () => {} });
    expect(b.etcd).toBe(path.join(assets, 'etcd'));
    expect(b.kubeApiserver).toBe(path.join(assets, 'kube-apiserver'));
    expect(b.sources).toMatchObject({ etcd: 'KUBEBUILDER_ASSETS', 'kube-apiserver': 'KUBEBUILDER_ASSETS', kubectl: 'KUBEBUILDER_ASSETS' });
    expect(b.sources['kube-controller-manager']).toBe('tools/k8s');
    expect(b.sources.kwok).toBe('tools/kwok');
  });

  test('FLIGHT_K8S_BIN wins over KUBEBUILDER_ASSETS; its kwok needs kwok-stages.yaml beside it', () => {
    const own = folder('own', { etcd: built.etcd, kwok: built.kwok });
    process.env.FLIGHT_K8S_BIN = own;
    process.env.KUBEBUILDER_ASSETS = folder('assets', { etcd: built.etcd });
    let b = resolveBinaries({ log: () => {} });
    expect(b.sources.etcd).toBe('FLIGHT_K8S_BIN');
    expect(b.sources.kwok).toBe('tools/kwok'); // no stages next to it: ignored
    symlinkSync(built.kwokStages, path.join(own, 'kwok-stages.yaml'));
    b = resolveBinaries({ log: () => {} });
    expect(b.kwok).toBe(path.join(own, 'kwok'));
    expect(b.kwokStages).toBe(path.join(own, 'kwok-stages.yaml'));
  });

  test('FLIGHT_NO_BUILD=1 with a binary missing fails, naming what and where', () => {
    process.env.KUBEBUILDER_ASSETS = folder('assets', { etcd: built.etcd });
    process.env.FLIGHT_NO_BUILD = '1';
    expect(() => resolveBinaries()).toThrow(/cannot find kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok\. Searched: KUBEBUILDER_ASSETS=/);
  });
});

describe('startCluster with a broken component', () => {
  test('fails with that component and its log, and leaves no process or dir behind', async () => {
    const fake = path.join(tmp, 'kube-scheduler');
    writeFileSync(fake, '#!/bin/sh\necho "scheduler says: boom" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    process.env.FLIGHT_CLUSTER_ROOT = path.join(tmp, 'root');
    let dir = '';
    let pids: number[] = [];
    const err = await startCluster({
      binaries: { ...built, kubeScheduler: fake },
      log: (m) => {
        if (/cluster start failed/.test(m)) {
          const run = path.join(tmp, 'root', 'run');
          const name = readdirSync(run)[0];
          dir = path.join(run, name);
          pids = Object.values(JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8')).processes);
        }
      },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/kube-scheduler stopped during start \(exit code 3\); last lines of .*kube-scheduler\.log:\nscheduler says: boom/);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(procAlive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
