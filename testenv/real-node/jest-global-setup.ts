/**
 * Jest globalSetup of the `real-node` project: one control plane with one
 * real node per jest run, shared by the project's files. Exports, under names
 * of its own (the `integration` project's setup runs in the same process and
 * reads FLIGHT_KUBECONFIG):
 *   FLIGHT_NODE_KUBECONFIG, FLIGHT_NODE_KUBECTL  admin kubeconfig, kubectl
 *   FLIGHT_NODE_REGISTRY                         host:port of the node's registry
 *   FLIGHT_NODE_BIN, FLIGHT_NODE_STATE           node binaries, node state dir
 *   FLIGHT_NODE_NAME, FLIGHT_NODE_TIMINGS        Node name, start timings (JSON)
 * jest-env.ts maps the first two onto FLIGHT_KUBECONFIG/FLIGHT_KUBECTL for
 * this project's files, so testenv/kube.ts works unchanged. A missing
 * component fails the run here, with the reason; nothing is skipped.
 */
import { startRealNode } from './node';

const log = (m: string) => process.stderr.write(`${m}\n`);

export default async function globalSetup(): Promise<void> {
  const node = await startRealNode({ log });
  (globalThis as Record<string, unknown>).__flightRealNode = node;
  process.env.FLIGHT_NODE_KUBECONFIG = node.cluster.kubeconfigPath;
  process.env.FLIGHT_NODE_KUBECTL = node.cluster.binaries.kubectl;
  process.env.FLIGHT_NODE_REGISTRY = node.registry;
  process.env.FLIGHT_NODE_BIN = node.bin;
  process.env.FLIGHT_NODE_STATE = node.stateDir;
  process.env.FLIGHT_NODE_NAME = node.name;
  process.env.FLIGHT_NODE_TIMINGS = JSON.stringify(node.timings);
  log(`\ntestenv: real node ${node.name} Ready in ${node.timings.ready}s (control plane ${node.timings.controlPlane}s, node Ready ${node.timings.nodeReady}s); registry ${node.registry}; state ${node.cluster.dir}`);
}
