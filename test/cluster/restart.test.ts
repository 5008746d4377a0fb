/**
 * restart(component): one process of the control plane stops (SIGKILL or
 * SIGTERM to its process group) and starts again with the same flags, ports,
 * certs and data; cluster.json follows the new pid, the cluster answers again
 * and keeps its data, and stop() leaves no process behind, old or new.
 * A second, ephemeral cluster of its own (watchdog-guarded): restarting the
 * shared one would pull the API server out from under other test files.
 */
import { resolveBinaries } from '../../testenv/binaries';
import { procAlive, readState, startCluster, type Cluster } from '../../testenv/cluster';
import { k8s, waitFor } from '../../testenv/kube';

let cluster: Cluster;
let core: k8s.CoreV1Api;
const seen: number[] = [];
// The global setup's binaries (JSON in FLIGHT_BINARIES); resolved here when reusing a cluster.
const binaries = process.env.FLIGHT_BINARIES ? JSON.parse(process.env.FLIGHT_BINARIES) : resolveBinaries();

beforeAll(async () => {
  cluster = await startCluster({ binaries, log: () => {} });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
  seen.push(...(Object.values(cluster.state.processes) as number[]));
}, 240_000);
afterAll(async () => {
  await cluster?.stop();
});

const configMap = (name: string) => ({ metadata: { name }, data: { at: new Date().toISOString() } });

test('kube-apiserver SIGKILLed and started again: same port and certs, new pid in cluster.json, the data is there', async () => {
  await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('before-apiserver') });
  const old = cluster.state.processes['kube-apiserver']!;

  const r = await cluster.restart('kube-apiserver', { signal: 'SIGKILL' });

  expect(r).toMatchObject({ component: 'kube-apiserver', signal: 'SIGKILL', oldPid: old });
  expect(r.pid).not.toBe(old);
  seen.push(r.pid);
  expect(procAlive(old)).toBe(false);
  expect(readState(cluster.dir)!.processes['kube-apiserver']).toBe(r.pid);
  expect(readState(cluster.dir)!.restarts).toEqual([expect.objectContaining({ component: 'kube-apiserver', oldPid: old, pid: r.pid })]);
  // The same server address and client certificate work: the admin kubeconfig is unchanged.
  expect((await core.readNamespacedConfigMap({ namespace: 'default', name: 'before-apiserver' })).data?.at).toBeDefined();
  await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('after-apiserver') });
}, 180_000);

test('etcd stopped (SIGTERM) and started again: the API server answers again and nothing written before is lost', async () => {
  await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('before-etcd') });
  const old = cluster.state.processes.etcd!;

  const r = await cluster.restart('etcd', { signal: 'SIGTERM', downMs: 1000 });

  expect(r.pid).not.toBe(old);
  seen.push(r.pid);
  expect(r.downMs).toBeGreaterThanOrEqual(1000);
  expect(readState(cluster.dir)!.processes.etcd).toBe(r.pid);
  // The API server reconnects to etcd on its own.
  const got = await waitFor('the API server to read through the new etcd', () => core.readNamespacedConfigMap({ namespace: 'default', name: 'before-etcd' }), {
    timeoutMs: 60_000,
  });
  expect(got.data?.at).toBeDefined();
  await waitFor('a write through the new etcd', () => core.createNamespacedConfigMap({ namespace: 'default', body: configMap('after-etcd') }), { timeoutMs: 60_000 });
  const names = (await core.listNamespacedConfigMap({ namespace: 'default' })).items.map((c) => c.metadata?.name);
  expect(names).toEqual(expect.arrayContaining(['before-apiserver', 'after-apiserver', 'before-etcd', 'after-etcd']));
}, 180_000);

test('kube-apiserver stopped gracefully (SIGTERM) comes back too, and stop() leaves no process of the cluster, old or new', async () => {
  const r = await cluster.restart('kube-apiserver');
  expect(r.signal).toBe('SIGTERM');
  seen.push(r.pid);
  expect((await core.readNamespacedConfigMap({ namespace: 'default', name: 'after-etcd' })).metadata?.name).toBe('after-etcd');

  await cluster.stop();
  expect(seen.filter(procAlive)).toEqual([]);
}, 180_000);
