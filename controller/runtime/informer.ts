/**
 * Informer: list + watch one resource into an in-memory cache and notify
 * handlers. Replaces client-node's ListWatch, which (2.0.1, verified against
 * dist/cache.js and a fake server) stops for good on any error other than
 * 410/timeout, never asks for bookmarks or a server-side timeout, reconnects
 * an idle watch every 30 s (Watch's private inactivity timer), and turns a
 * throwing handler into an unhandled rejection (its handlers run inside an
 * un-awaited async function) that exits the process.
 *
 * Loop (client-go reflector semantics):
 *   list -> replace cache (emitting add/update/delete for the diff) ->
 *   watch from the list's resourceVersion with allowWatchBookmarks and a
 *   randomized timeoutSeconds -> on clean end, re-watch from the last seen
 *   resourceVersion -> on 410 Gone or inactivity (no event or bookmark for
 *   `inactivityTimeoutMs`), relist -> on any other error, back off and retry.
 *   It never stops until stop().
 *
 * Handlers must only enqueue keys: they run synchronously inside the event
 * loop of the watch. Exceptions are caught, logged and counted.
 */
import type { KubernetesObject } from './client-node';
import type { Registry } from 'prom-client';
import { Backoff, sleep, type BackoffOptions } from './backoff';
import { errorCode, resourcePath, type KubeClient, type ResourceType } from './client';
import { noopLogger, type Logger } from './logger';
import { watchStream } from './watch';
import { getOrCreateCounter } from './metrics';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchOptions {
  resourceVersion: string;
  labelSelector?: string;
  timeoutSeconds: number;
  allowWatchBookmarks: boolean;
}

/**
 * The two calls an informer needs. `watch` must call onDone exactly once
 * when the stream ends (err undefined = clean close) and resolve with a
 * function that aborts the stream.
 */
export interface ListerWatcher<T> {
  /** `transform`, when given, may be applied to each item as it arrives (the informer applies it again: it must be idempotent). */
  list(opts: { labelSelector?: string; signal?: AbortSignal; transform?: (obj: T) => T }): Promise<{ items: T[]; resourceVersion: string }>;
  watch(opts: WatchOptions, onEvent: (type: WatchEventType, obj: any) => void, onDone: (err?: unknown) => void): Promise<() => void>;
}

/** ListerWatcher for a real apiserver: paginated list via KubeClient, watch via watchStream (client-node's auth). */
export function kubeListerWatcher<T extends KubernetesObject>(
  client: KubeClient,
  resource: ResourceType,
  namespace?: string,
  opts: { connectTimeoutMs?: number } = {},
): ListerWatcher<T> {
  const kc = client.kubeConfig;
  if (!kc) throw new Error('kubeListerWatcher needs a KubeClient made with KubeClient.fromKubeConfig');
  const path = resourcePath(resource, namespace);
  return {
    list: ({ labelSelector, signal, transform }) => client.list<T>(resource, namespace, { labelSelector, signal, transform }),
    watch: (o, onEvent, onDone) =>
      // Each stream runs on its own connection (watchStream), so ending one drops exactly
      // the connection that went stale and nothing of the shared pool: lease renewals and
      // status writes in progress there must not die because a watch ended.
      watchStream(
        kc,
        path,
        { resourceVersion: o.resourceVersion, labelSelector: o.labelSelector, timeoutSeconds: o.timeoutSeconds, allowWatchBookmarks: o.allowWatchBookmarks },
        (type, obj) => onEvent(type as WatchEventType, obj),
        (err) => onDone(err ?? undefined),
        // Idle watches only get a bookmark about once a minute, so a short idle timer would
        // kill healthy watches; the informer's own watchdog decides staleness. This one is a
        // connect/backstop timeout only (client-node's Watch hard-codes 30 s).
        { idleTimeoutMs: opts.connectTimeoutMs ?? 10 * 60_000 },
      ),
  };
}

/** "namespace/name", or "name" for cluster-scoped objects (client-go MetaNamespaceKeyFunc). */
export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : `${obj.metadata?.name}`;
}

/** Inverse of objectKey. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Default transform: drop metadata.managedFields (often 20-40% of an object; never useful to a controller). */
export function stripManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _drop, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export type WatchRestartReason = 'closed' | 'gone' | 'stale' | 'error';

export interface InformerOptions<T> {
  lw: ListerWatcher<T>;
  /** For logs and metric labels, e.g. "widgets.example.com". */
  name: string;
  labelSelector?: string;
  logger?: Logger;
  registry?: Registry;
  /** Server-side watch timeout; default random in [300, 600) s like client-go, so clients do not reconnect in lock step. */
  watchTimeoutSeconds?: number;
  /**
   * Abort and relist when a watch delivers nothing (not even a bookmark) for
   * this long. The apiserver sends bookmarks about once a minute to watchers
   * that ask for them; default 150 s = two missed bookmarks plus slack.
   */
  inactivityTimeoutMs?: number;
  /**
   * Abort a list that takes longer than this (a pooled keep-alive connection
   * can be dead without anyone noticing; a list on it would hang forever).
   * Default 60 s, the apiserver's own default request timeout.
   */
  listTimeoutMs?: number;
  /** Restart backoff; default 800 ms doubling to 30 s (client-go reflector), jitter 0.2. */
  backoff?: BackoffOptions;
  /** Applied to every object before caching; default stripManagedFields. Must be idempotent (a list may have applied it already, page by page). */
  transform?: (obj: T) => T;
  /** Called on every watch restart (in addition to the metric). */
  onWatchRestart?: (reason: WatchRestartReason, err?: unknown) => void;
}

type Ending = { kind: 'closed' } | { kind: 'gone' } | { kind: 'stale' } | { kind: 'stopped' } | { kind: 'error'; err: unknown };
type Outcome = Ending & { events: number; ms: number };

export class Informer<T extends KubernetesObject> {
  readonly name: string;
  private cache = new Map<string, T>();
  private rv = '';
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private readonly addHandlers = new Set<(obj: T) => void>();
  private readonly updateHandlers = new Set<(oldObj: T, newObj: T) => void>();
  private readonly deleteHandlers = new Set<(obj: T) => void>();
  private readonly stopCtl = new AbortController();
  private running?: Promise<void>;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly transform: (obj: T) => T;
  private readonly metrics: {
    restart(reason: WatchRestartReason): void;
    relist(): void;
    handlerError(): void;
  };

  constructor(private readonly opts: InformerOptions<T>) {
    this.name = opts.name;
    this.logger = (opts.logger ?? noopLogger).child({ informer: opts.name });
    this.backoff = new Backoff({ initialMs: 800, maxMs: 30_000, jitter: 0.2, ...opts.backoff });
    this.transform = opts.transform ?? stripManagedFields;
    this.metrics = informerMetrics(opts.registry, opts.name);
  }

  onAdd(fn: (obj: T) => void): () => void {
    this.addHandlers.add(fn);
    return () => this.addHandlers.delete(fn);
  }
  onUpdate(fn: (oldObj: T, newObj: T) => void): () => void {
    this.updateHandlers.add(fn);
    return () => this.updateHandlers.delete(fn);
  }
  /** Receives the last known state of the object. */
  onDelete(fn: (obj: T) => void): () => void {
    this.deleteHandlers.add(fn);
    return () => this.deleteHandlers.delete(fn);
  }

  /** Cached object by key ("ns/name" or "name"). Treat as read-only. */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }
  /** Snapshot of all cached objects. Treat them as read-only. */
  list(): T[] {
    return [...this.cache.values()];
  }
  keys(): string[] {
    return [...this.cache.keys()];
  }
  /** Last resourceVersion seen (list, event or bookmark). */
  lastResourceVersion(): string {
    return this.rv;
  }
  /** True once the first list has been applied and its handlers called. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once synced, false on stop/abort/timeout. */
  waitForSync(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (v: boolean) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.stopCtl.signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = () => finish(false);
      if (opts.timeoutMs !== undefined) timer = setTimeout(() => finish(false), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.stopCtl.signal.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => finish(true));
    });
  }

  /** Starts the list/watch loop in the background. Idempotent. */
  start(): void {
    if (this.running || this.stopCtl.signal.aborted) return;
    this.running = this.run().catch((err) => this.logger.error('informer loop crashed (bug)', { err }));
  }

  /** Stops the loop and the current watch. The cache stays readable. */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.stopCtl.signal;
    while (!signal.aborted) {
      if (!this.rv) {
        try {
          await this.relist(signal);
        } catch (err) {
          if (signal.aborted) return;
          const delay = this.backoff.next();
          this.logger.warn('list failed; retrying', { err, code: errorCode(err), retryInMs: delay });
          this.restart('error', err);
          await sleep(delay, signal);
          continue;
        }
      }
      const out = await this.watchOnce(signal);
      if (out.kind === 'stopped') return;
      if (out.kind === 'closed') {
        // A normal end (server timeoutSeconds). Re-watch from the last RV at
        // once, unless the stream died instantly: then treat it as an error
        // so a misbehaving server cannot make us spin.
        if (out.events === 0 && out.ms < 1000) {
          this.restart('closed');
          await sleep(this.backoff.next(), signal);
        } else {
          this.restart('closed');
        }
      } else if (out.kind === 'gone') {
        this.logger.info('watch resourceVersion expired (410); relisting', { resourceVersion: this.rv });
        this.rv = '';
        this.restart('gone');
      } else if (out.kind === 'stale') {
        this.logger.warn('watch silent for too long; relisting', { inactivityTimeoutMs: this.inactivityMs() });
        this.rv = '';
        this.restart('stale');
      } else {
        const delay = this.backoff.next();
        this.logger.warn('watch failed; restarting', { err: out.err, code: errorCode(out.err), retryInMs: delay });
        this.restart('error', out.err);
        await sleep(delay, signal);
      }
    }
  }

  private restart(reason: WatchRestartReason, err?: unknown): void {
    this.metrics.restart(reason);
    try {
      this.opts.onWatchRestart?.(reason, err);
    } catch {
      // hooks must not break the loop
    }
  }

  private inactivityMs(): number {
    return this.opts.inactivityTimeoutMs ?? 150_000;
  }

  /** List, then diff against the cache: add/update for new or changed, delete for vanished objects. */
  private async relist(signal: AbortSignal): Promise<void> {
    const listSignal = AbortSignal.any([signal, AbortSignal.timeout(this.opts.listTimeoutMs ?? 60_000)]);
    const res = await this.opts.lw.list({ labelSelector: this.opts.labelSelector, signal: listSignal, transform: this.transform });
    if (signal.aborted) return;
    this.metrics.relist();
    const next = new Map<string, T>();
    for (const raw of res.items ?? []) {
      const obj = this.transform(raw);
      next.set(objectKey(obj), obj);
    }
    const old = this.cache;
    this.cache = next;
    this.rv = res.resourceVersion;
    for (const [key, obj] of next) {
      const prev = old.get(key);
      if (!prev) this.emitAdd(obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emitUpdate(prev, obj);
    }
    for (const [key, prev] of old) if (!next.has(key)) this.emitDelete(prev);
    this.logger.debug('listed', { count: next.size, resourceVersion: this.rv });
    if (!this.synced) {
      this.synced = true;
      const w = this.syncWaiters.splice(0);
      for (const r of w) r();
    }
  }

  private watchOnce(signal: AbortSignal): Promise<Outcome> {
    const started = performance.now();
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? Math.floor(300 * (1 + Math.random()));
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let events = 0;
      let abortWatch: (() => void) | undefined;
      let dog: NodeJS.Timeout | undefined;
      const finish = (o: Ending) => {
        if (settled) return;
        settled = true;
        clearTimeout(dog);
        signal.removeEventListener('abort', onStop);
        try {
          abortWatch?.();
        } catch {
          // already closed
        }
        resolve({ ...o, events, ms: performance.now() - started });
      };
      const arm = () => {
        clearTimeout(dog);
        dog = setTimeout(() => finish({ kind: 'stale' }), this.inactivityMs());
      };
      const onStop = () => finish({ kind: 'stopped' });
      // stop() may have run synchronously from a handler during the relist.
      if (signal.aborted) return onStop();
      signal.addEventListener('abort', onStop, { once: true });
      arm();
      const onEvent = (type: WatchEventType, obj: any) => {
        if (settled) return;
        arm();
        if (type === 'ERROR') {
          const code = obj?.code;
          finish(code === 410 ? { kind: 'gone' } : { kind: 'error', err: Object.assign(new Error(`watch ERROR event: ${obj?.reason ?? ''} ${obj?.message ?? ''}`.trim()), { code }) });
          return;
        }
        events++;
        this.backoff.reset();
        const rv = obj?.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          if (rv) this.rv = rv;
          return;
        }
        if (!obj?.metadata?.name) return;
        const o = this.transform(obj as T);
        const key = objectKey(o);
        const prev = this.cache.get(key);
        if (type === 'DELETED') {
          this.cache.delete(key);
          this.emitDelete(prev ?? o);
        } else if (!prev) {
          this.cache.set(key, o);
          this.emitAdd(o);
        } else {
          this.cache.set(key, o);
          if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emitUpdate(prev, o);
        }
        if (rv) this.rv = rv;
      };
      const onDone = (err?: unknown) => {
        if (settled) return;
        if (!err) finish({ kind: 'closed' });
        else if (errorCode(err) === 410) finish({ kind: 'gone' });
        else finish({ kind: 'error', err });
      };
      let watching: Promise<() => void>;
      try {
        watching = this.opts.lw.watch(
          { resourceVersion: this.rv, labelSelector: this.opts.labelSelector, timeoutSeconds, allowWatchBookmarks: true },
          onEvent,
          onDone,
        );
      } catch (err) {
        finish({ kind: 'error', err });
        return;
      }
      watching.then(
        (abort) => {
          abortWatch = abort;
          if (settled) {
            try {
              abort();
            } catch {
              // ignore
            }
          }
        },
        (err) => finish({ kind: 'error', err }),
      );
    });
  }

  private emitAdd(obj: T): void {
    for (const h of this.addHandlers) this.safely(() => h(obj), 'add', obj);
  }
  private emitUpdate(prev: T, obj: T): void {
    for (const h of this.updateHandlers) this.safely(() => h(prev, obj), 'update', obj);
  }
  private emitDelete(obj: T): void {
    for (const h of this.deleteHandlers) this.safely(() => h(obj), 'delete', obj);
  }
  private safely(fn: () => void, event: string, obj: T): void {
    try {
      fn();
    } catch (err) {
      this.metrics.handlerError();
      this.logger.error('event handler threw (handlers should only enqueue)', { err, event, key: objectKey(obj) });
    }
  }
}

function informerMetrics(registry: Registry | undefined, name: string) {
  if (!registry) return { restart() {}, relist() {}, handlerError() {} };
  const restarts = getOrCreateCounter(registry, {
    name: 'informer_watch_restarts_total',
    help: 'Watch restarts per informer, by reason (closed=normal end, gone=410, stale=inactivity watchdog, error).',
    labelNames: ['informer', 'reason'] as const,
  });
  const relists = getOrCreateCounter(registry, { name: 'informer_relists_total', help: 'Full lists per informer.', labelNames: ['informer'] as const });
  const handlerErrors = getOrCreateCounter(registry, {
    name: 'informer_handler_errors_total',
    help: 'Exceptions thrown by informer event handlers.',
    labelNames: ['informer'] as const,
  });
  for (const reason of ['closed', 'gone', 'stale', 'error'] as const) restarts.inc({ informer: name, reason }, 0);
  return {
    restart: (reason: WatchRestartReason) => restarts.inc({ informer: name, reason }),
    relist: () => relists.inc({ informer: name }),
    handlerError: () => handlerErrors.inc({ informer: name }),
  };
}
