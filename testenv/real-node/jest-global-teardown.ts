/** Jest globalTeardown of the `real-node` project: tears the node and its control plane down, and says what was left. */
import { leftovers } from './cleanup';
import type { RealNode } from './node';

export default async function globalTeardown(): Promise<void> {
  const node = (globalThis as Record<string, unknown>).__flightRealNode as RealNode | undefined;
  if (!node) return;
  const t0 = Date.now();
  await node.teardown();
  const left = leftovers(node.stateDir);
  process.stderr.write(`testenv: real node torn down in ${((Date.now() - t0) / 1000).toFixed(1)}s${left.length ? `; LEFT BEHIND: ${left.join(', ')}` : ''}\n`);
  if (left.length) throw new Error(`real node teardown left ${left.join(', ')}`);
}
