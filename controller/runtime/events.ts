/**
 * EventRecorder: core/v1 Events about an object (what `kubectl describe` shows).
 *
 * Why core/v1 and not events.k8s.io/v1: kubectl describe and most tooling
 * read core/v1; both APIs are views of the same storage.
 * Why aggregation: a controller retrying every few seconds would otherwise
 * create thousands of identical Events. Like client-go's EventCorrelator, an
 * identical event (same object, type, reason, message) within `windowMs`
 * increments `count` and `lastTimestamp` on the existing Event with a merge
 * patch instead of creating a new one.
 * Why fire-and-forget: Events are best effort. record() never throws and
 * never blocks the reconcile; failures are logged and dropped.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { PatchType, errorCode, type KubeClient } from './client';
import { formatTime } from './conditions';
import { noopLogger, type Logger } from './logger';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  client: KubeClient;
  /** source.component and reportingComponent, e.g. "my-operator". */
  component: string;
  /** reportingInstance / source.host; default the pod's hostname. */
  instance?: string;
  logger?: Logger;
  /** Identical events within this window are aggregated. Default 10 min (client-go's maxIntervalInSeconds-ish). */
  windowMs?: number;
  /** Namespace for events about cluster-scoped objects. Default "default". */
  defaultNamespace?: string;
  /** Cap on remembered event keys (LRU). Default 4096 (client-go maxLruCacheEntries). */
  cacheSize?: number;
  /** Cap on writes in progress; beyond it events are dropped. Default 100. */
  maxPending?: number;
  now?: () => Date;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  firstTimestamp: string;
  at: number;
}

const MAX_MESSAGE = 1024;
const core = { group: '', version: 'v1', plural: 'events' };

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private readonly pending = new Set<Promise<void>>();
  /** Serializes writes per aggregation key so count increments do not race. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly logger: Logger;
  private readonly now: () => Date;
  private seq = 0;

  constructor(private readonly opts: EventRecorderOptions) {
    this.logger = (opts.logger ?? noopLogger).child({ component: 'events' });
    this.now = opts.now ?? (() => new Date());
  }

  /** Records an event; never throws, returns immediately. */
  event(obj: KubernetesObject, type: EventType, reason: string, message: string): void {
    try {
      if ((this.opts.maxPending ?? 100) <= this.pending.size) {
        this.logger.warn('too many events in progress; dropping', { reason });
        return;
      }
      const key = this.keyOf(obj, type, reason, message);
      const prev = this.chains.get(key) ?? Promise.resolve();
      const p: Promise<void> = prev
        .then(() => this.write(key, obj, type, reason, message))
        .catch((err) => this.logger.warn('could not record event; dropped', { err, code: errorCode(err), reason, object: obj.metadata?.name }))
        .finally(() => {
          this.pending.delete(p);
          if (this.chains.get(key) === p) this.chains.delete(key);
        });
      this.chains.set(key, p);
      this.pending.add(p);
    } catch (err) {
      this.logger.warn('could not record event; dropped', { err, reason });
    }
  }

  normal(obj: KubernetesObject, reason: string, message: string): void {
    this.event(obj, 'Normal', reason, message);
  }

  warning(obj: KubernetesObject, reason: string, message: string): void {
    this.event(obj, 'Warning', reason, message);
  }

  /** Waits for writes in progress (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private keyOf(obj: KubernetesObject, type: string, reason: string, message: string): string {
    const m = obj.metadata ?? {};
    return [obj.apiVersion, obj.kind, m.namespace ?? '', m.name ?? '', m.uid ?? '', type, reason, message].join('\u0000');
  }

  private async write(key: string, obj: KubernetesObject, type: EventType, reason: string, rawMessage: string): Promise<void> {
    const now = this.now();
    const ts = formatTime(now);
    const window = this.opts.windowMs ?? 10 * 60_000;
    const prev = this.seen.get(key);
    if (prev && now.getTime() - prev.at <= window) {
      try {
        await this.opts.client.patch(core, prev.namespace, prev.name, { count: prev.count + 1, lastTimestamp: ts }, PatchType.MergePatch);
        prev.count++;
        prev.at = now.getTime();
        this.touch(key, prev);
        return;
      } catch (err) {
        if (errorCode(err) !== 404) throw err;
        // The Event expired (apiserver --event-ttl, 1h default): create a fresh one.
      }
    }
    const m = obj.metadata ?? {};
    const namespace = m.namespace || this.opts.defaultNamespace || 'default';
    // client-go names events "<object>.<unix-nanos hex>"; add a sequence so two in one ms differ.
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(this.seq++ % 1_000_000);
    const name = `${m.name ?? 'unknown'}.${nanos.toString(16)}`;
    const instance = this.opts.instance ?? hostname();
    const message = rawMessage.length > MAX_MESSAGE ? rawMessage.slice(0, MAX_MESSAGE - 3) + '...' : rawMessage;
    await this.opts.client.create(core, namespace, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component: this.opts.component, host: instance },
      reportingComponent: this.opts.component,
      reportingInstance: instance,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    });
    this.touch(key, { namespace, name, count: 1, firstTimestamp: ts, at: now.getTime() });
  }

  private touch(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    const cap = this.opts.cacheSize ?? 4096;
    while (this.seen.size > cap) this.seen.delete(this.seen.keys().next().value!);
  }
}
