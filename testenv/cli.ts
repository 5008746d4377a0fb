/**
 * npm run cluster -- up|down|status|env|logs [component]
 *
 *   up      start the local control plane in the background (state dir:
 *           $FLIGHT_CLUSTER_DIR or ~/.cache/flight-operator/cluster); a
 *           second `up` while it runs only reports it
 *   down    stop it (add --purge to delete certs and etcd data too)
 *   status  which components run, /readyz, where the logs are; exit 1 if not running
 *   env     print `export KUBECONFIG=... FLIGHT_KUBECONFIG=...` for eval
 *   logs    print the tail of every component log (or of one)
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { clusterStatus, COMPONENTS, defaultPersistentDir, readState, startCluster, stopCluster, usage } from './cluster';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const dir = defaultPersistentDir();
  switch (cmd) {
    case 'up': {
      const st = await clusterStatus(dir);
      if (st.state && st.components.filter((c) => c.name !== 'watchdog').every((c) => c.running)) {
        console.log(`cluster already running in ${dir} (readyz: ${st.readyz})\n${usage({ kubeconfigPath: st.state.kubeconfig, binaries: st.state.binaries })}`);
        return 0;
      }
      const c = await startCluster({ dir, persistent: true, watchdog: false });
      const t = c.timings;
      console.log(
        `cluster up in ${t.ready}s (apiserver ready ${t.readyz}s, node ready ${t.nodeReady}s, default SA ${t.defaultServiceAccount}s)\n` +
          `  server     ${c.server}\n  state dir  ${c.dir}\n  logs       ${path.join(c.dir, 'logs')}\n\n` +
          `${usage(c)}\n\nStop it with: npm run cluster -- down`,
      );
      return 0;
    }
    case 'down': {
      const purge = rest.includes('--purge');
      if (!existsSync(dir)) {
        console.log(`no cluster in ${dir}`);
        return 0;
      }
      await stopCluster(dir, { keepDir: true });
      if (purge) rmSync(dir, { recursive: true, force: true });
      console.log(purge ? `cluster stopped; removed ${dir}` : `cluster stopped (state kept in ${dir}; --purge removes it)`);
      return 0;
    }
    case 'status': {
      const st = await clusterStatus(dir);
      if (!st.state) {
        console.log(`no cluster in ${dir} (start one with: npm run cluster -- up)`);
        return 1;
      }
      console.log(`state dir  ${dir}\nserver     ${st.state.server}\nkubeconfig ${st.state.kubeconfig}\nreadyz     ${st.readyz ?? 'apiserver not running'}`);
      for (const c of st.components) console.log(`  ${c.name.padEnd(24)} ${c.running ? `running (pid ${c.pid})` : 'stopped'}  ${c.log}`);
      return st.components.every((c) => c.running) && st.readyz === 'ok' ? 0 : 1;
    }
    case 'env': {
      const st = readState(dir);
      if (!st) {
        console.error(`no cluster in ${dir} (start one with: npm run cluster -- up)`);
        return 1;
      }
      console.log(`export KUBECONFIG=${st.kubeconfig}\nexport FLIGHT_KUBECONFIG=${st.kubeconfig}\nexport PATH=${path.dirname(st.binaries.kubectl)}:$PATH`);
      return 0;
    }
    case 'logs': {
      const which = rest[0] ? [rest[0]] : [...COMPONENTS];
      for (const name of which) {
        const f = path.join(dir, 'logs', `${name}.log`);
        const text = existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n').slice(-30).join('\n') : '(no log)';
        console.log(`==> ${f} <==\n${text}\n`);
      }
      return 0;
    }
    default:
      console.error('usage: npm run cluster -- up | down [--purge] | status | env | logs [component]');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(e.message);
    process.exit(1);
  },
);
