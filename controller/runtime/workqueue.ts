/**
 * Rate-limited work queue with client-go semantics (k8s.io/client-go/util/workqueue).
 *
 * Why these rules:
 * - add() dedups: ten updates to one object while it waits = one reconcile.
 * - A key being processed is never handed out twice: a re-add while it is being
 *   processed is parked ("dirty") and queued again only at done(key), so two
 *   workers never reconcile the same object concurrently.
 * - addRateLimited() backs off per key (5 ms doubling to 1000 s) and through
 *   an overall token bucket (10 qps, burst 100) so a broken dependency cannot
 *   make us hammer the apiserver or an external API.
 * - shutdown() stops accepting work; shutdownWithDrain() also waits for the
 *   keys in progress. Queued-but-not-started keys are dropped: whoever runs next
 *   relists and re-enqueues everything anyway.
 */
import type { Registry } from 'prom-client';
import { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from './metrics';

export interface RateLimiter {
  /** Delay (ms) before `key` may be retried; records one more failure. */
  when(key: string): number;
  /** Clears failure history for `key` (call on success). */
  forget(key: string): void;
  numRequeues(key: string): number;
}

/** Per-key exponential: base * 2^failures, capped. client-go default 5 ms .. 1000 s. */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const d = this.baseMs * Math.pow(2, n);
    return Number.isFinite(d) ? Math.min(d, this.maxMs) : this.maxMs;
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * Overall token bucket (golang.org/x/time/rate reservation semantics): each
 * call takes a token now or reserves a future one; the delay is how long
 * until that reserved token exists. client-go default 10 qps, burst 100.
 */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;
  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }
  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
  forget(): void {}
  numRequeues(): number {
    return 0;
  }
}

/** The worst (longest) of several limiters, like client-go MaxOfRateLimiter. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(key));
    return max;
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  numRequeues(key: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(key));
    return max;
  }
}

export interface DefaultRateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  qps?: number;
  burst?: number;
}

/** client-go DefaultTypedControllerRateLimiter: max(per-key 5ms..1000s, bucket 10qps/100). */
export function defaultControllerRateLimiter(o: DefaultRateLimiterOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(o.baseDelayMs ?? 5, o.maxDelayMs ?? 1_000_000),
    new BucketRateLimiter(o.qps ?? 10, o.burst ?? 100),
  );
}

export interface WorkQueueOptions {
  /** Metrics label `name` (controller-runtime uses the controller name). */
  name?: string;
  rateLimiter?: RateLimiter;
  registry?: Registry;
}

// ---- metrics (client-go names; label `name`) --------------------------------

interface QueueMetrics {
  add(): void;
  get(waitedSec: number): void;
  done(workedSec: number): void;
  retry(): void;
}

const queuesByRegistry = new WeakMap<Registry, Set<WorkQueue>>();

function queueMetrics(registry: Registry | undefined, name: string, queue: WorkQueue): QueueMetrics {
  if (!registry) return { add() {}, get() {}, done() {}, retry() {} };
  let queues = queuesByRegistry.get(registry);
  if (!queues) {
    queues = new Set();
    queuesByRegistry.set(registry, queues);
  }
  queues.add(queue);
  const live = queues;
  const labelNames = ['name'] as const;
  const buckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10]; // ExponentialBuckets(10e-9, 10, 10)
  const depth = getOrCreateGauge(registry, { name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames });
  const adds = getOrCreateCounter(registry, { name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames });
  const latency = getOrCreateHistogram(registry, {
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames,
    buckets,
  });
  const work = getOrCreateHistogram(registry, {
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames,
    buckets,
  });
  const retries = getOrCreateCounter(registry, { name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames });
  // These two are computed at scrape time from the keys in progress, as client-go's updateUnfinishedWork does periodically.
  getOrCreateGauge(registry, {
    name: 'workqueue_unfinished_work_seconds',
    help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration. Large values indicate stuck threads.',
    labelNames,
    collect() {
      for (const q of live) this.set({ name: q.name }, q.unfinishedWorkSeconds());
    },
  });
  getOrCreateGauge(registry, {
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames,
    collect() {
      for (const q of live) this.set({ name: q.name }, q.longestRunningSeconds());
    },
  });
  const l = { name };
  depth.set(l, 0);
  adds.inc(l, 0);
  retries.inc(l, 0);
  return {
    add() {
      adds.inc(l);
      depth.inc(l);
    },
    get(waited) {
      depth.dec(l);
      latency.observe(l, waited);
    },
    done(worked) {
      work.observe(l, worked);
    },
    retry() {
      retries.inc(l);
    },
  };
}

// ---- the queue ---------------------------------------------------------------

export class WorkQueue {
  readonly name: string;
  private readonly queue: string[] = [];
  /** Keys that need processing (queued, or re-added while in progress). */
  private readonly dirty = new Set<string>();
  /** Keys handed out and not yet done(); value = start time (ms, monotonic). */
  private readonly processing = new Map<string, number>();
  /** When each dirty key was added, for queue_duration. */
  private readonly addedAt = new Map<string, number>();
  /** addAfter timers: key -> {readyAt, timer}; the earliest wins. */
  private readonly waiting = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly getters: Array<(key: string | undefined) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shutDown = false;
  private readonly limiter: RateLimiter;
  private readonly metrics: QueueMetrics;

  constructor(opts: WorkQueueOptions = {}) {
    this.name = opts.name ?? 'queue';
    this.limiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.metrics = queueMetrics(opts.registry, this.name, this);
  }

  /** Enqueue `key` now; no-op if it is already waiting or the queue is shut down. */
  add(key: string): void {
    if (this.shutDown || this.dirty.has(key)) return;
    this.metrics.add();
    this.dirty.add(key);
    this.addedAt.set(key, performance.now());
    if (this.processing.has(key)) return; // re-queued by done()
    this.queue.push(key);
    this.dispatch();
  }

  /** Enqueue `key` after `ms`; an earlier pending addAfter for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shutDown) return;
    if (!(ms > 0)) return this.add(key);
    const readyAt = performance.now() + ms;
    const existing = this.waiting.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { readyAt, timer });
  }

  /**
   * Enqueue after the rate limiter's delay for `key` (one more failure
   * recorded), or after `atLeastMs` when that is longer: a server's
   * Retry-After can lengthen the wait but never shortens or resets the backoff.
   */
  addRateLimited(key: string, atLeastMs = 0): void {
    if (this.shutDown) return;
    this.metrics.retry();
    this.addAfter(key, Math.max(atLeastMs, this.limiter.when(key)));
  }

  /** Stop tracking failures of `key` (it succeeded); its next backoff starts small. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /**
   * Next key to process, waiting if none; undefined once shut down. The
   * caller owns the key until it calls done(key).
   */
  get(): Promise<string | undefined> {
    if (this.shutDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `key` finished; if it was re-added meanwhile it is queued again now. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics.done((performance.now() - started) / 1000);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.dispatch();
    }
    if (this.processing.size === 0 && this.drainWaiters.length) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const r of w) r();
    }
  }

  /** Keys waiting (not counting in-progress or delayed ones). */
  len(): number {
    return this.queue.length;
  }

  /** Keys currently handed out and not done. */
  active(): number {
    return this.processing.size;
  }

  isShuttingDown(): boolean {
    return this.shutDown;
  }

  /** Stop accepting adds, cancel delayed adds, release blocked get() callers with undefined. */
  shutdown(): void {
    if (this.shutDown) return;
    this.shutDown = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    const g = this.getters.splice(0);
    for (const r of g) r(undefined);
  }

  /** shutdown() and resolve once every in-progress key is done(). */
  shutdownWithDrain(): Promise<void> {
    this.shutdown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Sum of the running time of all in-progress keys (seconds). */
  unfinishedWorkSeconds(): number {
    const now = performance.now();
    let total = 0;
    for (const t of this.processing.values()) total += now - t;
    return total / 1000;
  }

  longestRunningSeconds(): number {
    const now = performance.now();
    let max = 0;
    for (const t of this.processing.values()) max = Math.max(max, now - t);
    return max / 1000;
  }

  private take(): string | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    const now = performance.now();
    this.processing.set(key, now);
    this.dirty.delete(key);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    this.metrics.get(added === undefined ? 0 : (now - added) / 1000);
    return key;
  }

  private dispatch(): void {
    while (this.getters.length && this.queue.length) {
      const resolve = this.getters.shift()!;
      resolve(this.take());
    }
  }
}
