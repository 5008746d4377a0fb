/**
 * The fault suite (issue 10), one implementation for both callers:
 * `npm run chaos` (bench/chaos.ts, 1,000 tickets, results in bench/results/)
 * and CI (test/chaos/chaos.test.ts, 200 tickets).
 *
 * On a control plane of its own (its components are restarted), a booking
 * service as a child process on a data dir of its own, and two controller
 * replicas (the image's bundle on plain Node) with leader election:
 *
 *  1. N tickets are created, changed (seats, route, both) and deleted at
 *     random moments over the fault phase (--seed decides what and when);
 *  2. meanwhile, at random moments: the leader is SIGKILLed (a supervisor
 *     starts a new replica, as a Deployment would); the booking service
 *     answers 5% 429, 5% 503, 12% 500, 5% hangs and loses 8% of its write
 *     answers after committing (500); the kube-apiserver process is restarted
 *     (SIGKILL or SIGTERM); etcd is restarted once; the booking service is
 *     SIGKILLed once and started again on the same port and data dir;
 *  3. then the faults stop, and once the users' last change is in, every
 *     live ticket must be Ready within 60 s;
 *  4. checked: exactly one active booking per live ticket, matching its spec
 *     (route, seats) and its status.bookingRef; no active booking whose
 *     ticket is gone; bookings ever created (the service's /admin/stats) =
 *     distinct idempotency keys the controller sent (the service's request
 *     log); no ticket stuck in deletion; and the orphan sweep (the backstop)
 *     had nothing to cancel.
 *
 * The seed fixes the workload, the fault schedule and the booking service's
 * fault draws; the timing of processes is the machine's, so a failing seed
 * reproduces the same plan, not the same interleaving. Logs of every process
 * are kept in `logsDir`.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { cityKey } from '../../booking-api/types';
import { spawnBookingService, type ChildService } from '../../booking-service/child';
import { mulberry32, type FaultConfig } from '../../booking-service/faults';
import { DEFAULT_HUBS } from '../../booking-service/routes';
import { BookingClient, type Booking } from '../../controller/booking/client';
import { isAlreadyExists, isNotFound, KubeClient, PatchType, resourcePath } from '../../controller/runtime/client';
import { bundleController } from '../../image/controller-image';
import { resolveBinaries, type Binaries } from '../../testenv/binaries';
import { startCluster, type Cluster, type Component } from '../../testenv/cluster';
import type { Child } from '../support/child-process';
import { applyCrd, startController, TICKETS } from '../support/operator-env';

export interface BookingFaultMix {
  /** Fractions of all /v1 requests. */
  rateLimited: number;
  unavailable: number;
  error: number;
  hang: number;
  /** Fraction of the writes that got through: committed, then answered 500. */
  errorAfterCommit: number;
}

/** 5% 429, 5% 503, 12% 500, 5% hangs; 8% of the writes that get through lose their answer (500): about 20% 5xx in all. */
export const DEFAULT_BOOKING_FAULTS: BookingFaultMix = { rateLimited: 0.05, unavailable: 0.05, error: 0.14, hang: 0.05, errorAfterCommit: 0.08 };

export interface ChaosOptions {
  tickets: number;
  seed: number;
  /** How long the faults last. Default 40 s + 120 ms per ticket (200: 64 s; 1,000: 160 s). */
  faultMs?: number;
  /** Every live ticket Ready within this long of the faults stopping. Default 60 s. */
  convergeWithinMs?: number;
  /** How much longer to wait when they are not, to report the real time. Default 60 s. */
  graceMs?: number;
  bookingFaults?: BookingFaultMix;
  /** Controller replicas (default 2). */
  replicas?: number;
  /** Extra controller flags. */
  controllerArgs?: string[];
  binaries?: Binaries;
  /** Where process logs go (default a new temp dir). */
  logsDir?: string;
  log?: (msg: string) => void;
}

export interface FaultEvent {
  /** Seconds since the faults started. */
  at: number;
  kind: 'leader-kill' | 'kube-apiserver-restart' | 'etcd-restart' | 'booking-service-restart' | 'booking-faults-on' | 'booking-faults-off';
  detail: string;
  /** How long it took (restart until serving again). */
  ms?: number;
}

export interface ChaosResult {
  suite: 'chaos';
  seed: number;
  date: string;
  machine: { cpus: number; loadavgBefore: number[]; loadavgAfter: number[]; memGiB: number };
  config: { tickets: number; faultMs: number; convergeWithinMs: number; replicas: number; bookingFaults: BookingFaultMix; controllerArgs: string[] };
  workload: { created: number; seatChanges: number; routeChanges: number; seatAndRouteChanges: number; deleted: number; live: number; apiRetries: number };
  faults: {
    leaderKills: number;
    kubeApiserverRestarts: number;
    etcdRestarts: number;
    bookingServiceRestarts: number;
    /** Booking responses by injected fault kind, from the service's request log (a request in flight when the service was SIGKILLed is not in it). */
    booking: Record<string, number>;
    /** Booking requests while the faults were on (the shares are of these), and in the whole run. */
    bookingRequests: { total: number; status5xx: number; status429: number; hung: number; fiveXxShare: number; wholeRun: number };
    /** Controller processes that ended, by how. */
    controllerExits: { killedAsLeader: number; exitedOnTheirOwn: number };
    timeline: FaultEvent[];
  };
  timings: {
    setupS: number;
    faultPhaseS: number;
    /** From the faults stopping until the users' last change was in. */
    workloadTailS: number;
    /** From quiet (faults stopped, last change in) until every live ticket was Ready; null: not within convergeWithinMs + graceMs. */
    convergeS: number | null;
    totalS: number;
  };
  bookings: {
    created: number;
    idempotencyKeysRecorded: number;
    idempotencyKeysUsed: number;
    /** Keys sent for tickets deleted before a create under them committed: the deletion closed the owner, so they never book. */
    idempotencyKeysOfDeletedTickets: number;
    active: number;
    cancelled: number;
    createdUnderFire: number;
  };
  checks: {
    convergedInTime: boolean;
    duplicates: number;
    leaks: number;
    missing: number;
    mismatched: number;
    stuckInDeletion: number;
    notReady: number;
    /** Keys of live tickets that never created their booking (must be 0). */
    keysWithoutBooking: number;
    sweptByOrphanSweep: number;
  };
  /** One line per violation; empty when the run passed. */
  problems: string[];
  ok: boolean;
  logsDir: string;
}

// ---- seeded randomness -------------------------------------------------------

/** One seeded stream per purpose, so adding a fault does not change the workload. */
const stream = (seed: number, salt: number) => mulberry32((Math.imul(seed >>> 0, 2654435761) + Math.imul(salt, 40503)) >>> 0);
const between = (r: () => number, lo: number, hi: number) => lo + r() * (hi - lo);

/**
 * The booking service draws 429, 503, 500, hang one after the other, each
 * from what the ones before left; these are the rates that give the mix's
 * fractions of all requests.
 */
export function bookingFaultConfig(mix: BookingFaultMix, seed: number): FaultConfig {
  let left = 1;
  const rate = (share: number) => {
    const r = left > 0 ? Math.min(1, share / left) : 0;
    left -= share;
    return Math.round(r * 1e4) / 1e4;
  };
  return {
    rateLimitRate: rate(mix.rateLimited),
    unavailableRate: rate(mix.unavailable),
    errorRate: rate(mix.error),
    hangRate: rate(mix.hang),
    errorAfterCommitRate: mix.errorAfterCommit,
    retryAfterSeconds: 1,
    seed,
  };
}

// ---- the run -----------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface TicketPlan {
  name: string;
  spec: { from: string; to: string; number: number };
  uid?: string;
  deleted: boolean;
}

type Op = { at: number; i: number } & ({ kind: 'create' } | { kind: 'delete' } | { kind: 'seats' | 'route' | 'both'; spec: Partial<TicketPlan['spec']> });

/** The users' plan: creates over the first 40% of the phase; changes and deletes after each ticket's create, up to 85%. */
export function planWorkload(tickets: number, faultMs: number, seed: number): { plans: TicketPlan[]; ops: Op[] } {
  const r = stream(seed, 1);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const route = (not?: { from: string; to: string }) => {
    for (;;) {
      const from = pick(DEFAULT_HUBS);
      const to = pick(DEFAULT_HUBS);
      if (from !== to && !(not && from === not.from && to === not.to)) return { from, to };
    }
  };
  const seats = (not?: number) => {
    for (;;) {
      const n = 1 + Math.floor(r() * 10);
      if (n !== not) return n;
    }
  };
  const plans: TicketPlan[] = [];
  const ops: Op[] = [];
  const end = 0.85 * faultMs;
  for (let i = 0; i < tickets; i++) {
    const spec = { ...route(), number: seats() };
    plans.push({ name: `t-${String(i).padStart(4, '0')}`, spec, deleted: false });
    const created = (i / tickets) * 0.4 * faultMs;
    ops.push({ at: created, i, kind: 'create' });
    // Changes: 0 to 3 per ticket, at random moments after its create.
    const current = { ...spec };
    const times = Array.from({ length: Math.floor(r() * 4) }, () => between(r, created + 200, end)).sort((a, b) => a - b);
    for (const at of times) {
      const x = r();
      if (x < 0.4) {
        current.number = seats(current.number);
        ops.push({ at, i, kind: 'seats', spec: { number: current.number } });
      } else if (x < 0.75) {
        Object.assign(current, route(current));
        ops.push({ at, i, kind: 'route', spec: { from: current.from, to: current.to } });
      } else {
        Object.assign(current, route(current));
        current.number = seats(current.number);
        ops.push({ at, i, kind: 'both', spec: { ...current } });
      }
    }
    // 30% are deleted: a fifth of those right after their create (while its booking may be in flight).
    if (r() < 0.3) {
      const last = times.at(-1) ?? created;
      const at = r() < 0.2 ? created + between(r, 0, 1500) : between(r, last + 100, Math.max(last + 200, end));
      ops.push({ at: Math.max(at, last + 50), i, kind: 'delete' });
    }
  }
  ops.sort((a, b) => a.at - b.at);
  return { plans, ops };
}

/**
 * When each restart happens (ms after the faults start). Leader kills are not
 * on a clock: each leader is killed after leading for a random while
 * (leaderTenures), since a takeover alone takes up to ~10 s (an 8 s lease,
 * jittered retries) and kills on a clock kept landing on a leader that had
 * just begun, leaving nobody at work most of the time.
 */
export function planFaults(faultMs: number, seed: number): Array<{ at: number; kind: 'kube-apiserver' | 'etcd' | 'booking-service'; signal?: 'SIGKILL' | 'SIGTERM' }> {
  const r = stream(seed, 2);
  const out: Array<{ at: number; kind: 'kube-apiserver' | 'etcd' | 'booking-service'; signal?: 'SIGKILL' | 'SIGTERM' }> = [];
  const stop = faultMs - 5000;
  for (let t = between(r, 12_000, 20_000); t < stop; t += between(r, 25_000, 40_000)) out.push({ at: t, kind: 'kube-apiserver', signal: r() < 0.5 ? 'SIGKILL' : 'SIGTERM' });
  out.push({ at: between(r, 0.35, 0.6) * faultMs, kind: 'etcd', signal: r() < 0.5 ? 'SIGKILL' : 'SIGTERM' });
  out.push({ at: between(r, 0.2, 0.8) * faultMs, kind: 'booking-service', signal: 'SIGKILL' });
  return out.sort((a, b) => a.at - b.at);
}

/** How long each successive leader leads before it is SIGKILLed (ms): 4-12 s. */
/** Leaders SIGKILLed in every run, however slow the machine (the faults go on until then). */
export const MIN_LEADER_KILLS = 2;

export function leaderTenures(seed: number): () => number {
  const r = stream(seed, 4);
  return () => between(r, 4000, 12_000);
}

/** Runs fn on each item with at most `limit` at once. */
class Slots {
  private free: number;
  private waiting: Array<() => void> = [];
  constructor(limit: number) {
    this.free = limit;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`chaos: ${m}\n`));
  const seed = opts.seed;
  const faultMs = opts.faultMs ?? 40_000 + 120 * opts.tickets;
  const convergeWithinMs = opts.convergeWithinMs ?? 60_000;
  const graceMs = opts.graceMs ?? 60_000;
  const mix = opts.bookingFaults ?? DEFAULT_BOOKING_FAULTS;
  const replicas = opts.replicas ?? 2;
  const logsDir = opts.logsDir ?? mkdtempSync(path.join(os.tmpdir(), 'chaos-logs-'));
  mkdirSync(logsDir, { recursive: true });
  const loadavgBefore = os.loadavg().map((l) => round(l, 2));
  log(`seed ${seed}, ${opts.tickets} tickets, faults for ${faultMs / 1000} s; logs in ${logsDir}`);

  const problems: string[] = [];
  const timeline: FaultEvent[] = [];
  const restoreEnv = { FLIGHT_KUBECONFIG: process.env.FLIGHT_KUBECONFIG, FLIGHT_KUBECTL: process.env.FLIGHT_KUBECTL };
  let cluster: Cluster | undefined;
  let booking: ChildService | undefined;
  /** The booking service's token and data (the logs stay in logsDir). */
  let bookingsDir: string | undefined;
  const controllers: Array<{ id: string; child: Child; killed: boolean } | undefined> = [];
  let supervising = true;
  const exits = { killedAsLeader: 0, exitedOnTheirOwn: 0 };
  let swept = 0;
  const ns = 'chaos';

  // The booking service's request log: the keys the controller used, faults by kind, statuses.
  const keysUsed = new Set<string>();
  const injected: Record<string, number> = {};
  const requests = { total: 0, status5xx: 0, status429: 0, hung: 0 };
  const bookingLog = path.join(logsDir, 'booking-service.log');
  const onBookingLine = (line: string) => {
    appendFileSync(bookingLog, `${line}\n`);
    if (!line.includes('"msg":"request"')) return;
    let e: { path?: string; method?: string; status?: number; fault?: string; idempotencyKey?: string };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    if (!e.path?.startsWith('/v1/')) return;
    requests.total++;
    if (e.status === 0) requests.hung++;
    else if (e.status! >= 500) requests.status5xx++;
    else if (e.status === 429) requests.status429++;
    if (e.fault) injected[e.fault] = (injected[e.fault] ?? 0) + 1;
    if (e.method === 'POST' && e.path === '/v1/bookings' && e.idempotencyKey) keysUsed.add(e.idempotencyKey);
  };

  try {
    // ---- set-up ---------------------------------------------------------------
    cluster = await startCluster({ binaries: opts.binaries ?? resolveBinaries({ log: () => {} }), log: () => {} });
    process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
    process.env.FLIGHT_KUBECTL = cluster.binaries.kubectl;
    log(`control plane up in ${cluster.timings.ready} s (${cluster.dir})`);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const kube = KubeClient.fromKubeConfig(kc);
    /** One API call of the users or the harness, bounded: a restarting API server must not hang it. */
    const call = <T>(req: Parameters<KubeClient['request']>[0]) => kube.request<T>({ ...req, signal: AbortSignal.timeout(10_000) });
    await applyCrd();
    await call({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
    const bundle = path.join(logsDir, 'controller.js');
    writeFileSync(bundle, (await bundleController()).js);

    const dir = (bookingsDir = mkdtempSync(path.join(os.tmpdir(), 'chaos-bookings-')));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'chaos-token-0123456789\n', { mode: 0o600 });
    const dataDir = path.join(dir, 'data');
    const faultConfig = bookingFaultConfig(mix, seed);
    booking = await spawnBookingService({ dataDir, tokenFile, routes: 'unlimited', quiet: false, onLog: onBookingLine });
    const bookingUrl = booking.url;
    const bookingPort = booking.port;
    const auditor = new BookingClient({ baseUrl: bookingUrl, tokenFile, timeoutMs: 30_000 });
    const admin = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${bookingUrl}${p}`, {
        method,
        headers: { Authorization: 'Bearer chaos-token-0123456789', 'Content-Type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 200) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, any>>;
    };

    // ---- controllers: `replicas` slots, each restarted when its process ends, as a Deployment would ----
    const controllerArgs = [
      '--leader-elect',
      `--leader-election-namespace=${ns}`,
      // A hang ends at the client's timeout: 3 s rather than 10, so 5% hangs slow the replicas down without stalling them.
      '--booking-timeout=3',
      // The product's drift interval (startController's 5 s is for quick tests): 1,000 tickets re-read every 5 s would be load of our own making.
      '--drift-interval=60',
      ...(opts.controllerArgs ?? []),
    ];
    let generation = 0;
    const startSlot = (slot: number) => {
      const id = `replica-${slot}-${++generation}`;
      const child = startController({ bundle, namespace: ns, bookingUrl, tokenFile, args: [...controllerArgs, `--identity=${id}`], env: { KUBECONFIG: cluster!.kubeconfigPath, LOG_LEVEL: 'info' } });
      const entry = { id, child, killed: false };
      controllers[slot] = entry;
      // Every line to a file as it comes (child.lines keeps only the last 20,000), and the sweep's cancellations counted.
      const file = path.join(logsDir, `controller-${id}.log`);
      for (const s of [child.process.stdout!, child.process.stderr!]) {
        let buf = '';
        s.on('data', (chunk: string | Buffer) => {
          buf += chunk.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          if (!lines.length) return;
          appendFileSync(file, `${lines.join('\n')}\n`);
          for (const l of lines) if (l.includes('orphan sweep cancelled a booking')) swept++;
        });
      }
      void child.exited.then((code) => {
        if (!entry.killed) {
          exits.exitedOnTheirOwn++;
          if (supervising) log(`controller ${id} exited (code ${code}); starting a new one`);
        }
        if (supervising) setTimeout(() => supervising && controllers[slot] === entry && startSlot(slot), 1000);
      });
    };
    for (let s = 0; s < replicas; s++) startSlot(s);
    const holder = async (): Promise<string | undefined> => {
      const lease = await call<{ spec?: { holderIdentity?: string } }>({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/flight-operator-controller` });
      return lease.spec?.holderIdentity ?? undefined;
    };
    const leaderT0 = Date.now();
    for (;;) {
      const h = await holder().catch(() => undefined);
      if (h && controllers.some((c) => c?.id === h)) break;
      if (Date.now() - leaderT0 > 90_000) throw new Error(`no controller took the lease within 90 s:\n${controllers.map((c) => c?.child.tail(20)).join('\n---\n')}`);
      await sleep(250);
    }
    const setupS = (Date.now() - t0) / 1000;
    log(`set up in ${round(setupS)} s; faults on`);

    // ---- the fault phase ------------------------------------------------------
    const f0 = Date.now();
    const since = () => round((Date.now() - f0) / 1000, 2);
    let faultsOn = true;
    await admin('POST', '/admin/faults', faultConfig);
    timeline.push({ at: since(), kind: 'booking-faults-on', detail: JSON.stringify(faultConfig) });

    // The users.
    const { plans, ops } = planWorkload(opts.tickets, faultMs, seed);
    let apiRetries = 0;
    const counts = { created: 0, seatChanges: 0, routeChanges: 0, seatAndRouteChanges: 0, deleted: 0 };
    /** Retries what a restarting API server refuses or drops; `done` says whether an error means the change is in (409 on create, 404 on delete). */
    const retrying = async (what: string, fn: () => Promise<unknown>, done: (e: unknown) => boolean) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await fn();
          return;
        } catch (e) {
          if (done(e)) return;
          const code = (e as { code?: number }).code;
          if (typeof code === 'number' && code >= 400 && code < 500 && code !== 429 && code !== 409) throw new Error(`${what}: ${(e as Error).message}`);
          if (attempt > 600) throw new Error(`${what}: still failing after ${attempt} tries: ${(e as Error).message}`);
          apiRetries++;
          await sleep(250 + Math.min(attempt, 8) * 125);
        }
      }
    };
    const slots = new Slots(10);
    const chains = new Map<number, Promise<void>>();
    const ticketPath = (name?: string) => resourcePath(TICKETS, ns, name);
    const runOp = async (op: Op) => {
      const p = plans[op.i]!;
      if (op.kind === 'create') {
        await retrying(
          `create ${p.name}`,
          async () => {
            const t = await call<{ metadata: { uid: string } }>({ method: 'POST', path: ticketPath(), body: { apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: p.name }, spec: p.spec } });
            p.uid = t.metadata.uid;
          },
          (e) => isAlreadyExists(e), // an answer lost to a restart: it was created
        );
        if (!p.uid) {
          await retrying(`get ${p.name}`, async () => (p.uid = (await call<{ metadata: { uid: string } }>({ method: 'GET', path: ticketPath(p.name) })).metadata.uid), () => false);
        }
        counts.created++;
      } else if (op.kind === 'delete') {
        p.deleted = true;
        await retrying(`delete ${p.name}`, () => call({ method: 'DELETE', path: ticketPath(p.name) }), (e) => isNotFound(e));
        counts.deleted++;
      } else {
        Object.assign(p.spec, op.spec);
        await retrying(
          `patch ${p.name}`,
          () => call({ method: 'PATCH', path: ticketPath(p.name), body: { spec: op.spec }, contentType: PatchType.MergePatch }),
          () => false,
        );
        if (op.kind === 'seats') counts.seatChanges++;
        else if (op.kind === 'route') counts.routeChanges++;
        else counts.seatAndRouteChanges++;
      }
    };
    const workload = (async () => {
      const pending: Promise<void>[] = [];
      for (const op of ops) {
        await sleep(f0 + op.at - Date.now());
        const prev = chains.get(op.i) ?? Promise.resolve();
        const next = prev.then(() =>
          slots.run(() => runOp(op)).catch((e: Error) => {
            problems.push(`users: ${op.kind} of ${plans[op.i]!.name} failed: ${e.message}`);
          }),
        );
        chains.set(op.i, next);
        pending.push(next);
      }
      await Promise.all(pending);
    })();
    let workloadDoneAt = 0;
    const workloadDone = workload.then(() => void (workloadDoneAt = Date.now()));
    workloadDone.catch(() => undefined);

    // The faults.
    let controlPlane: Promise<unknown> = Promise.resolve(); // restarts of the API server and etcd, one at a time
    const restart = (component: Component, signal: 'SIGKILL' | 'SIGTERM') => {
      const run = controlPlane.then(async () => {
        const at = since();
        const r = await cluster!.restart(component, { signal, timeoutMs: 120_000 });
        timeline.push({ at, kind: component === 'etcd' ? 'etcd-restart' : 'kube-apiserver-restart', detail: `${signal}, pid ${r.oldPid} -> ${r.pid}`, ms: r.readyMs });
        log(`${at} s: ${component} restarted (${signal}), serving again after ${r.readyMs} ms`);
      });
      controlPlane = run.catch(() => undefined);
      return run;
    };
    // The leader killer: every leader is SIGKILLed after leading for its tenure, until 5 s before the faults stop.
    // On a loaded machine a takeover can take most of the window (restarts of etcd and the API server stall
    // the Lease), so the faults last until MIN_LEADER_KILLS leaders have died: a run is judged on what it
    // survived, not on what the clock allowed. The cap keeps a controller that never leads from hanging the run.
    const killUntil = f0 + faultMs - 5000;
    const killCap = killUntil + 120_000;
    const tenure = leaderTenures(seed);
    const leaderKiller = (async () => {
      let leading: { id: string; since: number; tenure: number } | undefined;
      let kills = 0;
      while (Date.now() < killUntil || (kills < MIN_LEADER_KILLS && Date.now() < killCap)) {
        await sleep(250);
        const h = await holder().catch(() => undefined);
        const c = controllers.find((x) => !!x && x.id === h && x.child.process.exitCode === null && x.child.process.signalCode === null);
        if (!c) continue;
        if (leading?.id !== c.id) leading = { id: c.id, since: Date.now(), tenure: tenure() };
        if (Date.now() - leading.since < leading.tenure) continue;
        const at = since();
        c.killed = true;
        exits.killedAsLeader++;
        await c.child.kill9();
        kills++;
        timeline.push({ at, kind: 'leader-kill', detail: `SIGKILL ${c.id} (pid ${c.child.pid}) after leading ${round((Date.now() - leading.since) / 1000)} s` });
        log(`${at} s: leader ${c.id} SIGKILLed`);
      }
    })();
    const restartBooking = async () => {
      const at = since();
      const t = Date.now();
      const oldPid = booking!.pid;
      await booking!.kill9();
      await sleep(1000 + stream(seed, 3)() * 2000);
      for (let attempt = 1; ; attempt++) {
        try {
          booking = await spawnBookingService({ dataDir, tokenFile, routes: 'unlimited', quiet: false, onLog: onBookingLine, port: bookingPort, ...(faultsOn ? { faults: faultConfig } : {}) });
          break;
        } catch (e) {
          if (attempt >= 5) throw e;
          await sleep(1000);
        }
      }
      timeline.push({ at, kind: 'booking-service-restart', detail: `SIGKILL pid ${oldPid}, started again on port ${bookingPort}, same data dir (pid ${booking.pid})`, ms: Date.now() - t });
      log(`${at} s: booking service SIGKILLed and started again`);
    };
    const faultTasks = planFaults(faultMs, seed).map(async (f) => {
      await sleep(f0 + f.at - Date.now());
      try {
        if (f.kind === 'booking-service') await restartBooking();
        else await restart(f.kind, f.signal!);
      } catch (e) {
        problems.push(`fault ${f.kind} at ${round(f.at / 1000)} s failed: ${(e as Error).message}`);
      }
    });

    await sleep(f0 + faultMs - Date.now());
    await Promise.all([...faultTasks, leaderKiller]);
    faultsOn = false;
    for (let attempt = 0; ; attempt++) {
      try {
        await admin('DELETE', '/admin/faults');
        break;
      } catch (e) {
        if (attempt > 20) throw e;
        await sleep(500);
      }
    }
    const faultsOffAt = Date.now();
    const underFire = { ...requests };
    timeline.push({ at: since(), kind: 'booking-faults-off', detail: 'DELETE /admin/faults' });
    log(`${since()} s: faults off (${timeline.filter((e) => e.kind === 'leader-kill').length} leader kills so far)`);
    await workloadDone;
    const quietAt = Date.now();
    const createdUnderFire = (await admin('GET', '/admin/stats')).bookings.created as number;

    // ---- convergence ------------------------------------------------------------
    type T = { metadata: { name: string; uid: string; generation: number; deletionTimestamp?: string }; spec: TicketPlan['spec']; status?: { observedGeneration?: number; bookingRef?: string; conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration?: number }> } };
    const live = plans.filter((p) => !p.deleted);
    const liveNames = new Set(live.map((p) => p.name));
    const readyNow = (t: T) => {
      const ready = t.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && ready.observedGeneration === t.metadata.generation && t.status?.observedGeneration === t.metadata.generation;
    };
    let items: T[] = [];
    let convergeS: number | null = null;
    const limit = quietAt + convergeWithinMs + graceMs;
    for (;;) {
      try {
        items = (await kube.list<T>(TICKETS, ns)).items;
        const ok = items.length === live.length && items.every((t) => liveNames.has(t.metadata.name) && !t.metadata.deletionTimestamp && readyNow(t));
        if (ok) {
          convergeS = round((Date.now() - quietAt) / 1000, 2);
          break;
        }
      } catch {
        /* the API server may still be warming up */
      }
      if (Date.now() > limit) break;
      await sleep(500);
    }
    const convergedInTime = convergeS !== null && convergeS * 1000 <= convergeWithinMs;
    log(convergeS === null ? `NOT converged within ${(convergeWithinMs + graceMs) / 1000} s of quiet` : `every live ticket Ready ${convergeS} s after quiet`);
    if (!convergedInTime) {
      problems.push(convergeS === null ? `live tickets not all Ready within ${(convergeWithinMs + graceMs) / 1000} s of the faults stopping` : `live tickets Ready only ${convergeS} s after the faults stopped (limit ${convergeWithinMs / 1000} s)`);
    }

    // ---- checks -------------------------------------------------------------------
    const all: Booking[] = await auditor.listBookings({});
    const stats = await admin('GET', '/admin/stats');
    const activeBy = new Map<string, Booking[]>();
    for (const b of all) if (b.state === 'active') activeBy.set(b.owner, [...(activeBy.get(b.owner) ?? []), b]);
    const byName = new Map(items.map((t) => [t.metadata.name, t]));
    const checks = { convergedInTime, duplicates: 0, leaks: 0, missing: 0, mismatched: 0, stuckInDeletion: 0, notReady: 0, keysWithoutBooking: 0, sweptByOrphanSweep: 0 };
    const liveUids = new Set<string>();
    for (const p of live) {
      const t = byName.get(p.name);
      if (!t) {
        checks.missing++;
        problems.push(`${p.name}: live ticket missing from the API server`);
        continue;
      }
      liveUids.add(t.metadata.uid);
      if (!readyNow(t)) {
        checks.notReady++;
        const ready = t.status?.conditions?.find((c) => c.type === 'Ready');
        problems.push(`${p.name}: not Ready for generation ${t.metadata.generation} (${ready ? `${ready.status} ${ready.reason}: ${ready.message}` : 'no Ready condition'})`);
      }
      const mine = activeBy.get(t.metadata.uid) ?? [];
      if (mine.length === 0) {
        checks.missing++;
        problems.push(`${p.name} (uid ${t.metadata.uid}): no active booking`);
      } else if (mine.length > 1) {
        checks.duplicates += mine.length - 1;
        problems.push(`${p.name} (uid ${t.metadata.uid}): ${mine.length} active bookings: ${mine.map((b) => `${b.id} ${b.from}->${b.to} x${b.seats}`).join(', ')}`);
      }
      if (t.spec.from !== p.spec.from || t.spec.to !== p.spec.to || t.spec.number !== p.spec.number) problems.push(`${p.name}: the spec is ${JSON.stringify(t.spec)}, not the users' last change ${JSON.stringify(p.spec)}`);
      const b = mine[0];
      if (b) {
        const want = t.spec;
        if (cityKey(b.from) !== cityKey(want.from) || cityKey(b.to) !== cityKey(want.to) || b.seats !== want.number) {
          checks.mismatched++;
          problems.push(`${p.name}: booking ${b.id} is ${b.from}->${b.to} x${b.seats}; the spec is ${want.from}->${want.to} x${want.number}`);
        } else if (mine.length === 1 && t.status?.bookingRef !== b.id) {
          checks.mismatched++;
          problems.push(`${p.name}: status.bookingRef ${t.status?.bookingRef} but the active booking is ${b.id}`);
        }
      }
    }
    for (const t of items) {
      if (t.metadata.deletionTimestamp) {
        checks.stuckInDeletion++;
        problems.push(`${t.metadata.name}: stuck in deletion since ${t.metadata.deletionTimestamp} (finalizer not removed)`);
      } else if (!liveNames.has(t.metadata.name)) {
        checks.stuckInDeletion++;
        problems.push(`${t.metadata.name}: deleted by the users but still there`);
      }
    }
    for (const [owner, bs] of activeBy) {
      if (liveUids.has(owner)) continue;
      checks.leaks += bs.length;
      const p = plans.find((x) => x.uid === owner);
      problems.push(`leak: ${bs.map((b) => b.id).join(', ')} active for ${p ? `deleted ticket ${p.name}` : `unknown owner ${owner}`} (${bs[0]!.ownerRef})`);
    }
    // Exactly once: each booking came from one recorded key the controller sent (a booking is
    // named by its key), and every key sent created its booking, except the keys of tickets
    // deleted before a create under them committed (deletion closes the owner: they never book).
    const created = stats.bookings.created as number;
    const recorded = stats.idempotencyKeys as number;
    const booked = new Set(all.map((b) => b.id));
    const unbooked = [...keysUsed].filter((k) => !booked.has(k));
    const ofDeleted = unbooked.filter((k) => !liveUids.has(k.split('.')[0]!));
    if (created !== recorded || created !== keysUsed.size - ofDeleted.length || [...booked].some((id) => !keysUsed.has(id))) {
      problems.push(
        `bookings created ${created}, idempotency keys recorded ${recorded}, distinct keys used ${keysUsed.size} of which ${ofDeleted.length} by tickets deleted before booking: created, recorded and keys used by the rest must be equal`,
      );
    }
    checks.keysWithoutBooking = unbooked.length - ofDeleted.length;
    if (checks.keysWithoutBooking) problems.push(`${checks.keysWithoutBooking} idempotency keys of live tickets never created their booking`);
    // The orphan sweep is the backstop: anything it cancelled, the reconcile left behind.
    supervising = false;
    for (const c of controllers) if (c) await c.child.stop(5000);
    checks.sweptByOrphanSweep = swept;
    if (swept) problems.push(`the orphan sweep cancelled ${swept} booking(s) the reconcile left behind (grep 'orphan sweep cancelled' ${logsDir}/controller-*.log)`);

    timeline.sort((a, b) => a.at - b.at);
    const leaderKills = timeline.filter((e) => e.kind === 'leader-kill').length;
    const result: ChaosResult = {
      suite: 'chaos',
      seed,
      date: new Date(t0).toISOString(),
      machine: { cpus: os.cpus().length, loadavgBefore, loadavgAfter: os.loadavg().map((l) => round(l, 2)), memGiB: round(os.totalmem() / 2 ** 30) },
      config: { tickets: opts.tickets, faultMs, convergeWithinMs, replicas, bookingFaults: mix, controllerArgs },
      workload: { ...counts, live: live.length, apiRetries },
      faults: {
        leaderKills,
        kubeApiserverRestarts: timeline.filter((e) => e.kind === 'kube-apiserver-restart').length,
        etcdRestarts: timeline.filter((e) => e.kind === 'etcd-restart').length,
        bookingServiceRestarts: timeline.filter((e) => e.kind === 'booking-service-restart').length,
        booking: injected,
        bookingRequests: { ...underFire, fiveXxShare: round(underFire.total ? underFire.status5xx / underFire.total : 0, 3), wholeRun: requests.total },
        controllerExits: exits,
        timeline,
      },
      timings: {
        setupS: round(setupS),
        faultPhaseS: round((faultsOffAt - f0) / 1000),
        workloadTailS: round(Math.max(0, (workloadDoneAt || quietAt) - faultsOffAt) / 1000),
        convergeS,
        totalS: round((Date.now() - t0) / 1000),
      },
      bookings: {
        created,
        idempotencyKeysRecorded: recorded,
        idempotencyKeysUsed: keysUsed.size,
        idempotencyKeysOfDeletedTickets: ofDeleted.length,
        active: stats.bookings.active as number,
        cancelled: stats.bookings.cancelled as number,
        createdUnderFire,
      },
      checks,
      problems,
      ok: problems.length === 0,
      logsDir,
    };
    writeFileSync(path.join(logsDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    supervising = false;
    for (const c of controllers) if (c) await c.child.stop(5000).catch(() => undefined);
    await booking?.stop().catch(() => undefined);
    if (bookingsDir) rmSync(bookingsDir, { recursive: true, force: true });
    await cluster?.stop().catch(() => undefined);
    process.env.FLIGHT_KUBECONFIG = restoreEnv.FLIGHT_KUBECONFIG;
    process.env.FLIGHT_KUBECTL = restoreEnv.FLIGHT_KUBECTL;
    if (restoreEnv.FLIGHT_KUBECONFIG === undefined) delete process.env.FLIGHT_KUBECONFIG;
    if (restoreEnv.FLIGHT_KUBECTL === undefined) delete process.env.FLIGHT_KUBECTL;
  }
}

/** The markdown summary: what was done, what broke, what held. */
export function summaryMarkdown(r: ChaosResult): string {
  const f = r.faults;
  const b = f.booking;
  const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
  return [
    `# npm run chaos (${r.date})`,
    '',
    `Seed **${r.seed}** (\`npm run chaos -- --seed ${r.seed} --tickets ${r.config.tickets}\` replays the plan); ${r.machine.cpus} CPUs, load average ${r.machine.loadavgBefore.join(' ')} before, ${r.machine.loadavgAfter.join(' ')} after; ${r.timings.totalS} s in all.`,
    '',
    `**${r.ok ? 'PASSED' : 'FAILED'}**: ${r.config.tickets} tickets, ${f.leaderKills} leader SIGKILLs, ${f.kubeApiserverRestarts} kube-apiserver restarts, ${f.etcdRestarts} etcd restart, ${f.bookingServiceRestarts} booking-service restart; every live ticket Ready ${r.timings.convergeS ?? '(never)'} s after the faults stopped; ${r.bookings.created} bookings created, ${r.checks.duplicates} duplicates, ${r.checks.leaks} leaks.`,
    '',
    '| figure | value |',
    '|---|---|',
    `| tickets created | ${r.workload.created} |`,
    `| changed: seats / route / both | ${r.workload.seatChanges} / ${r.workload.routeChanges} / ${r.workload.seatAndRouteChanges} |`,
    `| deleted / live at the end | ${r.workload.deleted} / ${r.workload.live} |`,
    `| fault phase | ${r.timings.faultPhaseS} s (users' last change in ${r.timings.workloadTailS} s after it) |`,
    `| leader SIGKILLed | ${f.leaderKills} (controller processes that exited on their own, e.g. lease lost: ${f.controllerExits.exitedOnTheirOwn}) |`,
    `| kube-apiserver process restarted | ${f.kubeApiserverRestarts} (${f.timeline.filter((e) => e.kind === 'kube-apiserver-restart').map((e) => `${e.detail.split(',')[0]} ${round((e.ms ?? 0) / 1000)} s`).join(', ')}) |`,
    `| etcd restarted | ${f.etcdRestarts} (${f.timeline.filter((e) => e.kind === 'etcd-restart').map((e) => `${e.detail.split(',')[0]} ${round((e.ms ?? 0) / 1000)} s`).join(', ')}) |`,
    `| booking service SIGKILLed and restarted (same port, same data) | ${f.bookingServiceRestarts} |`,
    `| booking requests while the faults were on / answered 5xx / 429 / hung | ${f.bookingRequests.total} / ${f.bookingRequests.status5xx} (${round(f.bookingRequests.fiveXxShare * 100)}%) / ${f.bookingRequests.status429} / ${f.bookingRequests.hung} (${f.bookingRequests.wholeRun} requests in the whole run) |`,
    `| booking faults injected: 500 / 503 / 429 / hang / 500 after commit | ${b.error ?? 0} / ${b.unavailable ?? 0} / ${b.rate_limited ?? 0} / ${b.hang ?? 0} / ${b.error_after_commit ?? 0} |`,
    `| time to converge (every live ticket Ready) | ${r.timings.convergeS ?? 'never'} s (limit ${r.config.convergeWithinMs / 1000} s): ${yes(r.checks.convergedInTime)} |`,
    `| bookings created (${r.bookings.createdUnderFire} while under fire) | ${r.bookings.created} |`,
    `| idempotency keys used / recorded / of tickets deleted before booking | ${r.bookings.idempotencyKeysUsed} / ${r.bookings.idempotencyKeysRecorded} / ${r.bookings.idempotencyKeysOfDeletedTickets} |`,
    `| active bookings at the end | ${r.bookings.active} (live tickets ${r.workload.live}) |`,
    `| duplicates | ${r.checks.duplicates} |`,
    `| leaks | ${r.checks.leaks} |`,
    `| missing / mismatched bookings | ${r.checks.missing} / ${r.checks.mismatched} |`,
    `| stuck in deletion | ${r.checks.stuckInDeletion} |`,
    `| cancelled by the orphan sweep (the backstop) | ${r.checks.sweptByOrphanSweep} |`,
    '',
    ...(r.problems.length ? ['Problems:', '', ...r.problems.slice(0, 50).map((p) => `- ${p}`), ''] : []),
    'Fault timeline (seconds after the faults started):',
    '',
    ...f.timeline.map((e) => `- ${e.at} s ${e.kind}: ${e.detail}${e.ms !== undefined ? ` (${e.ms} ms)` : ''}`),
    '',
  ].join('\n');
}
