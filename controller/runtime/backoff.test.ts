import { Backoff, jitter, sleep } from './backoff';

describe('backoff', () => {
  it('grows exponentially, caps at max, and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('jitter adds up to factor*d and never less than d', () => {
    expect(jitter(1000, 0.5, () => 0)).toBe(1000);
    expect(jitter(1000, 0.5, () => 0.999999)).toBe(1500);
    const b = new Backoff({ initialMs: 1000, jitter: 0.2 });
    for (let i = 0; i < 50; i++) {
      b.reset();
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(1200);
    }
  });

  it('sleep resolves true after the delay, false when aborted', async () => {
    expect(await sleep(5)).toBe(true);
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(await sleep(10, ac.signal)).toBe(false);
  });
});
