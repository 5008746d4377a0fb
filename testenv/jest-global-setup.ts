/**
 * Jest globalSetup of the `integration` project: one control plane per jest
 * run, or the one FLIGHT_KUBECONFIG names (e.g. from `npm run cluster -- up`).
 * Test files read what it exports through process.env:
 *   FLIGHT_KUBECONFIG         admin kubeconfig
 *   FLIGHT_KUBECTL            kubectl binary
 *   FLIGHT_BINARIES           JSON of all resolved binaries (testenv/binaries.ts Binaries)
 *   FLIGHT_EXPECT_K8S_VERSION version the API server must report
 *   FLIGHT_K8S_SOURCE         where kube-apiserver came from (tools/k8s, FLIGHT_K8S_BIN, ...)
 * A missing component fails the whole run here, with the reason: no test is
 * skipped for it.
 */
import { existsSync } from 'node:fs';
import { binaryVersion, pinnedKubernetesVersion, resolveBinaries } from './binaries';
import { startCluster, usage } from './cluster';

const log = (m: string) => process.stderr.write(`${m}\n`);

export default async function globalSetup(): Promise<void> {
  const reuse = process.env.FLIGHT_KUBECONFIG;
  if (reuse) {
    if (!existsSync(reuse)) throw new Error(`testenv: FLIGHT_KUBECONFIG=${reuse} does not exist`);
    if (!process.env.FLIGHT_KUBECTL) process.env.FLIGHT_KUBECTL = resolveBinaries({ need: ['kubectl'], log }).kubectl;
    process.env.FLIGHT_EXPECT_K8S_VERSION ??= pinnedKubernetesVersion();
    process.env.FLIGHT_K8S_SOURCE ??= 'FLIGHT_KUBECONFIG';
    log(`testenv: using the cluster of FLIGHT_KUBECONFIG=${reuse}`);
    return;
  }
  const cluster = await startCluster({ log });
  (globalThis as Record<string, unknown>).__flightCluster = cluster;
  process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
  process.env.FLIGHT_KUBECTL = cluster.binaries.kubectl;
  process.env.FLIGHT_BINARIES = JSON.stringify(cluster.binaries);
  process.env.FLIGHT_K8S_SOURCE = cluster.binaries.sources['kube-apiserver'] ?? 'unknown';
  process.env.FLIGHT_EXPECT_K8S_VERSION = binaryVersion(cluster.binaries.kubeApiserver);
  log(`\ntestenv: control plane ready in ${cluster.timings.ready}s at ${cluster.server} (state ${cluster.dir})\n${usage(cluster)}`);
}
