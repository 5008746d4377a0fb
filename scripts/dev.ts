/**
 * `npm run dev`: the local story in one command. Brings up (or reuses) the
 * local control plane, applies the CRD, starts the booking service on
 * 127.0.0.1:8090 with a token in ~/.cache/flight-operator/dev, and runs the
 * controller in the foreground against both. Ctrl-C stops the service and the
 * controller; `npm run cluster -- down` stops the cluster.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { spawnBookingService } from '../booking-service/child';
import { CrdChart } from '../infra/charts/crd-chart';
import { clusterStatus, defaultPersistentDir, startCluster, usage } from '../testenv/cluster';
import { spawnSync, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

async function main(): Promise<void> {
  const dir = defaultPersistentDir();
  const status = await clusterStatus(dir);
  const running = status.state && status.components.filter((c) => c.name !== 'watchdog').every((c) => c.running);
  const state = running ? status.state! : (await startCluster({ dir, persistent: true, watchdog: false })).state;
  const kubeconfig = state.kubeconfig;
  const kubectl = state.binaries.kubectl;

  const crd = stringify(Testing.synth(new CrdChart(Testing.app(), 'crd'))[0]);
  const apply = spawnSync(kubectl, ['apply', '--server-side', '-f', '-'], { input: crd, env: { ...process.env, KUBECONFIG: kubeconfig }, encoding: 'utf8' });
  if (apply.status !== 0) throw new Error(`applying the CRD failed: ${apply.stderr}`);

  const devDir = join(homedir(), '.cache', 'flight-operator', 'dev');
  mkdirSync(devDir, { recursive: true });
  const tokenFile = join(devDir, 'booking-token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, `dev-${Math.random().toString(36).slice(2)}\n`, { mode: 0o600 });
  const booking = await spawnBookingService({ dataDir: join(devDir, 'bookings'), tokenFile, port: 8090, onLog: (l) => process.stdout.write(`[booking] ${l}\n`) });

  process.stdout.write(
    [
      '',
      `booking service: ${booking.url} (token in ${tokenFile}, data in ${join(devDir, 'bookings')})`,
      usage({ kubeconfigPath: kubeconfig, binaries: state.binaries }),
      '',
      'Try, in another terminal:',
      `  export KUBECONFIG=${kubeconfig}`,
      `  ${kubectl} apply -f dist/example-ticket.k8s.yaml     # after npm run synth`,
      `  ${kubectl} get ft`,
      `  ${kubectl} patch ft my-flight-ticket --type=merge -p '{"spec":{"number":3}}'`,
      `  ${kubectl} delete ft my-flight-ticket`,
      '',
    ].join('\n'),
  );

  const loader = pathToFileURL(join(__dirname, '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const controller = spawn(
    process.execPath,
    ['--import', loader, join(__dirname, '..', 'controller', 'main.ts'), `--booking-api-url=${booking.url}`, `--booking-api-token-file=${tokenFile}`, '--metrics-bind-address=127.0.0.1:8080', '--health-probe-bind-address=127.0.0.1:8081'],
    { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig, NODE_OPTIONS: '' } },
  );
  const stop = async () => {
    controller.kill('SIGTERM');
    await new Promise((r) => controller.once('exit', r));
    await booking.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`npm run dev: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
