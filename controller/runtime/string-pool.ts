/**
 * StringPool: one copy of each repeated string value among cached objects.
 *
 * JSON.parse gives every string value of every object its own copy (V8 shares
 * property names, not values), so an informer holding 10,000 objects holds
 * 10,000 copies of each value they have in common: apiVersion, kind,
 * namespace, finalizers, condition types, statuses, reasons and messages,
 * timestamps written in the same second. `internValues` swaps each such value
 * for the pool's copy, in place, so the duplicates become garbage.
 *
 * Bounded: values longer than `maxLength` and values under `skipKeys` (the
 * ones unique to each object, e.g. uid and resourceVersion, which would only
 * fill the pool) are left alone, and when the pool reaches `maxEntries` it
 * starts over empty. Objects already interned keep their shared copies; only
 * later objects share with the new generation, so the worst case is today's
 * memory, never more than `maxEntries` extra strings.
 */
export interface StringPoolOptions {
  /** Default 4096. */
  maxEntries?: number;
  /** Longer values are not pooled. Default 64. */
  maxLength?: number;
  /** Property names whose values are never pooled (unique per object). Default: DEFAULT_SKIP_KEYS. */
  skipKeys?: Iterable<string>;
}

/** Kubernetes metadata that is unique per object (or per write). */
export const DEFAULT_SKIP_KEYS: readonly string[] = ['uid', 'resourceVersion', 'name', 'generateName', 'selfLink'];

export class StringPool {
  private pool = new Map<string, string>();
  private readonly maxEntries: number;
  private readonly maxLength: number;
  private readonly skip: ReadonlySet<string>;
  /** Times the pool filled up and started over (for tests and metrics). */
  generations = 0;

  constructor(opts: StringPoolOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 4096;
    this.maxLength = opts.maxLength ?? 64;
    this.skip = new Set(opts.skipKeys ?? DEFAULT_SKIP_KEYS);
  }

  get size(): number {
    return this.pool.size;
  }

  /** The pool's copy of s (s itself the first time it is seen, or when it is not pooled). */
  intern(s: string): string {
    if (s.length > this.maxLength) return s;
    const shared = this.pool.get(s);
    if (shared !== undefined) return shared;
    if (this.pool.size >= this.maxEntries) {
      this.pool = new Map();
      this.generations++;
    }
    this.pool.set(s, s);
    return s;
  }

  /**
   * Interns every string value of a JSON-shaped value, at any depth, in place
   * (the values stay equal: only which copy holds them changes), and returns
   * it. Property names are not touched; values under skipKeys are not pooled.
   */
  internValues<T>(value: T): T {
    this.walk(value as unknown);
    return value;
  }

  private walk(v: unknown): void {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x === 'string') v[i] = this.intern(x);
        else if (x !== null && typeof x === 'object') this.walk(x);
      }
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (typeof x === 'string') {
        if (!this.skip.has(k)) o[k] = this.intern(x);
      } else if (x !== null && typeof x === 'object') this.walk(x);
    }
  }
}
