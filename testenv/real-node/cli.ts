/**
 * npm run real-node -- up | once | leftovers
 *
 *   up         start the control plane with one real node beside it and keep
 *              them until Ctrl-C (or SIGTERM); then tear everything down
 *   once       start, print the timings, tear down, print the teardown time
 *              and what is left (nothing, or exit 1): the warm start measure
 *   leftovers  list what a node left on this machine (netns, veth, kubepods
 *              cgroups, mounts); exit 1 if anything
 */
import { leftovers } from './cleanup';
import { startRealNode } from './node';

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'up':
    case 'once': {
      const node = await startRealNode();
      console.log(`real node ${node.name} Ready; timings (s from start): ${JSON.stringify(node.timings)}`);
      console.log(`  export KUBECONFIG=${node.cluster.kubeconfigPath}\n  kubectl: ${node.cluster.binaries.kubectl}\n  registry: ${node.registry}\n  crictl: ${node.bin}/crictl --runtime-endpoint unix://${node.stateDir}/containerd/containerd.sock`);
      if (cmd === 'up') {
        // A pending promise alone does not keep Node running: the timer does.
        const keepAlive = setInterval(() => {}, 60_000);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        clearInterval(keepAlive);
      }
      const t0 = Date.now();
      await node.teardown();
      const left = leftovers(node.stateDir);
      console.log(`torn down in ${((Date.now() - t0) / 1000).toFixed(1)}s; left: ${left.length ? left.join(', ') : 'nothing'}`);
      return left.length ? 1 : 0;
    }
    case 'leftovers': {
      const left = leftovers();
      console.log(left.length ? left.join('\n') : 'nothing');
      return left.length ? 1 : 0;
    }
    default:
      console.error('usage: npm run real-node -- up | once | leftovers');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(e.message);
    process.exit(1);
  },
);
