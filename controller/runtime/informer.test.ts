import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { KubeClient } from './client';
import { Informer, kubeListerWatcher, objectKey, splitKey, stripManagedFields, type ListerWatcher, type WatchEventType, type WatchOptions } from './informer';
import { createLogger } from './logger';

type CM = k8s.KubernetesObject & { data?: Record<string, string> };
const cm = (name: string, rv: string, extra: Partial<CM> = {}): CM => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv, managedFields: [{ manager: 'x' }] as any },
  ...extra,
});

const waitFor = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout waiting for condition');
    await new Promise((r) => setTimeout(r, 2));
  }
};

/** Scripted ListerWatcher: tests set the list result and drive the current watch. */
class ScriptedLW implements ListerWatcher<CM> {
  items: CM[] = [];
  rv = '1';
  lists = 0;
  listError?: Error;
  hangLists = 0;
  watches: WatchOptions[] = [];
  current?: { emit: (t: WatchEventType, o: any) => void; end: (err?: unknown) => void; aborted: boolean };
  async list(opts: { signal?: AbortSignal } = {}) {
    this.lists++;
    if (this.listError) throw this.listError;
    if (this.hangLists > 0) {
      this.hangLists--;
      // like a request on a dead keep-alive connection: only the signal ends it
      await new Promise((_r, reject) => opts.signal?.addEventListener('abort', () => reject(opts.signal!.reason)));
    }
    return { items: structuredClone(this.items), resourceVersion: this.rv };
  }
  async watch(opts: WatchOptions, onEvent: (t: WatchEventType, o: any) => void, onDone: (err?: unknown) => void) {
    this.watches.push(opts);
    const w = { emit: onEvent, end: onDone, aborted: false };
    this.current = w;
    return () => void (w.aborted = true);
  }
}

function setup(lw: ScriptedLW, extra: Partial<ConstructorParameters<typeof Informer<CM>>[0]> = {}) {
  const registry = new Registry();
  const inf = new Informer<CM>({ lw, name: 'cms', registry, backoff: { initialMs: 5, maxMs: 20 }, logger: createLogger({ sink: () => {} }), ...extra });
  const events: string[] = [];
  inf.onAdd((o) => events.push(`add ${o.metadata!.name}@${o.metadata!.resourceVersion}`));
  inf.onUpdate((a, b) => events.push(`update ${a.metadata!.name}@${a.metadata!.resourceVersion}->${b.metadata!.resourceVersion}`));
  inf.onDelete((o) => events.push(`delete ${o.metadata!.name}`));
  return { inf, events, registry };
}

describe('keys', () => {
  it('objectKey / splitKey', () => {
    expect(objectKey(cm('a', '1'))).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'node1' } })).toBe('node1');
    expect(splitKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(splitKey('node1')).toEqual({ name: 'node1' });
  });
  it('stripManagedFields does not mutate the input', () => {
    const o = cm('a', '1');
    const s = stripManagedFields(o);
    expect(s.metadata!.managedFields).toBeUndefined();
    expect(o.metadata!.managedFields).toBeDefined();
  });
});

describe('Informer', () => {
  it('lists, syncs, then watches from the list RV with bookmarks and a timeout; strips managedFields', async () => {
    const lw = new ScriptedLW();
    lw.items = [cm('a', '5')];
    lw.rv = '7';
    const { inf, events } = setup(lw);
    inf.start();
    expect(await inf.waitForSync({ timeoutMs: 1000 })).toBe(true);
    expect(inf.hasSynced()).toBe(true);
    expect(events).toEqual(['add a@5']);
    expect(inf.get('ns/a')!.metadata!.managedFields).toBeUndefined();
    await waitFor(() => lw.watches.length === 1);
    expect(lw.watches[0]).toMatchObject({ resourceVersion: '7', allowWatchBookmarks: true });
    expect(lw.watches[0].timeoutSeconds).toBeGreaterThanOrEqual(300);
    expect(lw.watches[0].timeoutSeconds).toBeLessThan(600);
    await inf.stop();
    expect(lw.current!.aborted).toBe(true);
  });

  it('applies watch events to the cache and tracks bookmarks', async () => {
    const lw = new ScriptedLW();
    const { inf, events } = setup(lw);
    inf.start();
    await waitFor(() => lw.watches.length === 1);
    lw.current!.emit('ADDED', cm('a', '2'));
    lw.current!.emit('MODIFIED', cm('a', '3'));
    lw.current!.emit('MODIFIED', cm('a', '3')); // same RV: no update
    lw.current!.emit('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '9' } });
    expect(inf.lastResourceVersion()).toBe('9');
    lw.current!.emit('DELETED', cm('a', '10'));
    expect(events).toEqual(['add a@2', 'update a@2->3', 'delete a']);
    expect(inf.list()).toEqual([]);
    // clean close -> re-watch from the last RV, no relist
    lw.current!.end();
    await waitFor(() => lw.watches.length === 2);
    expect(lw.watches[1].resourceVersion).toBe('10');
    expect(lw.lists).toBe(1);
    await inf.stop();
  });

  it('on 410 (event or error) relists and emits deletes for objects that vanished', async () => {
    const lw = new ScriptedLW();
    lw.items = [cm('a', '1'), cm('b', '1'), cm('c', '1')];
    const { inf, events, registry } = setup(lw);
    inf.start();
    await waitFor(() => lw.watches.length === 1);
    // while "disconnected": b deleted, c changed, d created
    lw.items = [cm('a', '1'), cm('c', '4'), cm('d', '5')];
    lw.rv = '6';
    lw.current!.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    await waitFor(() => lw.watches.length === 2);
    expect(lw.lists).toBe(2);
    expect(events.slice(3).sort()).toEqual(['add d@5', 'delete b', 'update c@1->4']);
    expect(lw.watches[1].resourceVersion).toBe('6');
    // 410 as an HTTP error on the watch request
    lw.current!.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await waitFor(() => lw.watches.length === 3);
    expect(lw.lists).toBe(3);
    expect(await registry.metrics()).toMatch(/informer_watch_restarts_total\{informer="cms",reason="gone"\} 2/);
    await inf.stop();
  });

  it('never stops on errors: list errors and watch errors are retried with backoff', async () => {
    const lw = new ScriptedLW();
    lw.listError = new Error('connection refused');
    const { inf, registry } = setup(lw);
    inf.start();
    await waitFor(() => lw.lists >= 3);
    expect(inf.hasSynced()).toBe(false);
    lw.listError = undefined;
    await waitFor(() => inf.hasSynced());
    await waitFor(() => lw.watches.length === 1);
    lw.current!.end(Object.assign(new Error('boom'), { statusCode: 500 }));
    await waitFor(() => lw.watches.length === 2);
    lw.current!.emit('ERROR', { kind: 'Status', code: 500, reason: 'InternalError' });
    await waitFor(() => lw.watches.length === 3);
    expect(lw.lists).toBeGreaterThanOrEqual(4); // errors re-watch from RV without relisting
    const text = await registry.metrics();
    expect(text).toMatch(/informer_watch_restarts_total\{informer="cms",reason="error"\} [5-9]/);
    await inf.stop();
  });

  it('an instantly-closing watch does not spin (backoff applies)', async () => {
    const lw = new ScriptedLW();
    const { inf } = setup(lw, { backoff: { initialMs: 50, maxMs: 50, jitter: 0 } });
    inf.start();
    await waitFor(() => lw.watches.length === 1);
    const t0 = Date.now();
    lw.current!.end();
    await waitFor(() => lw.watches.length === 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    await inf.stop();
  });

  it('inactivity watchdog aborts a silent watch and relists; events and bookmarks keep it alive', async () => {
    jest.useFakeTimers(); // deterministic under CPU load
    const lw = new ScriptedLW();
    const { inf, registry } = setup(lw, { inactivityTimeoutMs: 80 });
    const advanceUntil = async (cond: () => boolean) => {
      for (let i = 0; i < 1000 && !cond(); i++) await jest.advanceTimersByTimeAsync(1);
      expect(cond()).toBe(true);
    };
    try {
      inf.start();
      await advanceUntil(() => lw.watches.length === 1);
      const first = lw.current!;
      for (let i = 0; i < 5; i++) {
        await jest.advanceTimersByTimeAsync(60);
        first.emit('BOOKMARK', { metadata: { resourceVersion: String(10 + i) } });
      }
      expect(lw.watches.length).toBe(1); // 300 ms with a bookmark every 60 ms: alive
      await jest.advanceTimersByTimeAsync(79);
      expect(lw.watches.length).toBe(1);
      await advanceUntil(() => lw.watches.length === 2); // 80 ms of silence -> stale
      expect(first.aborted).toBe(true);
      expect(lw.lists).toBe(2);
      expect(await registry.metrics()).toMatch(/reason="stale"\} 1/);
    } finally {
      await inf.stop();
      jest.useRealTimers();
    }
  });

  it('a throwing handler is caught, counted, and does not break the cache or other handlers', async () => {
    const lw = new ScriptedLW();
    lw.items = [cm('a', '1')];
    const { inf, events, registry } = setup(lw);
    inf.onAdd(() => {
      throw new Error('handler bug');
    });
    inf.start();
    await inf.waitForSync();
    await waitFor(() => lw.watches.length === 1);
    lw.current!.emit('ADDED', cm('b', '2'));
    expect(inf.keys().sort()).toEqual(['ns/a', 'ns/b']);
    expect(events).toEqual(['add a@1', 'add b@2']);
    expect(await registry.metrics()).toMatch(/informer_handler_errors_total\{informer="cms"\} 2/);
    await inf.stop();
  });

  it('a list that hangs is aborted after listTimeoutMs and retried', async () => {
    const lw = new ScriptedLW();
    lw.hangLists = 1;
    lw.items = [cm('a', '1')];
    const { inf } = setup(lw, { listTimeoutMs: 50 });
    inf.start();
    expect(await inf.waitForSync({ timeoutMs: 2000 })).toBe(true);
    expect(lw.lists).toBe(2);
    await inf.stop();
  });

  it('waitForSync returns false on timeout or stop', async () => {
    const lw = new ScriptedLW();
    lw.listError = new Error('down');
    const { inf } = setup(lw);
    inf.start();
    expect(await inf.waitForSync({ timeoutMs: 20 })).toBe(false);
    const p = inf.waitForSync();
    await inf.stop();
    expect(await p).toBe(false);
  });
});

/** A tiny HTTP "apiserver" for /api/v1/namespaces/ns/configmaps to exercise the real client-node Watch. */
describe('kubeListerWatcher over client-node Watch', () => {
  let server: http.Server;
  let port: number;
  const watchReqs: URL[] = [];
  let lists = 0;
  const open = new Set<http.ServerResponse>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.searchParams.get('watch') === 'true') {
        watchReqs.push(url);
        res.writeHead(200, { 'content-type': 'application/json' });
        open.add(res);
        res.on('close', () => open.delete(res));
        res.write(JSON.stringify({ type: 'ADDED', object: cm('w', '11') }) + '\n');
        return; // then silence
      }
      lists++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [cm('a', '3')] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const r of open) r.destroy();
    await new Promise((r) => server.close(r));
  });

  it('passes bookmarks/timeout/RV, and a silent stream is aborted by the watchdog and relisted', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const client = KubeClient.fromKubeConfig(kc);
    const lw = kubeListerWatcher<CM>(client, { group: '', version: 'v1', plural: 'configmaps' }, 'ns');
    const inf = new Informer<CM>({ lw, name: 'cm', inactivityTimeoutMs: 300, watchTimeoutSeconds: 42 });
    inf.start();
    try {
      await waitFor(() => inf.get('ns/w') !== undefined);
      expect(inf.get('ns/a')).toBeDefined();
      const q = watchReqs[0].searchParams;
      expect(q.get('allowWatchBookmarks')).toBe('true');
      expect(q.get('timeoutSeconds')).toBe('42');
      expect(q.get('resourceVersion')).toBe('10');
      // the stream then goes silent: watchdog -> relist -> new watch
      await waitFor(() => watchReqs.length >= 2, 3000);
      expect(lists).toBeGreaterThanOrEqual(2);
    } finally {
      await inf.stop();
    }
    // the aborted streams' sockets get closed on our side
    await waitFor(() => open.size === 0);
  });
});
