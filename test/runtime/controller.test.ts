/**
 * All the pieces composed into a tiny controller over ConfigMaps, against a
 * real apiserver: informer -> enqueueOnChange -> Controller -> reconcile that
 * adds a finalizer, copies data.v into an annotation, records an Event, and
 * releases the finalizer on deletion; leader election decides which of two
 * "replicas" works; probes/metrics are served; shutdown drains in order.
 */
import { EventEmitter } from 'node:events';
import * as k8s from '@kubernetes/client-node';
import {
  Controller,
  EventRecorder,
  Informer,
  KubeClient,
  LeaderElector,
  PatchType,
  ProbeServer,
  createLogger,
  createRegistry,
  enqueueOnChange,
  ensureFinalizer,
  installShutdown,
  isBeingDeleted,
  kubeListerWatcher,
  removeFinalizer,
  splitKey,
} from '../../controller/runtime';
import { loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { configmaps, eventually } from './helpers';

type CM = k8s.V1ConfigMap & k8s.KubernetesObject;
const ns = useNamespace('rt-controller');
const FIN = 'example.com/echo';
const logger = createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'error' });

/** One "replica": its own client, informer, controller, elector and probe server. */
function replica(identity: string, reconciled: string[]) {
  const registry = createRegistry();
  const client = KubeClient.fromKubeConfig(loadKubeConfig(), { registry });
  const log = logger.child({ replica: identity });
  const informer = new Informer<CM>({ lw: kubeListerWatcher(client, configmaps, ns.name), name: 'configmaps', labelSelector: 'rt=e2e', registry, logger: log });
  const events = new EventRecorder({ client, component: 'echo-controller', instance: identity, logger: log });
  const controller = new Controller({
    name: 'echo',
    concurrency: 2,
    registry,
    logger: log,
    reconcile: async (key) => {
      reconciled.push(`${identity}:${key}`);
      const obj = informer.get(key);
      if (!obj) return; // gone: nothing external to clean up
      if (isBeingDeleted(obj)) {
        await removeFinalizer(client, configmaps, obj, FIN);
        return;
      }
      const withFin = (await ensureFinalizer(client, configmaps, obj, FIN)) ?? obj;
      const want = obj.data?.v ?? '';
      if (withFin.metadata?.annotations?.echo !== want) {
        const { namespace, name } = splitKey(key);
        await client.patch(configmaps, namespace, name, { metadata: { annotations: { echo: want } } }, PatchType.MergePatch);
        events.normal(withFin, 'Echoed', `echo=${want}`);
      }
    },
  });
  enqueueOnChange(informer, (k) => controller.enqueue(k));
  const probes = new ProbeServer({ healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', registry, logger: log });
  probes.addReadyCheck('informer', () => informer.hasSynced());
  const state = { leading: false, lost: false };
  const elector = new LeaderElector({
    client,
    namespace: ns.name,
    name: 'echo-leader',
    identity,
    leaseDurationMs: 4000,
    renewDeadlineMs: 3000,
    retryPeriodMs: 500,
    registry,
    logger: log,
    onStartedLeading: async () => {
      state.leading = true;
      await informer.waitForSync();
      controller.start();
    },
    onStoppedLeading: () => {
      state.leading = false;
    },
  });
  const source = new EventEmitter();
  const exits: number[] = [];
  const shutdown = installShutdown({
    source,
    exit: (c) => exits.push(c),
    steps: [
      { name: 'controller', run: () => controller.stop({ timeoutMs: 10_000 }) },
      { name: 'leader-election', run: () => elector.stop() },
      { name: 'informer', run: () => informer.stop() },
      { name: 'events', run: () => events.flush() },
      { name: 'probes', run: () => probes.stop() },
    ],
  });
  return {
    identity,
    registry,
    informer,
    elector,
    state,
    exits,
    async start() {
      informer.start();
      const addrs = await probes.start();
      void elector.run();
      return addrs;
    },
    sigterm: () => source.emit('SIGTERM'),
    dispose: () => shutdown.dispose(),
  };
}

test('two replicas: only the leader reconciles; SIGTERM drains and hands over; deletion waits for the finalizer', async () => {
  const client = KubeClient.fromKubeConfig(loadKubeConfig());
  const reconciled: string[] = [];
  const a = replica('a', reconciled);
  const b = replica('b', reconciled);
  const addrA = await a.start();
  await eventually('a leads', () => a.state.leading);
  await b.start();
  try {
    // Readiness follows the informer, on both replicas; metrics are served.
    await eventually('a ready', async () => (await fetch(`http://127.0.0.1:${addrA.health!.port}/readyz`)).status === 200);
    await client.create(configmaps, ns.name, { metadata: { name: 'one', labels: { rt: 'e2e' } }, data: { v: 'hello' } });
    await eventually('echo annotation', async () => (await client.get<CM>(configmaps, ns.name, 'one')).metadata?.annotations?.echo === 'hello');
    const one = await client.get<CM>(configmaps, ns.name, 'one');
    expect(one.metadata!.finalizers).toEqual([FIN]);
    expect(reconciled.every((r) => r.startsWith('a:'))).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${addrA.metrics!.port}/metrics`)).text();
    expect(metrics).toMatch(/controller_runtime_reconcile_total\{controller="echo",result="success"\} [1-9]/);
    expect(metrics).toMatch(/leader_election_master_status\{name="echo-leader"\} 1/);
    expect(metrics).toMatch(/rest_client_requests_total\{code="200",method="PATCH"/);
    expect(metrics).toMatch(/workqueue_adds_total\{name="echo"\} [1-9]/);
    expect(metrics).toMatch(/process_cpu_user_seconds_total/);

    // Our own annotation write does not loop: it changes metadata only once.
    const settled = reconciled.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(reconciled.length).toBeLessThanOrEqual(settled + 1);

    // SIGTERM on a: it drains, releases, b takes over promptly and keeps working.
    a.sigterm();
    await eventually('a exits 0', () => a.exits.length === 1);
    expect(a.exits).toEqual([0]);
    await eventually('b leads', () => b.state.leading, 5000);
    await client.patch(configmaps, ns.name, 'one', { data: { v: 'again' } }, PatchType.MergePatch);
    await eventually('b echoes', async () => (await client.get<CM>(configmaps, ns.name, 'one')).metadata?.annotations?.echo === 'again');
    expect(reconciled.some((r) => r.startsWith('b:'))).toBe(true);

    // Deletion is held by the finalizer until the controller releases it.
    await client.delete(configmaps, ns.name, 'one');
    await eventually('object gone', async () => (await client.get(configmaps, ns.name, 'one').catch((e) => e)).code === 404);
    const evs = await client.list<k8s.CoreV1Event>({ group: '', version: 'v1', plural: 'events' }, ns.name, { fieldSelector: 'involvedObject.name=one' });
    expect(evs.items.map((e) => `${e.source?.host}:${e.reason}`).sort()).toEqual(['a:Echoed', 'b:Echoed']);
  } finally {
    a.dispose();
    b.sigterm();
    await eventually('b exits', () => b.exits.length === 1);
    b.dispose();
  }
}, 60_000);
