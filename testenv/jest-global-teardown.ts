/** Jest globalTeardown of the `integration` project: stops the control plane globalSetup started. */
import type { Cluster } from './cluster';

export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as Record<string, unknown>).__flightCluster as Cluster | undefined;
  if (!cluster) return;
  const t0 = Date.now();
  await cluster.stop();
  process.stderr.write(`testenv: control plane stopped in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
}
