/**
 * Controller: N workers pulling keys from a WorkQueue and calling reconcile.
 *
 * Result handling follows controller-runtime (internal/controller.go):
 * - throw          -> addRateLimited (per-key exponential backoff), result=error;
 *                     if the error has a numeric `retryAfterMs` (e.g. from a 429/503
 *                     Retry-After), the wait is the longer of that hint (floored at
 *                     retryAfterMinMs, capped at retryAfterMaxMs) and the backoff,
 *                     which keeps growing: a server that always says "retry in 1 s"
 *                     cannot hold a key in a one-call-a-second loop.
 * - {requeueAfter} -> forget + addAfter(ms), result=requeue_after (periodic drift checks).
 * - {requeue:true} -> addRateLimited, result=requeue.
 * - otherwise      -> forget, result=success.
 * The queue guarantees one reconcile per key at a time, so reconcile code
 * never has to lock.
 */
import type { Registry } from 'prom-client';
import { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from './metrics';
import { noopLogger, type Logger } from './logger';
import { WorkQueue, type RateLimiter } from './workqueue';

export interface Result {
  /** Reconcile again after this many ms (and reset the key's backoff). */
  requeueAfter?: number;
  /** Reconcile again soon, rate limited. */
  requeue?: boolean;
}

export interface ReconcileContext {
  /**
   * Aborted when stop() runs out of patience or abort() is called (e.g. the
   * leader lease is lost): pass it to every outbound call.
   */
  signal: AbortSignal;
  /** Logger with {controller, key}. */
  logger: Logger;
  /** How many times this key has failed in a row (0 on the first try). */
  retries: number;
}

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<Result | void>;

export interface ControllerOptions {
  /** Used in metrics (`controller`, and queue `name`) and logs. */
  name: string;
  reconcile: Reconciler;
  /** Parallel workers (controller-runtime MaxConcurrentReconciles). Default 1. */
  concurrency?: number;
  /** Bring your own queue (e.g. shared); else one is made with `rateLimiter`. */
  queue?: WorkQueue;
  rateLimiter?: RateLimiter;
  /** Shortest wait a Retry-After can ask for (0 would be a hot loop). Default 1000. */
  retryAfterMinMs?: number;
  /** Longest wait a Retry-After can impose. Default 300000 (5 min). */
  retryAfterMaxMs?: number;
  registry?: Registry;
  logger?: Logger;
}

/** An error that tells the controller when to retry (e.g. parsed from Retry-After). */
export class RetryAfterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryAfterError';
  }
}

/** `err.retryAfterMs` if it is a finite number >= 0, else undefined. */
export function retryAfterOf(err: unknown): number | undefined {
  const v = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

type ResultLabel = 'success' | 'error' | 'requeue' | 'requeue_after';

function controllerMetrics(registry: Registry | undefined, name: string, concurrency: number) {
  if (!registry) {
    return { result(_r: ResultLabel, _s: number) {}, error() {}, active(_d: number) {} };
  }
  const labelNames = ['controller'] as const;
  const total = getOrCreateCounter(registry, {
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
  });
  const errors = getOrCreateCounter(registry, {
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames,
  });
  const time = getOrCreateHistogram(registry, {
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60],
  });
  const max = getOrCreateGauge(registry, {
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames,
  });
  const active = getOrCreateGauge(registry, {
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames,
  });
  const l = { controller: name };
  max.set(l, concurrency);
  active.set(l, 0);
  errors.inc(l, 0);
  for (const r of ['success', 'error', 'requeue', 'requeue_after'] as const) total.inc({ controller: name, result: r }, 0);
  return {
    result(r: ResultLabel, seconds: number) {
      total.inc({ controller: name, result: r });
      time.observe(l, seconds);
    },
    error() {
      errors.inc(l);
    },
    active(d: number) {
      active.inc(l, d);
    },
  };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly concurrency: number;
  private readonly logger: Logger;
  private readonly metrics: ReturnType<typeof controllerMetrics>;
  private readonly abort = new AbortController();
  private readonly retryAfterMinMs: number;
  private readonly retryAfterMaxMs: number;
  private workers: Promise<void>[] = [];
  private started = false;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.logger = (opts.logger ?? noopLogger).child({ controller: opts.name });
    this.queue = opts.queue ?? new WorkQueue({ name: opts.name, rateLimiter: opts.rateLimiter, registry: opts.registry });
    this.metrics = controllerMetrics(opts.registry, opts.name, this.concurrency);
    this.retryAfterMinMs = opts.retryAfterMinMs ?? 1000;
    this.retryAfterMaxMs = Math.max(this.retryAfterMinMs, opts.retryAfterMaxMs ?? 300_000);
  }

  /** Convenience for event handlers: enqueue a key (dedup'd by the queue). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Start `concurrency` workers. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.logger.info('starting workers', { workers: this.concurrency });
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.worker());
  }

  /**
   * Stop taking keys and wait for in-progress reconciles. After `timeoutMs`
   * (default: wait forever) their signal is aborted and we return anyway.
   */
  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    const drained = this.queue.shutdownWithDrain().then(() => Promise.all(this.workers)).then(() => true);
    if (opts.timeoutMs === undefined) {
      await drained;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), opts.timeoutMs)));
      const ok = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (!ok) {
        this.logger.warn('stop deadline passed with reconciles in progress; aborting them', { active: this.queue.active() });
        this.abort.abort(new Error('controller stopping'));
      }
    }
    this.logger.info('stopped');
  }

  /**
   * Stop at once, without draining: no new reconcile starts and the signal of
   * every reconcile in progress aborts now (controller-runtime cancels its
   * context the same way when the leader lease is lost). Returns when the
   * workers have returned or after `timeoutMs` (default 5000), whichever is
   * first: a reconcile that ignores its signal cannot hold up the caller.
   */
  async abortNow(reason: Error, opts: { timeoutMs?: number } = {}): Promise<void> {
    this.queue.shutdown();
    this.abort.abort(reason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.workers), new Promise<void>((r) => (timer = setTimeout(r, opts.timeoutMs ?? 5000)))]);
    clearTimeout(timer);
    this.logger.info('aborted', { reason: reason.message });
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const retries = this.queue.numRequeues(key);
    const logger = this.logger.child({ key });
    const start = performance.now();
    this.metrics.active(1);
    let label: ResultLabel;
    try {
      const res = (await this.reconcile(key, { signal: this.abort.signal, logger, retries })) ?? {};
      if (res.requeueAfter !== undefined && res.requeueAfter > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, res.requeueAfter);
        label = 'requeue_after';
      } else if (res.requeue) {
        this.queue.addRateLimited(key);
        label = 'requeue';
      } else {
        this.queue.forget(key);
        label = 'success';
      }
    } catch (err) {
      label = 'error';
      this.metrics.error();
      const after = retryAfterOf(err);
      if (this.abort.signal.aborted) {
        logger.info('reconcile aborted', { err });
      } else if (after !== undefined) {
        const atLeast = Math.min(Math.max(after, this.retryAfterMinMs), this.retryAfterMaxMs);
        logger.info('reconcile asked to retry later', { err, retryAfterMs: after, waitAtLeastMs: atLeast });
        this.queue.addRateLimited(key, atLeast);
      } else {
        logger.error('reconcile failed', { err, retries: retries + 1 });
        this.queue.addRateLimited(key);
      }
    } finally {
      this.metrics.active(-1);
      this.queue.done(key);
    }
    this.metrics.result(label, (performance.now() - start) / 1000);
  }
}
