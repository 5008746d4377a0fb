/**
 * The generic Informer against a real kube-apiserver, on ConfigMaps: events,
 * managedFields stripping, and recovery from a killed and from a silently
 * dead watch connection (through a TCP proxy we control), without losing
 * changes made while disconnected.
 */
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { KubeClient } from '../../controller/runtime/client';
import { Informer, kubeListerWatcher, type WatchRestartReason } from '../../controller/runtime/informer';
import { createLogger } from '../../controller/runtime/logger';
import { loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { configmaps, eventually, kubeConfigVia } from './helpers';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

type CM = k8s.KubernetesObject & { data?: Record<string, string> };
const ns = useNamespace('rt-informer');
const logger = createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'error' });

let direct: KubeClient;
beforeAll(() => {
  direct = KubeClient.fromKubeConfig(loadKubeConfig());
});

function record(inf: Informer<CM>) {
  const events: string[] = [];
  inf.onAdd((o) => events.push(`add ${o.metadata!.name}`));
  inf.onUpdate((_a, b) => events.push(`update ${b.metadata!.name} ${JSON.stringify(b.data ?? {})}`));
  inf.onDelete((o) => events.push(`delete ${o.metadata!.name}`));
  return events;
}

const create = (name: string, data: Record<string, string>, labels?: Record<string, string>) =>
  direct.create<CM>(configmaps, ns.name, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data });
const setData = (name: string, data: Record<string, string>) => direct.patch(configmaps, ns.name, name, { data }, 'application/merge-patch+json');

describe('Informer on a real apiserver', () => {
  test('sees add, update and delete; caches without managedFields; honours the label selector', async () => {
    const inf = new Informer<CM>({ lw: kubeListerWatcher(direct, configmaps, ns.name), name: 'cm-basic', labelSelector: 'rt=basic', logger });
    const events = record(inf);
    await create('pre', { v: '0' }, { rt: 'basic' });
    inf.start();
    try {
      expect(await inf.waitForSync({ timeoutMs: 10_000 })).toBe(true);
      expect(events).toEqual(['add pre']);
      await create('a', { v: '1' }, { rt: 'basic' });
      await create('other', { v: '1' }, { rt: 'not-this' });
      await eventually('add a', () => events.includes('add a'));
      expect(inf.get(`${ns.name}/a`)!.metadata!.managedFields).toBeUndefined();
      const fromServer = await direct.get<CM>(configmaps, ns.name, 'a');
      expect(fromServer.metadata!.managedFields).toBeDefined(); // the server does send them
      await setData('a', { v: '2' });
      await eventually('update a', () => events.includes('update a {"v":"2"}'));
      await direct.delete(configmaps, ns.name, 'a');
      await eventually('delete a', () => events.includes('delete a'));
      expect(inf.get(`${ns.name}/a`)).toBeUndefined();
      expect(inf.keys()).toEqual([`${ns.name}/pre`]);
      expect(events.some((e) => e.includes('other'))).toBe(false);
    } finally {
      await inf.stop();
    }
  });

  describe('through a TCP proxy', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      const server = new URL(loadKubeConfig().getCurrentCluster()!.server);
      proxy = await startTcpProxy(server.hostname, Number(server.port));
    });
    afterEach(async () => {
      await proxy.close();
    });

    test('survives a killed connection and an apiserver outage without losing changes made meanwhile', async () => {
      const label = { rt: 'killed' };
      await create('k-keep', { v: '1' }, label);
      await create('k-change', { v: '1' }, label);
      await create('k-gone', { v: '1' }, label);
      const viaProxy = KubeClient.fromKubeConfig(kubeConfigVia(loadKubeConfig(), proxy.port));
      const registry = new Registry();
      const reasons: WatchRestartReason[] = [];
      const inf = new Informer<CM>({
        lw: kubeListerWatcher(viaProxy, configmaps, ns.name),
        name: 'cm-killed',
        labelSelector: 'rt=killed',
        backoff: { initialMs: 200, maxMs: 1000 },
        registry,
        logger,
        onWatchRestart: (r) => reasons.push(r),
      });
      const events = record(inf);
      inf.start();
      try {
        await inf.waitForSync({ timeoutMs: 10_000 });
        await eventually('watch connected', () => proxy.connections > 0);

        // The "apiserver" goes away: every connection reset, new ones refused.
        proxy.refuse(true);
        proxy.kill();
        await setData('k-change', { v: '2' });
        await direct.delete(configmaps, ns.name, 'k-gone');
        await create('k-new', { v: '1' }, label);
        await new Promise((r) => setTimeout(r, 1500)); // a few failed reconnects
        expect(inf.get(`${ns.name}/k-gone`)).toBeDefined(); // still the stale view
        proxy.refuse(false);

        await eventually('changes made while disconnected', () =>
          inf.get(`${ns.name}/k-change`)?.data?.v === '2' && !inf.get(`${ns.name}/k-gone`) && !!inf.get(`${ns.name}/k-new`),
        );
        expect(events).toEqual(expect.arrayContaining(['update k-change {"v":"2"}', 'delete k-gone', 'add k-new']));
        expect(reasons).toContain('error');
        expect(await registry.metrics()).toMatch(/informer_watch_restarts_total\{informer="cm-killed",reason="error"\} [1-9]/);

        // And it keeps watching afterwards.
        await setData('k-keep', { v: '3' });
        await eventually('update after recovery', () => inf.get(`${ns.name}/k-keep`)?.data?.v === '3');
      } finally {
        await inf.stop();
      }
    });

    test('a watch that goes silent (connection frozen, not closed) is aborted by the watchdog and relisted', async () => {
      const label = { rt: 'frozen' };
      await create('f-1', { v: '1' }, label);
      const viaProxy = KubeClient.fromKubeConfig(kubeConfigVia(loadKubeConfig(), proxy.port));
      const reasons: WatchRestartReason[] = [];
      const inf = new Informer<CM>({
        lw: kubeListerWatcher(viaProxy, configmaps, ns.name),
        name: 'cm-frozen',
        labelSelector: 'rt=frozen',
        inactivityTimeoutMs: 3000,
        listTimeoutMs: 4000,
        backoff: { initialMs: 200, maxMs: 1000 },
        logger,
        onWatchRestart: (r) => reasons.push(r),
      });
      const events = record(inf);
      inf.start();
      try {
        await inf.waitForSync({ timeoutMs: 10_000 });
        await eventually('watch connected', () => proxy.connections > 0);
        await setData('f-1', { v: 'before' });
        await eventually('update before freeze', () => inf.get(`${ns.name}/f-1`)?.data?.v === 'before');

        proxy.freeze(); // TCP stays up, no bytes flow: only a watchdog can notice
        const t0 = Date.now();
        await setData('f-1', { v: 'during' });
        await direct.delete(configmaps, ns.name, 'f-1');
        await create('f-2', { v: '1' }, label);
        await eventually('changes made while frozen', () => !inf.get(`${ns.name}/f-1`) && !!inf.get(`${ns.name}/f-2`), 20_000);
        const took = Date.now() - t0;
        expect(took).toBeGreaterThanOrEqual(2500); // it really had to wait for the watchdog
        expect(reasons).toContain('stale');
        expect(events).toEqual(expect.arrayContaining(['delete f-1', 'add f-2']));
      } finally {
        await inf.stop();
      }
    });
  });

  test('idle watches: client-node Watch kills them at 30 s; ours get a BOOKMARK about once a minute instead', async () => {
    const kc = loadKubeConfig();
    const list = await direct.list(configmaps, ns.name);
    const query = { resourceVersion: list.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300, labelSelector: 'rt=nothing-ever' };
    const path = `/api/v1/namespaces/${ns.name}/configmaps`;
    const t0 = Date.now();
    // Bookmarks carry the cache's latest RV and are only sent when it moved past
    // the watch's RV: keep writing objects this watch does not select.
    let n = 0;
    const writer = setInterval(() => void create(`noise-${n++}`, { v: '1' }, { rt: 'noise' }).catch(() => {}), 5000);

    // 1. client-node's Watch as is: its private 30 s timer ends a healthy idle watch.
    let plainDone: { at: number; err: unknown } | undefined;
    const plain = await new k8s.Watch(kc).watch(path, query, () => {}, (err) => (plainDone ??= { at: Date.now() - t0, err }));
    // 2. Ours (kubeListerWatcher raises that timer to a 10 min backstop).
    const bookmarks: number[] = [];
    let oursDone = false;
    const abort = await kubeListerWatcher(direct, configmaps, ns.name).watch(
      query,
      (type) => {
        if (type === 'BOOKMARK') bookmarks.push(Date.now() - t0);
      },
      () => (oursDone = true),
    );
    try {
      await eventually('client-node Watch to time out', () => plainDone !== undefined, 45_000);
      expect((plainDone!.err as Error).name).toBe('TimeoutError');
      expect(plainDone!.at).toBeGreaterThanOrEqual(29_000);
      await eventually('first bookmark', () => bookmarks.length > 0, 80_000);
      process.stderr.write(`runtime: client-node Watch ended an idle watch after ${plainDone!.at} ms; our watch got its first BOOKMARK after ${bookmarks[0]} ms\n`);
      expect(bookmarks[0]).toBeLessThan(75_000);
      expect(oursDone).toBe(false);
    } finally {
      clearInterval(writer);
      plain.abort();
      abort();
    }
  }, 110_000);
});
