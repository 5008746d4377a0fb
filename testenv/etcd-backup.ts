/**
 * Backup and restore of a test control plane's etcd, the way a cluster
 * administrator does it: `etcdctl snapshot save` against the running etcd,
 * then `etcdutl snapshot restore` into the data dir of a new control plane
 * (startCluster({ dir }) starts etcd on the data it finds there).
 * etcdctl and etcdutl come from tools/etcd (go.etcd.io/etcd v3.6.8, the
 * version tools/k8s builds the server from).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureFamily } from './binaries';
import type { Cluster } from './cluster';

const run = promisify(execFile);

function tool(name: 'etcdctl' | 'etcdutl'): string {
  return path.join(process.env.FLIGHT_ETCD_BIN ?? ensureFamily('etcd'), name);
}

/** `etcdctl snapshot save <file>` against the cluster's running etcd. */
export async function snapshotEtcd(cluster: Cluster, file: string): Promise<void> {
  const endpoint = `http://127.0.0.1:${cluster.state.ports.etcdClient}`;
  await run(tool('etcdctl'), [`--endpoints=${endpoint}`, 'snapshot', 'save', file], { timeout: 120_000 });
  if (!existsSync(file)) throw new Error(`testenv: etcdctl wrote no snapshot to ${file}`);
}

/**
 * `etcdutl snapshot restore` into <dir>/etcd, the data dir startCluster({ dir })
 * gives etcd. The member name is the one testenv's etcd runs as; the peer URL
 * recorded for it does not matter for a one-member cluster. The revision is
 * bumped and marked compacted, as the Kubernetes docs advise for a restore:
 * a client that remembers a resourceVersion from before the snapshot then
 * gets 410 Gone and relists, instead of watching from a revision that now
 * means something else.
 */
export async function restoreEtcd(file: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'etcd');
  if (existsSync(dataDir)) throw new Error(`testenv: ${dataDir} exists; restore needs an empty place`);
  await run(
    tool('etcdutl'),
    ['snapshot', 'restore', file, `--data-dir=${dataDir}`, '--name=default', '--bump-revision=1000000000', '--mark-compacted'],
    { timeout: 120_000 },
  );
}
