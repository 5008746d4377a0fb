import { Registry } from 'prom-client';
import { Controller, RetryAfterError, type Result } from './controller';
import { ItemExponentialFailureRateLimiter } from './workqueue';

const waitFor = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('Controller', () => {
  it('success forgets the key and records result=success', async () => {
    const registry = new Registry();
    const seen: string[] = [];
    const c = new Controller({ name: 'c1', registry, reconcile: async (k) => void seen.push(k) });
    c.start();
    c.enqueue('ns/a');
    await waitFor(() => seen.length === 1);
    await c.stop();
    const text = await registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="c1",result="success"\} 1/);
    expect(text).toMatch(/controller_runtime_max_concurrent_reconciles\{controller="c1"\} 1/);
    expect(text).toMatch(/controller_runtime_reconcile_time_seconds_count\{controller="c1"\} 1/);
    expect(text).toMatch(/workqueue_adds_total\{name="c1"\} 1/);
  });

  it('errors are retried with per-key backoff; success resets it', async () => {
    const registry = new Registry();
    const times: number[] = [];
    let fail = 3;
    const c = new Controller({
      name: 'c2',
      registry,
      rateLimiter: new ItemExponentialFailureRateLimiter(20, 1000),
      reconcile: async (_k, ctx) => {
        times.push(performance.now());
        expect(ctx.retries).toBe(3 - fail);
        if (fail-- > 0) throw new Error('nope');
      },
    });
    c.start();
    c.enqueue('k');
    await waitFor(() => times.length === 4);
    await c.stop();
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(c.queue.numRequeues('k')).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_errors_total\{controller="c2"\} 3/);
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="c2",result="error"\} 3/);
    expect(text).toMatch(/workqueue_retries_total\{name="c2"\} 3/);
  });

  it('honours retryAfterMs on an error when it is longer than the backoff', async () => {
    const times: number[] = [];
    const c = new Controller({
      name: 'c3',
      rateLimiter: new ItemExponentialFailureRateLimiter(1, 1),
      retryAfterMinMs: 10,
      reconcile: async () => {
        times.push(performance.now());
        if (times.length === 1) throw new RetryAfterError('429', 150);
        if (times.length === 2) throw Object.assign(new Error('plain object error'), { retryAfterMs: 60 });
      },
    });
    c.start();
    c.enqueue('k');
    await waitFor(() => times.length === 3);
    await c.stop();
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(149);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(59);
  });

  describe('Retry-After is bounded and never resets the backoff (fake timers)', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    /** Runs a controller whose reconcile fails with `err()` for `simulatedMs` of fake time; returns when each call ran. */
    async function run(err: () => Error | undefined, simulatedMs: number): Promise<number[]> {
      const t0 = performance.now();
      const times: number[] = [];
      const c = new Controller({
        name: 'bounded',
        reconcile: async () => {
          times.push(performance.now() - t0);
          const e = err();
          if (e) throw e;
        },
      });
      c.start();
      c.enqueue('k');
      for (let t = 0; t < simulatedMs; t += 1000) await jest.advanceTimersByTimeAsync(1000);
      c.queue.shutdown();
      return times;
    }

    it('a service that always answers Retry-After: 1 gets ever fewer calls: the per-key backoff keeps growing', async () => {
      const times = await run(() => new RetryAfterError('429 rate_limited', 1000), 600_000);
      // 8 tries a second apart while the backoff (5 ms doubling) is below 1 s, then 1.3 s, 2.6 s, ... 164 s.
      expect(times.length).toBeLessThan(25);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      for (const g of gaps) expect(g).toBeGreaterThanOrEqual(1000);
      for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]);
      expect(gaps.at(-1)).toBeGreaterThan(60_000);
    });

    it('Retry-After: 0 is floored, not an immediate requeue', async () => {
      let n = 0;
      // Succeeds after 1000 tries, so the unfloored version ends instead of spinning forever.
      const times = await run(() => (++n <= 1000 ? new RetryAfterError('503 unavailable', 0) : undefined), 10_000);
      expect(times.length).toBeLessThanOrEqual(11);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1000);
    });

    it('a huge Retry-After is capped at 5 minutes', async () => {
      const times = await run(() => new RetryAfterError('503 unavailable', 24 * 3600_000), 301_000);
      expect(times.length).toBe(2);
      expect(times[1]! - times[0]!).toBeLessThanOrEqual(300_000);
    });
  });

  it('requeueAfter and requeue', async () => {
    const registry = new Registry();
    const results: Result[] = [{ requeueAfter: 50 }, { requeue: true }, {}];
    const times: number[] = [];
    const c = new Controller({
      name: 'c4',
      registry,
      rateLimiter: new ItemExponentialFailureRateLimiter(1, 1),
      reconcile: async () => {
        times.push(performance.now());
        return results[times.length - 1];
      },
    });
    c.start();
    c.enqueue('k');
    await waitFor(() => times.length === 3);
    await c.stop();
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(49);
    const text = await registry.metrics();
    expect(text).toMatch(/result="requeue_after"\} 1/);
    expect(text).toMatch(/result="requeue"\} 1/);
    expect(text).toMatch(/result="success"\} 1/);
  });

  it('runs up to `concurrency` different keys in parallel but never the same key twice', async () => {
    const registry = new Registry();
    let active = 0;
    let maxActive = 0;
    const perKey = new Map<string, number>();
    let violations = 0;
    let count = 0;
    const c = new Controller({
      name: 'c5',
      registry,
      concurrency: 3,
      reconcile: async (k) => {
        active++;
        maxActive = Math.max(maxActive, active);
        perKey.set(k, (perKey.get(k) ?? 0) + 1);
        if (perKey.get(k)! > 1) violations++;
        await new Promise((r) => setTimeout(r, 10));
        perKey.set(k, perKey.get(k)! - 1);
        active--;
        count++;
      },
    });
    c.start();
    for (let round = 0; round < 5; round++) {
      for (const k of ['a', 'b', 'c', 'd', 'e']) c.enqueue(k);
      await new Promise((r) => setTimeout(r, 3));
    }
    await waitFor(() => c.queue.len() === 0 && c.queue.active() === 0);
    await c.stop();
    expect(violations).toBe(0);
    expect(maxActive).toBe(3);
    expect(count).toBeGreaterThanOrEqual(5);
    expect(await registry.metrics()).toMatch(/controller_runtime_max_concurrent_reconciles\{controller="c5"\} 3/);
  });

  it('stop() waits for in-progress reconciles and starts no new ones', async () => {
    let release!: () => void;
    const started: string[] = [];
    let finished = 0;
    const c = new Controller({
      name: 'c6',
      reconcile: async (k) => {
        started.push(k);
        await new Promise<void>((r) => (release = r));
        finished++;
      },
    });
    c.start();
    c.enqueue('a');
    c.enqueue('b');
    await waitFor(() => started.length === 1);
    let stopped = false;
    const s = c.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    release();
    await s;
    expect(finished).toBe(1);
    expect(started).toEqual(['a']);
  });

  it('stop({timeoutMs}) aborts the reconcile signal when the deadline passes', async () => {
    let aborted = false;
    const c = new Controller({
      name: 'c7',
      reconcile: (_k, ctx) =>
        new Promise((resolve) => ctx.signal.addEventListener('abort', () => ((aborted = true), resolve()))),
    });
    c.start();
    c.enqueue('a');
    await waitFor(() => c.queue.active() === 1);
    await c.stop({ timeoutMs: 30 });
    expect(aborted).toBe(true);
  });
});
