/**
 * Leader election on a coordination.k8s.io/v1 Lease (client-go
 * tools/leaderelection semantics, controller-runtime defaults).
 *
 * - Acquire: every retryPeriod (jittered x1.2) try to take the Lease if it is
 *   free, released (empty holder) or expired. "Expired" is judged by OUR
 *   monotonic clock (performance.now) from when we last saw the record change
 *   (observedTime), not by the renewTime written by another machine nor by
 *   the wall clock, so neither clock skew nor a wall-clock jump can hand the
 *   lease to two processes.
 * - Every write is a PUT carrying the resourceVersion we read: two candidates
 *   racing for an expired lease cannot both win (the loser gets 409).
 * - Renew: every retryPeriod. The renew deadline runs from the START of the
 *   last successful renewal (never later than the moment others can first
 *   see it), and a timer aborts the onStartedLeading signal at that deadline,
 *   even while a renewal is still hanging; a timer can only fire late, so
 *   isLeader() compares the clock itself and is false from the deadline on.
 *   The deadline (10 s) is shorter than the lease (15 s) that others wait
 *   out from when THEY saw our last renewal, so we stop before anyone else
 *   can legally acquire. If another holder shows up we stop at once too.
 *   onStoppedLeading runs afterwards. The app must abort its work on the
 *   signal and exit in onStoppedLeading.
 * - stop(): if leading, release the lease (empty holder, 1 s duration) so a
 *   standby takes over on its next retry instead of waiting 15 s.
 */
import type { Registry } from 'prom-client';
import { jitter, sleep } from './backoff';
import { errorCode, type KubeClient } from './client';
import { noopLogger, type Logger } from './logger';
import { getOrCreateGauge } from './metrics';

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name, e.g. "<operator>-leader". */
  name: string;
  /** Unique per process; the pod name plus a random suffix is typical. */
  identity: string;
  /** How long a lease is valid after its last renew. Default 15000. */
  leaseDurationMs?: number;
  /** Give up leading if renewals fail for this long. Must be < leaseDurationMs. Default 10000. */
  renewDeadlineMs?: number;
  /** Wait between tries. Default 2000. */
  retryPeriodMs?: number;
  /** Monotonic clock in ms. Default performance.now (a test seam). */
  now?: () => number;
  /** Start the work; `signal` aborts when leadership ends. Errors are logged. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called once when leadership ends (lost or released) — exit the process here. */
  onStoppedLeading?: () => void;
  /** Someone (maybe us) is observed as leader. */
  onNewLeader?: (identity: string) => void;
  /** Release the lease on stop(). Default true. */
  releaseOnStop?: boolean;
  registry?: Registry;
  logger?: Logger;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

/** client-go's JitterFactor: waits between tries are retryPeriod x [1, 2.2). */
export const LEASE_JITTER = 1.2;

/**
 * The one rule for lease timings, the one the elector enforces (client-go's):
 * the renew deadline is shorter than the lease, and longer than a retry
 * period times the jitter factor. Returns which part is broken, or undefined.
 */
export function leaseTimingProblem(t: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }): 'renew-deadline' | 'retry-period' | undefined {
  if (!(t.renewDeadlineMs < t.leaseDurationMs)) return 'renew-deadline';
  if (!(t.retryPeriodMs * LEASE_JITTER < t.renewDeadlineMs)) return 'retry-period';
  return undefined;
}

/**
 * metav1.MicroTime: exactly six fractional digits. The apiserver parses it
 * with RFC3339Micro and rejects JavaScript's 3-digit toISOString() form.
 */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly logger: Logger;
  private readonly stopCtl = new AbortController();
  private leading = false;
  /** Monotonic time until which we may act as leader (start of the last successful renewal + renew deadline). */
  private leadingUntil = 0;
  private readonly now: () => number;
  private observed?: { spec: string; at: number; leaseSeconds: number; holder: string };
  private lastLeader = '';
  private running?: Promise<void>;
  private readonly gauge?: { set(v: number): void };

  constructor(private readonly opts: LeaderElectorOptions) {
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    const problem = leaseTimingProblem({ leaseDurationMs: this.leaseMs, renewDeadlineMs: this.renewMs, retryPeriodMs: this.retryMs });
    if (problem === 'renew-deadline') throw new Error('renewDeadlineMs must be less than leaseDurationMs');
    if (problem === 'retry-period') throw new Error(`retryPeriodMs*${LEASE_JITTER} must be less than renewDeadlineMs`);
    this.now = opts.now ?? (() => performance.now());
    this.logger = (opts.logger ?? noopLogger).child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    if (opts.registry) {
      const g = getOrCreateGauge(opts.registry, {
        name: 'leader_election_master_status',
        help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. \'name\' is the string used to identify the lease.',
        labelNames: ['name'] as const,
      });
      this.gauge = { set: (v) => g.set({ name: opts.name }, v) };
      this.gauge.set(0);
    }
  }

  /** True while leading and before the renew deadline (checked against the monotonic clock now, not at the next loop turn). */
  isLeader(): boolean {
    return this.leading && this.now() < this.leadingUntil;
  }

  /** Starts campaigning; resolves when leadership ends or stop() is called. Call once. */
  run(): Promise<void> {
    this.running ??= this.loop().catch((err) => this.logger.error('leader election loop crashed (bug)', { err }));
    return this.running;
  }

  /** Stop campaigning/leading; releases the lease if we hold it (unless releaseOnStop=false). */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const stop = this.stopCtl.signal;
    this.logger.info('attempting to acquire leader lease');
    let lastRenew = 0;
    while (!stop.aborted) {
      const started = this.now();
      if (await this.tryAcquireOrRenew(this.retryMs * 2)) {
        lastRenew = started;
        break;
      }
      await sleep(jitter(this.retryMs, LEASE_JITTER), stop);
    }
    if (stop.aborted) return;

    const leadCtl = new AbortController();
    let deadline: NodeJS.Timeout | undefined;
    // Re-armed after every successful renewal: fires at the renew deadline even
    // if the renewal in progress hangs, so work stops on time, not when the
    // hanging request gives up.
    const armDeadline = () => {
      this.leadingUntil = lastRenew + this.renewMs;
      clearTimeout(deadline);
      deadline = setTimeout(() => leadCtl.abort(new Error(`failed to renew the lease within ${this.renewMs} ms`)), Math.max(0, this.leadingUntil - this.now()));
    };
    armDeadline();
    this.leading = true;
    this.gauge?.set(1);
    this.logger.info('became leader');
    try {
      Promise.resolve(this.opts.onStartedLeading(leadCtl.signal)).catch((err) => this.logger.error('onStartedLeading failed', { err }));
    } catch (err) {
      this.logger.error('onStartedLeading failed', { err });
    }

    let lostReason = '';
    while (!stop.aborted) {
      await sleep(this.retryMs, stop);
      if (stop.aborted) break;
      const started = this.now();
      const left = this.leadingUntil - started;
      const ok = left > 0 && (await this.tryAcquireOrRenew(Math.ceil(left)));
      if (ok && !leadCtl.signal.aborted) {
        lastRenew = started;
        armDeadline();
        continue;
      }
      if (this.observed && this.observed.holder !== this.opts.identity && this.observed.holder !== '') {
        lostReason = `lease taken by ${this.observed.holder}`;
        break;
      }
      if (leadCtl.signal.aborted || this.now() >= this.leadingUntil) {
        lostReason = `failed to renew for ${this.renewMs} ms`;
        break;
      }
    }

    clearTimeout(deadline);
    this.leading = false;
    this.leadingUntil = 0;
    this.gauge?.set(0);
    leadCtl.abort(new Error(lostReason || 'leader election stopped'));
    if (lostReason) {
      this.logger.error('leader lease lost', { reason: lostReason });
    } else if (this.opts.releaseOnStop ?? true) {
      await this.release();
    }
    try {
      this.opts.onStoppedLeading?.();
    } catch (err) {
      this.logger.error('onStoppedLeading failed', { err });
    }
  }

  /** One attempt. True if we hold the lease afterwards. Never throws. */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const signal = AbortSignal.timeout(timeoutMs);
    const { client, namespace, name, identity } = this.opts;
    const now = new Date();
    const leaseSeconds = Math.ceil(this.leaseMs / 1000);
    try {
      let lease: Lease;
      try {
        lease = await client.request<Lease>({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`, signal });
      } catch (err) {
        if (errorCode(err) !== 404) throw err;
        const spec: LeaseSpec = {
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        };
        await client.create(leases, namespace, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec });
        this.observe(spec);
        return true;
      }
      const spec = lease.spec ?? {};
      this.observe(spec);
      const holder = spec.holderIdentity ?? '';
      const o = this.observed!;
      if (holder && holder !== identity && o.at + o.leaseSeconds * 1000 > this.now()) {
        return false; // someone else holds a valid lease
      }
      const next: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: holder === identity && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: holder === identity ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      };
      await client.request({
        method: 'PUT',
        path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
        body: { ...lease, spec: next },
        signal,
      });
      this.observe(next);
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (code === 409) this.logger.debug('lease changed under us (409); will re-read', {});
      else this.logger.warn('lease acquire/renew failed', { err, code });
      return false;
    }
  }

  private observe(spec: LeaseSpec): void {
    const key = JSON.stringify([spec.holderIdentity ?? '', spec.renewTime, spec.leaseDurationSeconds, spec.leaseTransitions]);
    if (this.observed?.spec !== key) {
      this.observed = { spec: key, at: this.now(), leaseSeconds: spec.leaseDurationSeconds ?? Math.ceil(this.leaseMs / 1000), holder: spec.holderIdentity ?? '' };
    }
    const holder = spec.holderIdentity ?? '';
    if (holder && holder !== this.lastLeader) {
      this.lastLeader = holder;
      this.logger.info('new leader observed', { leader: holder });
      try {
        this.opts.onNewLeader?.(holder);
      } catch (err) {
        this.logger.error('onNewLeader failed', { err });
      }
    }
  }

  /** Hand the lease back: empty holder + 1 s duration, guarded by resourceVersion. */
  private async release(): Promise<void> {
    const { client, namespace, name, identity } = this.opts;
    const signal = AbortSignal.timeout(this.renewMs);
    try {
      const lease = await client.request<Lease>({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`, signal });
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(new Date());
      await client.request({
        method: 'PUT',
        path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
        body: { ...lease, spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions ?? 0 } },
        signal,
      });
      this.logger.info('released leader lease');
    } catch (err) {
      this.logger.warn('could not release leader lease; others will wait for it to expire', { err, code: errorCode(err) });
    }
  }
}
