/**
 * npm run bench:controller [-- --seq 20 --burst 300]
 *
 * The controller on a real control plane and booking service (a fresh
 * ephemeral cluster, or the one FLIGHT_KUBECONFIG names):
 *  1. latency: the seed's ticket, created one at a time, until Ready (p50/p99/max);
 *  2. throughput: a burst of tickets created at once, until all are Ready;
 *  3. memory: the controller's RSS holding them;
 *  4. idle cost: API writes and booking calls per minute with nothing to do.
 * Prints the numbers and writes bench/results/controller.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { bundleController } from '../image/controller-image';
import os from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../testenv/cluster';
import * as k8s from '@kubernetes/client-node';
import * as env from '../test/support/operator-env';
import { kubectl } from '../testenv/kube';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main(): Promise<void> {
  const seq = arg('seq', 20);
  const burst = arg('burst', 300);
  let cluster: Cluster | undefined;
  if (!process.env.FLIGHT_KUBECONFIG) {
    cluster = await startCluster({ log: () => {} });
    process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
    process.env.FLIGHT_KUBECTL = cluster.binaries.kubectl;
  }
  const ns = `bench-${process.pid}`;
  await env.applyCrd();
  await kubectl(['create', 'namespace', ns]);
  const bookings = await env.startBookings({ routes: 'unlimited' });
  // The controller as the image runs it: one esbuild bundle on plain Node.
  const bundleFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'controller-')), 'controller.js');
  writeFileSync(bundleFile, (await bundleController()).js);
  const controller = env.startController({
    bundle: bundleFile,
    namespace: ns,
    bookingUrl: bookings.service.url,
    tokenFile: bookings.tokenFile,
    args: ['--drift-interval=60', '--metrics-bind-address=127.0.0.1:0'],
    env: { LOG_LEVEL: 'info', NODE_OPTIONS: process.env.CONTROLLER_NODE_OPTIONS ?? '' },
  });
  const rss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${controller.pid}/status`, 'utf8'))![1]) / 1024;
  const api = env.ticketsApi();
  const isReady = (t: any) => {
    const r = t?.status?.conditions?.find((c: any) => c.type === 'Ready');
    return r?.status === 'True' && r.observedGeneration === t.metadata.generation;
  };
  try {
    // Warm-up: the controller process is up and its cache synced.
    await env.createTicket(ns, 'warmup', { from: 'Cairo', to: 'London', number: 1 });
    await env.waitForReady(ns, 'warmup', 60_000, controller);
    const baselineRssMiB = rss();

    // 1. Latency, one ticket at a time, watched (not polled) for a fair clock.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(process.env.FLIGHT_KUBECONFIG!);
    const readyAt = new Map<string, number>();
    const watch = await new k8s.Watch(kc).watch(`/apis/flights.com/v1/namespaces/${ns}/flighttickets`, {}, (_type, obj: any) => {
      if (isReady(obj) && !readyAt.has(obj.metadata.name)) readyAt.set(obj.metadata.name, performance.now());
    }, () => {});
    const latencies: number[] = [];
    for (let i = 0; i < seq; i++) {
      const name = `seq-${i}`;
      const t0 = performance.now();
      await env.createTicket(ns, name, { from: 'Cairo', to: 'London', number: 2 });
      while (!readyAt.has(name)) await new Promise((r) => setTimeout(r, 5));
      latencies.push(readyAt.get(name)! - t0);
    }

    // 2. Throughput: a burst created 20 at a time, until all Ready.
    const b0 = performance.now();
    const names = Array.from({ length: burst }, (_, i) => `burst-${i}`);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => env.createTicket(ns, n, { from: 'Paris', to: 'Tokyo', number: 1 })));
    const created = performance.now() - b0;
    while (!names.every((n) => readyAt.has(n))) await new Promise((r) => setTimeout(r, 20));
    const burstSeconds = (Math.max(...names.map((n) => readyAt.get(n)!)) - b0) / 1000;
    watch.abort();

    // 3. Memory with everything cached.
    const port = Number(controller.lines.map((l) => /"metrics":true.*"port":(\d+)/.exec(l)?.[1]).find(Boolean));
    const metric = async (name: string) =>
      (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith(name))
        .reduce((s: number, l: string) => s + Number(l.split(' ').pop()), 0);
    const rssMiB = rss();
    const heapMiB = (await metric('nodejs_heap_size_used_bytes')) / 1048576;
    const heapTotalMiB = (await metric('nodejs_heap_size_total_bytes')) / 1048576;
    const externalMiB = (await metric('nodejs_external_memory_bytes')) / 1048576;

    // 4. Idle: one minute with nothing to change.
    const writes = async () => (await metric('rest_client_requests_total{code="200",method="PATCH"')) + (await metric('rest_client_requests_total{code="201",method="POST"'));
    const [w0, b0calls] = [await writes(), await metric('booking_api_requests_total')];
    await new Promise((r) => setTimeout(r, 60_000));
    const idleWrites = (await writes()) - w0;
    const idleBookingCalls = (await metric('booking_api_requests_total')) - b0calls;

    const result = {
      benchmark: 'controller on a real control plane and booking service',
      sequential: { tickets: seq, readyP50Ms: Math.round(pct(latencies, 50)), readyP99Ms: Math.round(pct(latencies, 99)), readyMaxMs: Math.round(Math.max(...latencies)) },
      burst: { tickets: burst, createSeconds: +(created / 1000).toFixed(2), allReadySeconds: +burstSeconds.toFixed(2), ticketsPerSecond: +(burst / burstSeconds).toFixed(1) },
      memory: {
        tickets: seq + burst + 1,
        baselineRssMiB: +baselineRssMiB.toFixed(1),
        controllerRssMiB: +rssMiB.toFixed(1),
        heapUsedMiB: +heapMiB.toFixed(1),
        heapTotalMiB: +heapTotalMiB.toFixed(1),
        externalMiB: +externalMiB.toFixed(1),
        nodeOptions: process.env.CONTROLLER_NODE_OPTIONS ?? '',
      },
      idleMinute: { apiServerWrites: idleWrites, bookingCalls: idleBookingCalls, tickets: seq + burst + 1, driftIntervalSeconds: 60 },
      cpus: os.cpus().length,
      loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
      at: new Date().toISOString(),
    };
    mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    writeFileSync(path.join(__dirname, 'results', 'controller.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await api.deleteCollectionNamespacedCustomObject({ ...env.TICKETS, namespace: ns }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3000));
    await controller.stop();
    await bookings.service.stop();
    await cluster?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
