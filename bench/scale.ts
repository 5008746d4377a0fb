/**
 * npm run bench [-- --quick] [-- --max 50000] [-- --concurrency N] [-- --writers N] [-- --report]
 *   (BENCH_NODE_FLAGS="--flag ..." and BENCH_EXTRA_ENV='{"K":"V"}' try other Node.js settings)
 *
 * The controller against this machine's own limit, on a real control plane and
 * booking service (a fresh ephemeral cluster; the controller runs as the image
 * runs it, one esbuild bundle on plain Node, with the Deployment's NODE_OPTIONS):
 *
 *  1. ceiling: a plain writer makes equivalent FlightTickets (create + status
 *     update, the same concurrency as every phase: 20) with no controller
 *     involved: the API server's write rate. And the booking service's own
 *     create rate. Every throughput figure is reported beside them.
 *  2. throughput: 1,000 then 5,000 tickets created at once, create to Ready;
 *     API requests per ticket by verb (kube-apiserver's apiserver_request_total),
 *     booking calls per ticket, controller CPU seconds per ticket.
 *  3. latency: create to Ready p50/p95/p99 at a steady 20 tickets/s and at half
 *     the ceiling rate, with the booking service's latency (as the controller's
 *     client measures it) beside it.
 *  4. memory and start-up: RSS, V8 heap, code space and external memory idle
 *     (caches synced, no ticket yet) and holding 1,000, 10,000 and --max
 *     (default 50,000) tickets; the tickets past the controller's own are
 *     written by the plain writer in the shape the controller leaves them
 *     (booked, Ready), so the controller only reads them. Time from start to
 *     caches synced with 10,000; API writes during an idle minute over 10,000.
 *     Each held size is measured at rest (queue quiet, then two idle-GC
 *     checks): that is what the targets are judged on; the samples right after
 *     a burst or a restart are reported beside them.
 *
 * Writes bench/results/scale.json, scale.md (the summary, with each target,
 * its value and whether it is met) and scale-*.svg charts.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleController, CONTROLLER_NODE_FLAGS } from '../image/controller-image';
import { controllerRuntimeEnv } from '../infra/constructs/controller-deployment';
import { LATEST_RELEASE } from '../infra/releases';
import { KubeClient, PatchType, resourcePath } from '../controller/runtime/client';
import { startCluster } from '../testenv/cluster';
import { kubectl, loadKubeConfig } from '../testenv/kube';
import * as env from '../test/support/operator-env';
import { barChart, lineChart } from './svg-chart';
import { IDLE_GC_INTERVAL_MS } from '../controller/runtime/idle-gc';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const argNum = (name: string, def: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : def);
const CONCURRENCY = 20;
/**
 * The plain writer's connections to the API server, each its own KubeClient
 * (its own undici pool), taken in turn: requests spread over several
 * connections as several clients' would, so the creator is not one
 * connection's bound. Each throughput phase reports how fast it created.
 */
const WRITERS = argNum('writers', 4);
const SIZES = quick ? { ceiling: 300, burst1: 300, burst2: 600, held: 1000, max: 2000, steady: 10 } : { ceiling: 1000, burst1: 1000, burst2: 5000, held: 10_000, max: argNum('max', 50_000), steady: 30 };
/** The controller runs with the Deployment's own Node.js settings and the image's Node.js flags. */
const DEPLOYMENT_ENV = controllerRuntimeEnv(LATEST_RELEASE.version);
/** BENCH_EXTRA_ENV (a JSON object) adds environment variables to try; the results record them. */
const RUNTIME_ENV: Record<string, string> = { ...DEPLOYMENT_ENV, ...(process.env.BENCH_EXTRA_ENV ? JSON.parse(process.env.BENCH_EXTRA_ENV) : {}) };
/** On node's command line, as the image starts it; BENCH_NODE_FLAGS adds flags to try (space-separated). */
const NODE_FLAGS = [...CONTROLLER_NODE_FLAGS, ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
const RESULTS = path.join(__dirname, 'results');
/** When a memory sample was taken: the targets are judged at rest; the other samples show the peaks on the way. */
const AFTER_BURST = 'right after a burst';
const AFTER_START = 'right after a restart (start-up reconciles done)';
const AT_REST = 'at rest';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

/** Runs fn over items with `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

/** apiserver_request_total for flighttickets and events, summed by "VERB subresource". */
async function apiRequests(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await kubectl(['get', '--raw', '/metrics'])).stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1];
    if (resource !== 'flighttickets' && resource !== 'events') continue;
    const verb = /verb="([^"]*)"/.exec(line)![1];
    const sub = /subresource="([^"]*)"/.exec(line)?.[1];
    const key = `${verb}${resource === 'events' ? ' events' : sub ? ` ${sub}` : ''}`;
    out[key] = (out[key] ?? 0) + Number(line.split(' ').pop());
  }
  return out;
}
const diff = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
const WRITE_VERBS = /^(POST|PUT|PATCH|DELETE|APPLY|CREATE|UPDATE)/;
/** Writes to tickets other than their creation (the harness's POST), events aside. */
const ticketWrites = (d: Record<string, number>) => Object.entries(d).filter(([k]) => WRITE_VERBS.test(k) && k !== 'POST' && !k.endsWith('events')).reduce((s, [, v]) => s + v, 0);

async function main(): Promise<void> {
  const t0 = Date.now();
  const cluster = await startCluster({ log: () => {} });
  process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
  process.env.FLIGHT_KUBECTL = cluster.binaries.kubectl;
  const bookings = await env.startBookings({ routes: 'unlimited' });
  const kc = loadKubeConfig();
  // The plain writer: the controller's own HTTP client, so the ceiling is the API server's, not a slower client's.
  const writer = new Writer(Array.from({ length: WRITERS }, () => KubeClient.fromKubeConfig(kc)));
  await env.applyCrd();
  const bundle = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-controller-')), 'controller.js');
  writeFileSync(bundle, (await bundleController()).js);
  const result: Record<string, any> = { benchmark: 'npm run bench', quick, controllerConcurrency: argv.includes('--concurrency') ? argNum('concurrency', 0) : 'default', cpus: os.cpus().length, concurrency: CONCURRENCY, writers: WRITERS, controllerRuntimeEnv: RUNTIME_ENV, controllerNodeFlags: NODE_FLAGS };

  let controller: BenchController | undefined;
  try {
    // ---- 1. ceiling -------------------------------------------------------
    await kubectl(['create', 'namespace', 'ceiling']);
    const names = Array.from({ length: SIZES.ceiling }, (_, i) => `c-${i}`);
    let c0 = performance.now();
    await pool(names, CONCURRENCY, async (name) => {
      // No finalizer: nothing would remove it, and the namespace must go before the next phase counts requests.
      const t = await writer.create('ceiling', name);
      await writer.patch(t, 'status', { status: readyStatus(t, `b-${name}`) });
    });
    const apiWritesPerSecond = (2 * SIZES.ceiling) / ((performance.now() - c0) / 1000);
    await kubectl(['delete', 'namespace', 'ceiling', '--timeout=300s']);
    c0 = performance.now();
    await pool(names, CONCURRENCY, (name) => bookings.client.createBooking(`ceiling.${name}`, { from: 'Oslo', to: 'Rome', seats: 1, owner: `ceiling-${name}` }));
    const bookingCreatesPerSecond = SIZES.ceiling / ((performance.now() - c0) / 1000);
    result.ceiling = { objects: SIZES.ceiling, apiWritesPerSecond: round(apiWritesPerSecond), bookingCreatesPerSecond: round(bookingCreatesPerSecond), loadAverage: os.loadavg().map((l) => round(l, 2)) };
    log(`ceiling: ${round(apiWritesPerSecond)} API writes/s, ${round(bookingCreatesPerSecond)} booking creates/s`);

    // ---- the controller ---------------------------------------------------
    await kubectl(['create', 'namespace', 'bench']);
    controller = await startBenchController(bundle, bookings);
    // Idle: caches synced, no ticket yet, the start-up orphan sweep done.
    await sleep(5000);
    const idleMemory = { tickets: 0, when: 'idle', ...(await controller.memory()) };
    log(`idle: RSS ${idleMemory.rssMiB} MiB, heap used ${idleMemory.heapUsedMiB} MiB`);
    const readyAt = new Map<string, number>();
    // client-node's Watch ends a stream that was quiet for 30 s (the rests between phases):
    // watch again. A new watch lists what is there as ADDED; tickets already seen keep their time.
    let watching = true;
    let watch: AbortController | undefined;
    const watchReady = async (): Promise<void> => {
      watch = await new k8s.Watch(kc).watch(`/apis/flights.com/v1/namespaces/bench/flighttickets`, { allowWatchBookmarks: false }, (_type, obj: any) => {
        if (isReady(obj) && !readyAt.has(obj.metadata.name)) readyAt.set(obj.metadata.name, performance.now());
      }, () => {
        if (watching) watchReady().catch((e) => log(`watching tickets again failed: ${e}`));
      });
    };
    await watchReady();
    let made = 0;
    const create = (prefix: string, n: number) => Array.from({ length: n }, () => `${prefix}-${made++}`);

    // ---- 2. throughput ----------------------------------------------------
    const throughput = async (n: number) => {
      const batch = create(`burst${n}`, n);
      const [a0, b0, cpu0] = [await apiRequests(), await controller!.metric('booking_api_requests_total'), controller!.cpuSeconds()];
      const s = performance.now();
      await pool(batch, CONCURRENCY, (name) => writer.create('bench', name));
      const createSeconds = (performance.now() - s) / 1000;
      await until(() => batch.every((x) => readyAt.has(x)), 30 * 60_000, `${n} tickets Ready`);
      const seconds = (Math.max(...batch.map((x) => readyAt.get(x)!)) - s) / 1000;
      await sleep(2000); // the last writes' metrics
      const perVerb = diff(a0, await apiRequests());
      const writes = ticketWrites(perVerb);
      const r = {
        tickets: n,
        seconds: round(seconds, 2),
        ticketsPerSecond: round(n / seconds),
        // How fast the harness created them: well above ticketsPerSecond, the creator was not the bound.
        createdPerSecond: round(n / createSeconds),
        apiRequestsPerTicket: Object.fromEntries(Object.entries(perVerb).map(([k, v]) => [k, round(Number(v) / n, 2)])),
        ticketWritesPerTicket: round(writes / n, 2),
        bookingCallsPerTicket: round(((await controller!.metric('booking_api_requests_total')) - b0) / n, 2),
        cpuSecondsPerTicket: round((controller!.cpuSeconds() - cpu0) / n, 4),
      };
      log(`throughput ${n}: ${r.ticketsPerSecond}/s, ${r.ticketWritesPerTicket} ticket writes/ticket, ${r.cpuSecondsPerTicket} CPU s/ticket`);
      return r;
    };
    result.throughput = [await throughput(SIZES.burst1)];
    const memory: Array<Record<string, unknown>> = [idleMemory, { tickets: made, when: AFTER_BURST, ...(await controller.memory()) }];
    memory.push({ tickets: made, when: AT_REST, ...(await controller.memoryAtRest()) });

    // ---- 3. latency -------------------------------------------------------
    const writesPerTicket = result.throughput[0].ticketWritesPerTicket;
    const latency = async (rate: number) => {
      const batch = create(`rate${Math.round(rate)}`, Math.round(rate * SIZES.steady));
      const h0 = await controller!.histogram('booking_api_request_duration_seconds');
      const sentAt = new Map<string, number>();
      const s = performance.now();
      await Promise.all(batch.map(async (name, i) => {
        await sleep(Math.max(0, s + (i * 1000) / rate - performance.now()));
        sentAt.set(name, performance.now());
        await writer.create('bench', name);
      }));
      await until(() => batch.every((x) => readyAt.has(x)), 10 * 60_000, `${batch.length} tickets Ready`);
      const ms = batch.map((x) => readyAt.get(x)! - sentAt.get(x)!);
      const h = histogramDelta(h0, await controller!.histogram('booking_api_request_duration_seconds'));
      const r = {
        ratePerSecond: round(rate), tickets: batch.length,
        createToReadyMs: { p50: Math.round(pct(ms, 50)), p95: Math.round(pct(ms, 95)), p99: Math.round(pct(ms, 99)), max: Math.round(Math.max(...ms)) },
        bookingCallMs: { p50: histogramQuantile(h, 0.5), p99: histogramQuantile(h, 0.99) },
      };
      log(`latency at ${r.ratePerSecond}/s: p50 ${r.createToReadyMs.p50} ms, p99 ${r.createToReadyMs.p99} ms`);
      return r;
    };
    const halfCeilingRate = apiWritesPerSecond / writesPerTicket / 2;
    result.latency = [await latency(20), await latency(halfCeilingRate)];
    result.throughput.push(await throughput(SIZES.burst2));
    memory.push({ tickets: made, when: AFTER_BURST, ...(await controller.memory()) });

    // ---- 4. memory at scale, idle cost, start-up -----------------------------
    watching = false;
    watch?.abort();
    await populate(writer, bookings, 'bench', SIZES.held - made);
    made = SIZES.held;
    await controller.child.stop();
    let started = performance.now();
    controller = await startBenchController(bundle, bookings);
    const syncedSeconds = (controller.syncedAt - started) / 1000;
    await controller.settled();
    memory.push({ tickets: made, when: AFTER_START, ...(await controller.memory()) });
    const [i0, b0] = [await apiRequests(), await controller.metric('booking_api_requests_total')];
    await sleep(quick ? 15_000 : 60_000);
    const idle = diff(i0, await apiRequests());
    result.idle = { tickets: made, seconds: quick ? 15 : 60, ticketWrites: ticketWrites(idle), apiRequests: idle, bookingCalls: (await controller.metric('booking_api_requests_total')) - b0 };
    result.startup = { tickets: made, secondsToCachesSynced: round(syncedSeconds, 2) };
    memory.push({ tickets: made, when: AT_REST, ...(await controller.memoryAtRest()) });
    log(`${made} tickets: caches synced ${round(syncedSeconds, 2)} s after start; idle writes ${result.idle.ticketWrites}`);

    await populate(writer, bookings, 'bench', SIZES.max - made);
    made = SIZES.max;
    await controller.child.stop();
    result.startup.maxTickets = made;
    try {
      started = performance.now();
      controller = await startBenchController(bundle, bookings);
      result.startup.secondsToCachesSyncedAtMax = round((controller.syncedAt - started) / 1000, 2);
      await controller.settled();
      memory.push({ tickets: made, when: AFTER_START, ...(await controller.memory()) });
      memory.push({ tickets: made, when: AT_REST, ...(await controller.memoryAtRest()) });
    } catch (e) {
      // Past the heap cap the controller dies: that is a result too.
      result.atMax = { tickets: made, failed: String(e).slice(0, 2000) };
      log(`at ${made} tickets: ${result.atMax.failed}`);
    }
    result.memory = memory;
    result.loadAverage = os.loadavg().map((l) => round(l, 2));
    result.seconds = Math.round((Date.now() - t0) / 1000);
    result.at = new Date().toISOString();
    writeResults(result);
  } finally {
    await controller?.child.stop();
    await bookings.service.stop();
    await cluster.stop();
  }
}

class Writer {
  private next = 0;
  constructor(private readonly clients: KubeClient[]) {}
  private client(): KubeClient {
    return this.clients[this.next++ % this.clients.length];
  }
  create(namespace: string, name: string, metadata: Record<string, unknown> = {}): Promise<env.Ticket> {
    return this.client().request<env.Ticket>({ method: 'POST', path: resourcePath(env.TICKETS, namespace), body: ticketBody(name, metadata) });
  }
  patch(t: env.Ticket, subresource: 'status' | '', body: unknown): Promise<env.Ticket> {
    const p = resourcePath(env.TICKETS, t.metadata.namespace, t.metadata.name, subresource || undefined);
    return this.client().request<env.Ticket>({ method: 'PATCH', path: p, body, contentType: PatchType.MergePatch });
  }
}

function ticketBody(name: string, metadata: Record<string, unknown> = {}) {
  return { apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name, ...metadata }, spec: { from: 'Paris', to: 'Tokyo', number: 1 } };
}

function readyStatus(t: env.Ticket, bookingRef: string) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const generation = t.metadata.generation;
  return {
    observedGeneration: generation, bookingRef, seats: 1, route: 'Paris -> Tokyo',
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Booked', message: `booked ${bookingRef}: Paris -> Tokyo, 1 seats`, observedGeneration: generation, lastTransitionTime: now },
      { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', message: 'the booking API accepted the last change', observedGeneration: generation, lastTransitionTime: now },
    ],
  };
}

function isReady(t: any): boolean {
  const r = t?.status?.conditions?.find((c: any) => c.type === 'Ready');
  return r?.status === 'True' && r.observedGeneration === t.metadata.generation;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * n tickets as the controller leaves them: finalizer, booked (the booking made
 * in the service for the ticket's uid), Ready, the external-name annotation.
 */
async function populate(writer: Writer, bookings: env.BookingEnv, namespace: string, n: number): Promise<void> {
  if (n <= 0) return;
  const s = performance.now();
  const names = Array.from({ length: n }, (_, i) => `held-${Date.now().toString(36)}-${i}`);
  await pool(names, CONCURRENCY, async (name) => {
    const t = await writer.create(namespace, name, { finalizers: ['flights.com/booking'] });
    const { booking } = await bookings.client.createBooking(`${t.metadata.uid}.populate`, { from: 'Paris', to: 'Tokyo', seats: 1, owner: t.metadata.uid, ownerRef: `${namespace}/${name}` });
    await writer.patch(t, 'status', { status: readyStatus(t, booking.id) });
    await writer.patch(t, '', { metadata: { annotations: { 'flights.com/external-name': booking.id } } });
  });
  log(`populated ${n} booked, Ready tickets in ${round((performance.now() - s) / 1000)} s`);
}

type Histogram = Map<number, number>;
function histogramDelta(a: Histogram, b: Histogram): Histogram {
  return new Map([...b].map(([le, v]) => [le, v - (a.get(le) ?? 0)]));
}
/** Upper bound of the bucket holding quantile q, in ms (what a histogram can tell). */
function histogramQuantile(h: Histogram, q: number): number {
  const les = [...h.keys()].sort((x, y) => x - y);
  const total = h.get(Infinity) ?? 0;
  const le = les.find((x) => h.get(x)! >= q * total);
  return le === undefined || le === Infinity ? NaN : round(le * 1000, 1);
}

type BenchController = Awaited<ReturnType<typeof startBenchController>>;

async function startBenchController(bundle: string, bookings: env.BookingEnv) {
  const child = env.startController({
    bundle,
    namespace: 'bench',
    bookingUrl: bookings.service.url,
    tokenFile: bookings.tokenFile,
    // The shipped defaults, except: no drift re-reads inside the run, metrics on a free port; --concurrency to compare.
    args: ['--drift-interval=600', '--metrics-bind-address=127.0.0.1:0', ...(argv.includes('--concurrency') ? [`--concurrency=${argNum('concurrency', 0)}`] : [])],
    env: { LOG_LEVEL: 'info', ...RUNTIME_ENV },
    nodeFlags: NODE_FLAGS,
  });
  let exitCode: number | null | undefined;
  void child.exited.then((c) => (exitCode = c));
  await until(() => {
    if (exitCode !== undefined) throw new Error(`the controller exited (${exitCode}) before its caches synced:\n${child.tail()}`);
    return child.lines.some((l) => l.includes('caches synced'));
  }, 10 * 60_000, 'caches synced');
  const syncedAt = performance.now();
  const port = await env.metricsPort(child);
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const metric = async (prefix: string) => (await metrics()).split('\n').filter((l) => l.startsWith(prefix)).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
  const stat = () => readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const statusKiB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
  const running = {
    child, syncedAt, metrics, metric,
    cpuSeconds: () => (Number(stat()[11]) + Number(stat()[12])) / 100, // utime + stime, in clock ticks of 10 ms
    rssMiB: () => statusKiB('VmRSS') / 1024,
    async memory() {
      return {
        rssMiB: round(running.rssMiB()),
        // RSS split: pages of files (the Node binary, mostly) and anonymous memory (V8's heap, malloc, stacks).
        rssFileMiB: round(statusKiB('RssFile') / 1024),
        rssAnonMiB: round(statusKiB('RssAnon') / 1024),
        heapUsedMiB: round((await metric('nodejs_heap_size_used_bytes')) / 2 ** 20),
        heapTotalMiB: round((await metric('nodejs_heap_size_total_bytes')) / 2 ** 20),
        externalMiB: round((await metric('nodejs_external_memory_bytes')) / 2 ** 20),
        // V8's code space: machine code of optimized functions (bytecode lives in the old space).
        codeMiB: round((await metric('nodejs_heap_space_size_used_bytes{space="code"}')) / 2 ** 20),
      };
    },
    /**
     * Memory once the controller has rested: the work queue quiet, then long
     * enough for the idle GC's two quiet checks (controller/runtime/idle-gc.ts),
     * so a burst's garbage and V8's grown heap are not counted as held.
     */
    async memoryAtRest() {
      await running.settled();
      await sleep(2.5 * IDLE_GC_INTERVAL_MS);
      return { ...(await running.memory()), idleGcs: await metric('controller_runtime_idle_gc_total') };
    },
    async histogram(name: string) {
      const h: Histogram = new Map();
      for (const l of (await metrics()).split('\n')) {
        const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(l);
        if (m) h.set(m[1] === '+Inf' ? Infinity : Number(m[1]), (h.get(m[1] === '+Inf' ? Infinity : Number(m[1])) ?? 0) + Number(m[2]));
      }
      return h;
    },
    /** The start-up wave of reconciles is over: the queue is empty and nothing runs. */
    async settled() {
      for (let quiet = 0; quiet < 3; ) {
        await sleep(1000);
        if (exitCode !== undefined) throw new Error(`the controller exited (${exitCode}) before its start-up reconciles were done:\n${child.tail()}`);
        quiet = (await metric('workqueue_depth')) === 0 && (await metric('controller_runtime_active_workers')) === 0 ? quiet + 1 : 0;
      }
    },
  };
  return running;
}

function writeResults(r: Record<string, any>): void {
  mkdirSync(RESULTS, { recursive: true });
  const name = r.quick ? 'scale-quick' : 'scale';
  const ceilingTicketsPerSecond = r.ceiling.apiWritesPerSecond / r.throughput[0].ticketWritesPerTicket;
  const idle = r.memory.find((m: any) => m.tickets === 0);
  const resting = r.memory.filter((m: any) => m.when === AT_REST);
  const mem = (n: number) => resting.find((m: any) => m.tickets >= n && m.tickets < n * 1.5) ?? resting.find((m: any) => m.tickets >= n);
  // A size the run did not hold (--quick stops at 2,000) is not measured, not missed.
  const memTarget = (target: string, m: any, limitMiB: number) =>
    m ? [target, `${m.rssMiB} MiB (${m.tickets} tickets, at rest)`, m.rssMiB <= limitMiB] : [target, 'not held in this run', null];
  const targets = [
    ['throughput ≥ 90% of API write ceiling ÷ writes per ticket', `${r.throughput[0].ticketsPerSecond}/s of ${round(ceilingTicketsPerSecond)}/s (${Math.round((100 * r.throughput[0].ticketsPerSecond) / ceilingTicketsPerSecond)}%)`, r.throughput[0].ticketsPerSecond >= 0.9 * ceilingTicketsPerSecond],
    ['2 ticket writes from create to Ready (events aside)', `${r.throughput[0].ticketWritesPerTicket}`, r.throughput[0].ticketWritesPerTicket <= 2],
    ['p99 create to Ready ≤ 100 ms at 20/s', `${r.latency[0].createToReadyMs.p99} ms`, r.latency[0].createToReadyMs.p99 <= 100],
    [`p99 create to Ready ≤ 1 s at half the ceiling (${r.latency[1].ratePerSecond}/s)`, `${r.latency[1].createToReadyMs.p99} ms`, r.latency[1].createToReadyMs.p99 <= 1000],
    ...(idle ? [['RSS ≤ 55 MiB idle (caches synced, 0 tickets)', `${idle.rssMiB} MiB`, idle.rssMiB <= 55]] : []),
    memTarget('RSS ≤ 70 MiB holding 1,000', mem(1000), 70),
    memTarget('RSS ≤ 100 MiB holding 10,000', mem(10_000), 100),
    ['caches synced with 10,000 in ≤ 3 s', `${r.startup.secondsToCachesSynced} s`, r.startup.secondsToCachesSynced <= 3],
    ['0 API writes in an idle period over 10,000 Ready tickets', `${r.idle.ticketWrites} in ${r.idle.seconds} s`, r.idle.ticketWrites === 0],
  ];
  r.targets = targets.map(([target, value, met]) => ({ target, value, met }));
  writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(path.join(RESULTS, `${name}-latency.svg`), barChart('create to Ready (ms)', r.latency.flatMap((l: any) => ['p50', 'p95', 'p99'].map((p) => ({ label: `${p} @${l.ratePerSecond}/s`, value: l.createToReadyMs[p] })))));
  writeFileSync(path.join(RESULTS, `${name}-memory.svg`), lineChart('controller memory at rest (MiB) by tickets held', [idle, ...resting].map((m: any) => m.tickets), { RSS: [idle, ...resting].map((m: any) => m.rssMiB), 'heap used': [idle, ...resting].map((m: any) => m.heapUsedMiB) }));
  writeFileSync(path.join(RESULTS, `${name}-throughput.svg`), barChart('tickets per second', [
    { label: 'API ceiling ÷ writes/ticket', value: round(ceilingTicketsPerSecond) },
    ...r.throughput.map((t: any) => ({ label: `${t.tickets} at once`, value: t.ticketsPerSecond })),
  ]));
  const md = [
    `# npm run bench${r.quick ? ' -- --quick' : ''} (${r.at})`,
    '',
    `${r.cpus} CPUs, load average at the end ${r.loadAverage.join(' ')}; every phase at concurrency ${r.concurrency} over ${r.writers ?? 1} writer connection(s); controller --concurrency ${r.controllerConcurrency}; controller env \`${Object.entries(r.controllerRuntimeEnv).map(([k, v]) => `${k}=${v}`).join(' ')}\`${r.controllerNodeFlags ? `, node flags \`${r.controllerNodeFlags.join(' ')}\`` : ''}; ${r.seconds} s in all.`,
    '',
    `Ceiling (${r.ceiling.objects} objects, no controller): **${r.ceiling.apiWritesPerSecond} API writes/s**, **${r.ceiling.bookingCreatesPerSecond} booking creates/s**.`,
    '',
    '| target | measured | met |', '|---|---|---|',
    ...r.targets.map((t: any) => `| ${t.target} | ${t.value} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`),
    '',
    '| throughput | tickets/s | created/s | ticket writes/ticket | booking calls/ticket | CPU s/ticket | API requests/ticket by verb |', '|---|---|---|---|---|---|---|',
    ...r.throughput.map((t: any) => `| ${t.tickets} at once | ${t.ticketsPerSecond} | ${t.createdPerSecond ?? '-'} | ${t.ticketWritesPerTicket} | ${t.bookingCallsPerTicket} | ${t.cpuSecondsPerTicket} | ${Object.entries(t.apiRequestsPerTicket).map(([k, v]) => `${k} ${v}`).join(', ')} |`),
    '',
    '| latency | p50 | p95 | p99 | max | booking call p50 / p99 (bucket bound) |', '|---|---|---|---|---|---|',
    ...r.latency.map((l: any) => `| ${l.ratePerSecond}/s (${l.tickets} tickets) | ${l.createToReadyMs.p50} ms | ${l.createToReadyMs.p95} ms | ${l.createToReadyMs.p99} ms | ${l.createToReadyMs.max} ms | ${l.bookingCallMs.p50} / ${l.bookingCallMs.p99} ms |`),
    '',
    '| tickets held | when | RSS MiB | of it files / anonymous MiB | heap used MiB | heap total MiB | code space MiB | external MiB |', '|---|---|---|---|---|---|---|---|',
    ...r.memory.map((m: any) => `| ${m.tickets} | ${m.when ?? '-'} | ${m.rssMiB} | ${m.rssFileMiB ?? '-'} / ${m.rssAnonMiB ?? '-'} | ${m.heapUsedMiB} | ${m.heapTotalMiB} | ${m.codeMiB ?? '-'} | ${m.externalMiB} |`),
    '',
    `At rest: the work queue quiet, then ${(2.5 * IDLE_GC_INTERVAL_MS) / 1000} s, so the idle GC (controller/runtime/idle-gc.ts) has had its two quiet checks.`,
    '',
    `Start-up: caches synced ${r.startup.secondsToCachesSynced} s after start with ${r.idle.tickets} tickets, ${r.startup.secondsToCachesSyncedAtMax ?? '(failed)'} s with ${r.startup.maxTickets}.${r.atMax ? ` At ${r.atMax.tickets} tickets: ${r.atMax.failed.split('\n')[0]}` : ''} Idle ${r.idle.seconds} s over ${r.idle.tickets} Ready tickets: ${r.idle.ticketWrites} ticket writes, ${r.idle.bookingCalls} booking calls.`,
    '',
    `![latency](${name}-latency.svg) ![throughput](${name}-throughput.svg) ![memory](${name}-memory.svg)`,
    '',
  ];
  writeFileSync(path.join(RESULTS, `${name}.md`), md.join('\n'));
  console.log(md.join('\n'));
}

// `-- --report`: rewrite the summary and charts from the last results, without measuring again.
(argv.includes('--report') ? Promise.resolve(writeResults(JSON.parse(readFileSync(path.join(RESULTS, quick ? 'scale-quick.json' : 'scale.json'), 'utf8')))) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
