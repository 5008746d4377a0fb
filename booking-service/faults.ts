/**
 * Fault injection for booking-service. Applies to /v1/* requests only
 * (/healthz reports `down`; /admin and /metrics are never faulted).
 *
 * Deterministic: rates draw from a seeded PRNG (mulberry32) that is reset
 * whenever faults are set, so the same seed and the same request sequence
 * give the same faults; `failNext` fails exactly the next N matching requests.
 */

export type FaultKind =
  | 'error' // 500 internal, before anything is done
  | 'rate_limited' // 429 + Retry-After
  | 'unavailable' // 503 + Retry-After
  | 'hang' // no response (until hangMs, the client gives up, or the server stops)
  | 'error_after_commit' // the change IS committed, then 500: a lost response
  | 'hang_after_commit'; // the change IS committed, then no response

export const FAULT_KINDS: readonly FaultKind[] = ['error', 'rate_limited', 'unavailable', 'hang', 'error_after_commit', 'hang_after_commit'];

export interface FaultConfig {
  /** Added to every /v1 request before it is processed (while its Idempotency-Key is held). */
  latencyMs?: number;
  /**
   * Added to a create that books (not to a replay), after its key is taken and
   * before it commits: a create slower than the client's timeout commits after
   * the client gave up, and replays meanwhile get request_in_flight.
   */
  createLatencyMs?: number;
  /** Uniform extra latency in [0, latencyJitterMs). */
  latencyJitterMs?: number;
  /** Probability of 500 internal before processing. */
  errorRate?: number;
  /** Probability of committing a write and then answering 500 (writes only). */
  errorAfterCommitRate?: number;
  /** Probability of 429 rate_limited. */
  rateLimitRate?: number;
  /** Probability of 503 unavailable + Retry-After (a service overloaded or restarting behind its load balancer). */
  unavailableRate?: number;
  /** Retry-After on 429 and 503 (seconds, default 1). */
  retryAfterSeconds?: number;
  /** Probability of never answering (before processing). */
  hangRate?: number;
  /** A hang ends (socket destroyed) after this many ms; default: never. */
  hangMs?: number;
  /** Every /v1 request answers 503 unavailable; /healthz answers 503 too. */
  down?: boolean;
  /** Seed for the rate draws (default 1). */
  seed?: number;
  /** Fail exactly the next `count` matching /v1 requests with `kind`. */
  failNext?: { kind: FaultKind; count: number; method?: string; path?: string };
}

export type FaultDecision = { kind: FaultKind; retryAfterSeconds: number; hangMs?: number } | undefined;

const RATE_KEYS = ['errorRate', 'errorAfterCommitRate', 'rateLimitRate', 'unavailableRate', 'hangRate'] as const;

export function validateFaults(input: unknown): FaultConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('faults must be a JSON object');
  const f = input as Record<string, unknown>;
  const allowed = new Set(['latencyMs', 'createLatencyMs', 'latencyJitterMs', ...RATE_KEYS, 'retryAfterSeconds', 'hangMs', 'down', 'seed', 'failNext']);
  for (const k of Object.keys(f)) if (!allowed.has(k)) throw new Error(`unknown fault setting "${k}"`);
  const out: FaultConfig = {};
  for (const k of ['latencyMs', 'createLatencyMs', 'latencyJitterMs', 'retryAfterSeconds', 'hangMs', 'seed'] as const) {
    if (f[k] === undefined) continue;
    const v = f[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${k} must be a non-negative number`);
    out[k] = v;
  }
  for (const k of RATE_KEYS) {
    if (f[k] === undefined) continue;
    const v = f[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${k} must be a number in [0, 1]`);
    out[k] = v;
  }
  if (f.down !== undefined) {
    if (typeof f.down !== 'boolean') throw new Error('down must be a boolean');
    out.down = f.down;
  }
  if (f.failNext !== undefined) {
    const n = f.failNext as Record<string, unknown>;
    if (n === null || typeof n !== 'object') throw new Error('failNext must be an object');
    if (!FAULT_KINDS.includes(n.kind as FaultKind)) throw new Error(`failNext.kind must be one of ${FAULT_KINDS.join(', ')}`);
    if (typeof n.count !== 'number' || !Number.isInteger(n.count) || n.count < 0) throw new Error('failNext.count must be a non-negative integer');
    if (n.method !== undefined && typeof n.method !== 'string') throw new Error('failNext.method must be a string');
    if (n.path !== undefined && typeof n.path !== 'string') throw new Error('failNext.path must be a string');
    out.failNext = {
      kind: n.kind as FaultKind,
      count: n.count,
      ...(n.method ? { method: (n.method as string).toUpperCase() } : {}),
      ...(n.path ? { path: n.path as string } : {}),
    };
  }
  return out;
}

/** A small seeded PRNG (mulberry32): numbers in [0, 1). Also the chaos suite's (test/chaos/scenario.ts). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private cfg: FaultConfig = {};
  private rand: () => number = mulberry32(1);
  /** Faults injected so far, by kind (also exported as a metric). */
  readonly injected: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;

  constructor(initial?: FaultConfig) {
    if (initial) this.set(initial);
  }

  /** Replaces the whole configuration and re-seeds the PRNG. */
  set(cfg: FaultConfig): void {
    this.cfg = validateFaults(cfg);
    this.rand = mulberry32(this.cfg.seed ?? 1);
  }

  get(): FaultConfig {
    return structuredClone(this.cfg);
  }

  get down(): boolean {
    return this.cfg.down === true;
  }

  get retryAfterSeconds(): number {
    return Math.ceil(this.cfg.retryAfterSeconds ?? 1);
  }

  createLatencyMs(): number {
    return this.cfg.createLatencyMs ?? 0;
  }

  latencyMs(): number {
    const base = this.cfg.latencyMs ?? 0;
    const jitter = this.cfg.latencyJitterMs ? this.rand() * this.cfg.latencyJitterMs : 0;
    return base + jitter;
  }

  /**
   * The fault for a /v1 request before processing, or for its commit phase.
   * `phase: 'before'` draws rate_limited, unavailable, error, hang (in that
   * order, each only when the ones before it were not drawn);
   * `phase: 'after'` (writes that committed) draws the *_after_commit kinds.
   */
  decide(method: string, path: string, phase: 'before' | 'after'): FaultDecision {
    const retryAfterSeconds = this.retryAfterSeconds;
    const hang = this.cfg.hangMs !== undefined ? { hangMs: this.cfg.hangMs } : {};
    const hit = (kind: FaultKind): FaultDecision => {
      this.injected[kind]++;
      return { kind, retryAfterSeconds, ...hang };
    };
    if (phase === 'before' && this.cfg.down) return hit('unavailable');
    const n = this.cfg.failNext;
    if (n && n.count > 0 && isPhase(n.kind, phase) && (!n.method || n.method === method) && (!n.path || path.startsWith(n.path))) {
      n.count--;
      return hit(n.kind);
    }
    if (phase === 'before') {
      if (this.draw(this.cfg.rateLimitRate)) return hit('rate_limited');
      if (this.draw(this.cfg.unavailableRate)) return hit('unavailable');
      if (this.draw(this.cfg.errorRate)) return hit('error');
      if (this.draw(this.cfg.hangRate)) return hit('hang');
    } else if (this.draw(this.cfg.errorAfterCommitRate)) {
      return hit('error_after_commit');
    }
    return undefined;
  }

  private draw(rate: number | undefined): boolean {
    if (!rate) return false;
    return this.rand() < rate;
  }
}

function isPhase(kind: FaultKind, phase: 'before' | 'after'): boolean {
  return (kind === 'error_after_commit' || kind === 'hang_after_commit') === (phase === 'after');
}
