import { Registry } from 'prom-client';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
} from './workqueue';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('dedups keys that are waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key that is being processed; re-adds wait for done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    expect(k).toBe('a');
    q.add('a'); // re-added while in progress
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((v) => (second = v));
    await tick();
    expect(second).toBeUndefined(); // not handed out concurrently
    q.done('a');
    await tick();
    expect(second).toBe('a'); // exactly once more
    expect(q.len()).toBe(0);
  });

  it('wakes a blocked get() on add', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add('x');
    expect(await p).toBe('x');
  });

  it('addAfter delays, and the earliest pending time wins', async () => {
    jest.useFakeTimers();
    try {
      const q = new WorkQueue();
      q.addAfter('a', 1000);
      q.addAfter('a', 100);
      q.addAfter('a', 5000);
      expect(q.len()).toBe(0);
      await jest.advanceTimersByTimeAsync(99);
      expect(q.len()).toBe(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(q.len()).toBe(1);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(q.len()).toBe(1); // later timers were replaced, not stacked
    } finally {
      jest.useRealTimers();
    }
  });

  it('addRateLimited backs off per key and forget() resets', async () => {
    jest.useFakeTimers();
    try {
      const q = new WorkQueue({ rateLimiter: new ItemExponentialFailureRateLimiter(10, 1000) });
      const delays: number[] = [];
      for (let i = 0; i < 4; i++) {
        const t0 = Date.now();
        q.addRateLimited('k');
        while (q.len() === 0) await jest.advanceTimersByTimeAsync(1);
        delays.push(Date.now() - t0);
        q.done((await q.get())!);
      }
      expect(delays).toEqual([10, 20, 40, 80]);
      expect(q.numRequeues('k')).toBe(4);
      q.forget('k');
      expect(q.numRequeues('k')).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('shutdown stops accepting, releases blocked getters; drain waits for in-progress', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    const a = await q.get();
    const blocked = new WorkQueue().get(); // separate queue: unaffected
    let drained = false;
    const d = q.shutdownWithDrain().then(() => (drained = true));
    expect(await q.get()).toBeUndefined(); // queued 'b' is not handed out any more
    q.add('c');
    q.addAfter('d', 10);
    q.addRateLimited('e');
    expect(q.len()).toBe(1); // only the old 'b'
    await tick();
    expect(drained).toBe(false);
    q.done(a!);
    await d;
    expect(drained).toBe(true);
    void blocked;
  });

  it('exports client-go metrics with label name', async () => {
    const registry = new Registry();
    const q = new WorkQueue({ name: 'ctl', registry });
    new WorkQueue({ name: 'other', registry }); // same registry, no double-registration error
    q.add('a');
    q.add('a');
    q.add('b');
    const k = await q.get();
    q.addRateLimited('z');
    await new Promise((r) => setTimeout(r, 30)); // z's 5ms backoff passes
    const text = await registry.metrics();
    expect(text).toMatch(/workqueue_adds_total\{name="ctl"\} 3/);
    expect(text).toMatch(/workqueue_depth\{name="ctl"\} 2/);
    expect(text).toMatch(/workqueue_retries_total\{name="ctl"\} 1/);
    expect(text).toMatch(/workqueue_queue_duration_seconds_count\{name="ctl"\} 1/);
    expect(text).toMatch(/workqueue_unfinished_work_seconds\{name="ctl"\} 0\.\d+/);
    expect(text).toMatch(/workqueue_longest_running_processor_seconds\{name="ctl"\} 0\.\d+/);
    expect(text).toMatch(/workqueue_depth\{name="other"\} 0/);
    q.done(k!);
    expect(await registry.metrics()).toMatch(/workqueue_work_duration_seconds_count\{name="ctl"\} 1/);
    q.shutdown();
  });
});

describe('rate limiters', () => {
  it('per-key exponential: 5ms doubling, capped at 1000s by default', () => {
    const l = new ItemExponentialFailureRateLimiter();
    const d = Array.from({ length: 5 }, () => l.when('k'));
    expect(d).toEqual([5, 10, 20, 40, 80]);
    expect(l.when('other')).toBe(5);
    for (let i = 0; i < 100; i++) l.when('k');
    expect(l.when('k')).toBe(1_000_000);
  });

  it('token bucket: burst free, then 1/qps spacing, refills over time', () => {
    let now = 0;
    const b = new BucketRateLimiter(10, 100, () => now);
    for (let i = 0; i < 100; i++) expect(b.when()).toBe(0);
    expect(b.when()).toBeCloseTo(100); // 101st waits one token = 100ms
    expect(b.when()).toBeCloseTo(200);
    now += 1000; // 10 tokens refilled, 2 owed
    expect(b.when()).toBeCloseTo(0);
  });

  it('default = max(per-key, bucket)', () => {
    const l = defaultControllerRateLimiter();
    expect(l.when('a')).toBe(5);
    expect(l.when('a')).toBe(10);
    const m = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(1, 10), new BucketRateLimiter(1, 1, () => 0));
    expect(m.when('x')).toBe(1);
    expect(m.when('x')).toBe(1000); // bucket dominates
    expect(m.numRequeues('x')).toBe(2);
  });
});
