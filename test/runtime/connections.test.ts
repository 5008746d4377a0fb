/**
 * One KubeClient shared by an informer, a leader elector and writers, as in
 * the controller. The API server ends every watch after `timeoutSeconds`
 * (minutes in production, 1 s here): a normal end must cost nothing but a
 * re-watch. No lease renewal, write or long request in flight on the shared
 * connection pool may be aborted by it.
 */
import * as k8s from '@kubernetes/client-node';
import { KubeClient } from '../../controller/runtime/client';
import { Informer, kubeListerWatcher, type WatchRestartReason } from '../../controller/runtime/informer';
import { LeaderElector } from '../../controller/runtime/leader-election';
import { createLogger } from '../../controller/runtime/logger';
import { loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { configmaps, eventually } from './helpers';

type CM = k8s.KubernetesObject & { data?: Record<string, string> };
const ns = useNamespace('rt-connections');

test('many short watch cycles with renewals, writes and long requests in flight abort none of them', async () => {
  const client = KubeClient.fromKubeConfig(loadKubeConfig());
  const warnings: string[] = [];
  const logger = createLogger({ level: 'warn', sink: (line) => void warnings.push(line) });
  for (let i = 0; i < 4; i++) await client.create(configmaps, ns.name, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `w-${i}` }, data: { n: '0' } });

  // GIVEN an informer whose watches the server ends every second
  const restarts: WatchRestartReason[] = [];
  const informer = new Informer<CM>({
    lw: kubeListerWatcher(client, configmaps, ns.name),
    name: 'cm-short-watches',
    watchTimeoutSeconds: 1,
    backoff: { initialMs: 10, maxMs: 50 },
    logger,
    onWatchRestart: (r) => restarts.push(r),
  });
  informer.start();
  await informer.waitForSync({ timeoutMs: 10_000 });
  // AND a leader renewing its lease every 200 ms on the same client
  let lost = 0;
  const elector = new LeaderElector({
    client,
    namespace: ns.name,
    name: 'connections',
    identity: 'me',
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 200,
    logger,
    onStartedLeading: () => {},
    onStoppedLeading: () => void lost++,
  });
  void elector.run();
  await eventually('leading', () => elector.isLeader());

  // WHEN writers and long requests (a 2 s watch read in one go) keep the pool busy for 12 s
  const failures: string[] = [];
  let writes = 0;
  let longs = 0;
  const until = Date.now() + 12_000;
  const writer = async (i: number) => {
    for (let n = 1; Date.now() < until; n++) {
      try {
        await client.patch(configmaps, ns.name, `w-${i}`, { data: { n: String(n) } }, 'application/merge-patch+json');
        writes++;
      } catch (err) {
        failures.push(`write: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`);
      }
    }
  };
  const long = async () => {
    while (Date.now() < until) {
      try {
        await client.request({ method: 'GET', path: `/api/v1/namespaces/${ns.name}/configmaps`, query: { watch: true, timeoutSeconds: 2 } });
        longs++;
      } catch (err) {
        failures.push(`long request: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`);
      }
    }
  };
  try {
    await Promise.all([writer(0), writer(1), writer(2), writer(3), long(), long()]);
  } finally {
    await elector.stop();
    await informer.stop();
  }

  // THEN the watches really ended and restarted many times, and nothing else noticed
  const closed = restarts.filter((r) => r === 'closed').length;
  const renewFailures = warnings.filter((l) => l.includes('lease acquire/renew failed'));
  process.stdout.write(
    `connections: ${closed} normal watch ends; ${writes} writes and ${longs} long requests completed; failed: ${failures.length} requests, ${renewFailures.length} renewals; lost leadership ${lost}x\n`,
  );
  expect(closed).toBeGreaterThanOrEqual(8);
  expect(failures).toEqual([]);
  expect(renewFailures).toEqual([]);
  expect(lost).toBe(1); // only from our own stop()
}, 60_000);
