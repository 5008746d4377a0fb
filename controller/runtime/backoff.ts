/**
 * Exponential backoff with jitter, shared by informer restarts, leader
 * election retries and anything else that retries against the apiserver.
 *
 * Why jitter: after an apiserver restart every client reconnects at once; a
 * random spread stops them from retrying in lock step (thundering herd).
 */

export interface BackoffOptions {
  /** First delay (ms). Default 1000. */
  initialMs?: number;
  /** Cap before jitter (ms). Default 30000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay added at random, like client-go wait.Jitter: d * (1 + jitter*rand). Default 0.2. */
  jitter?: number;
  /** Injectable for tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 1000;
    this.maxMs = opts.maxMs ?? 30_000;
    this.factor = opts.factor ?? 2;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
  }

  /** Number of delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay (ms); grows each call until reset(). */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, this.attempt));
    this.attempt++;
    return jitter(base, this.jitter, this.random);
  }

  /** Call after a success so the next failure starts small again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** d * (1 + factor*rand): never shorter than d, so a caller's minimum spacing holds. */
export function jitter(ms: number, factor: number, random: () => number = Math.random): number {
  if (factor <= 0) return ms;
  return Math.round(ms * (1 + factor * random()));
}

/**
 * Sleep that ends early when `signal` aborts. Resolves true if the full time
 * passed, false if aborted; never rejects, so loops can simply check the result.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
