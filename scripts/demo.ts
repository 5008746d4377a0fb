/**
 * `npm run demo`: the seed's story, end to end, in one command, no Docker.
 *
 *   control plane (reused if one runs, else started) -> OLM (olm and catalog
 *   operators on the host) -> our catalog served by opm -> CatalogSource +
 *   OperatorGroup + Subscription -> CSV Succeeded -> the booking service ->
 *   the controller pods OLM created, run on the host -> my-flight-ticket
 *   (Cairo -> London, 2 seats) booked -> seats 2 -> 3 -> route to Paris ->
 *   deleted, booking cancelled.
 *
 * Each step prints a progress line with its time; a summary table at the
 * end. Everything the demo started is stopped again (and what it created in
 * a reused cluster deleted) unless --keep. A failed step stops the demo with
 * the step's name, what it waited for, and exit code 1.
 *
 *   npm run demo                 # FLIGHT_KUBECONFIG=<kubeconfig> reuses that cluster instead
 *   npm run demo -- --keep       # leave it all running, print how to look at it
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBookingService, type BookingServiceHandle } from '../booking-service/server';
import { BookingClient } from '../controller/booking/client';
import { bundleController } from '../image/controller-image';
import { SEED_TICKET } from '../infra/charts/example-ticket-chart';
import { defaultSettings } from '../infra/defaults';
import { createCatalogSource, startOlm, type OlmEnv } from '../test/olm/olm-env';
import { startPodRunner, type PodRunner } from '../test/support/pod-runner';
import { ensureFamily } from '../testenv/binaries';
import { clusterStatus, defaultPersistentDir, startCluster, stopCluster } from '../testenv/cluster';
import { kubectl, waitFor } from '../testenv/kube';

const NAMESPACE = 'flight-demo';
const PACKAGE = 'flight-operator';
const keep = process.argv.includes('--keep');
const steps: Array<{ step: string; seconds: number; result: string }> = [];
const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
const t0 = Date.now();

class StepError extends Error {}
/** Thrown inside a wait: not worth waiting on (e.g. the CSV Failed). */
class Fatal extends Error {
  constructor(readonly cause: Error) {
    super(cause.message);
  }
}

async function step<T>(name: string, run: () => Promise<T>, describe: (r: T) => string = (r) => (typeof r === 'string' ? r : 'ok')): Promise<T> {
  const start = Date.now();
  process.stdout.write(`[demo ${((start - t0) / 1000).toFixed(1).padStart(6)}s] ${name} ...\n`);
  try {
    const r = await run();
    const seconds = (Date.now() - start) / 1000;
    const result = describe(r);
    steps.push({ step: name, seconds, result });
    process.stdout.write(`[demo ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]   done in ${seconds.toFixed(2)}s: ${result}\n`);
    return r;
  } catch (e) {
    throw new StepError(`step "${name}" failed after ${((Date.now() - start) / 1000).toFixed(1)}s: ${(e as Error).message}`);
  }
}


/** testenv's waitFor, plus what to look at when it times out; a Fatal thrown by fn ends the wait at once. */
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 120_000, diagnose?: () => Promise<string>): Promise<T> {
  return waitFor(what, fn, { timeoutMs, rethrow: Fatal }).catch(async (e: Error) => {
    throw new Error(`${e.message}${diagnose ? `\n${await diagnose().catch((d: Error) => d.message)}` : ''}`);
  });
}

async function main(): Promise<void> {
  // 1. The control plane: the one FLIGHT_KUBECONFIG names, the persistent local one if it runs, else a new one.
  let startedCluster: string | undefined;
  await step('control plane up (or reused)', async () => {
    if (process.env.FLIGHT_KUBECONFIG) {
      // testenv's kubectl helper reads FLIGHT_KUBECTL; the k8s tool family has it.
      process.env.FLIGHT_KUBECTL ??= join(ensureFamily('k8s'), 'kubectl');
      return `reused ${process.env.FLIGHT_KUBECONFIG}`;
    }
    const dir = defaultPersistentDir();
    const status = await clusterStatus(dir);
    const running = status.state && status.components.filter((c) => c.name !== 'watchdog').every((c) => c.running);
    if (running) {
      process.env.FLIGHT_KUBECONFIG = status.state!.kubeconfig;
      process.env.FLIGHT_KUBECTL = status.state!.binaries.kubectl;
      return `reused the local cluster (${dir})`;
    }
    const c = await startCluster({ dir, persistent: true, watchdog: false });
    process.env.FLIGHT_KUBECONFIG = c.state.kubeconfig;
    process.env.FLIGHT_KUBECTL = c.state.binaries.kubectl;
    startedCluster = dir;
    cleanups.push({ what: 'stop the control plane', run: () => stopCluster(dir, { keepDir: true }) });
    return `started (${dir})`;
  });
  // testenv's kubectl reads FLIGHT_KUBECONFIG and FLIGHT_KUBECTL (set just above) at each call.
  const json = async (args: string[]) => JSON.parse((await kubectl([...args, '-o', 'json'])).stdout);

  const olm: OlmEnv = await step('OLM (olm and catalog operators) and our catalog (opm serve olm-bundle/catalog)', async () => {
    const o = await startOlm({ log: () => undefined });
    cleanups.push({ what: 'stop OLM and opm', run: () => o.stop() });
    return o;
  }, (o) => `OLM ${o.versions['operator-lifecycle-manager'] ?? ''} up, catalog at ${o.catalogAddress}`);

  const catalog = 'flight-operator-demo';
  const csvName = `${PACKAGE}.v${defaultSettings().version}`;
  // Cleanups run in reverse: the operator goes while OLM still runs (its finalizers need OLM).
  cleanups.push({
    what: `delete the demo namespace, the Subscription, the CSV and the CatalogSource`,
    run: async () => {
      await kubectl(['delete', 'subscription', PACKAGE, '-n', NAMESPACE, '--ignore-not-found', '--wait=false'], { check: false });
      await kubectl(['delete', 'csv', csvName, '-n', NAMESPACE, '--ignore-not-found', '--timeout=60s'], { check: false, timeoutMs: 70_000 });
      await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `olm.owner=${csvName},olm.owner.namespace=${NAMESPACE}`, '--ignore-not-found'], { check: false });
      await kubectl(['delete', 'catalogsource', catalog, '-n', olm.namespace, '--ignore-not-found', '--wait=false'], { check: false });
      await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false'], { check: false });
    },
  });

  await step('CatalogSource READY', async () => {
    await createCatalogSource(olm, catalog, { displayName: 'Flight Operator (demo)' });
    return 'READY';
  });

  // The booking service, and the token Secret the operator reads.
  const work = mkdtempSync(join(tmpdir(), 'flight-demo-'));
  cleanups.push({ what: 'remove the demo folder', run: async () => rmSync(work, { recursive: true, force: true }) });
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, `demo-${Math.random().toString(36).slice(2)}\n`, { mode: 0o600 });
  const booking: BookingServiceHandle = await step('booking service', async () => {
    const b = await startBookingService({ dataDir: join(work, 'bookings'), tokenFile });
    cleanups.push({ what: 'stop the booking service', run: () => b.stop() });
    return b;
  }, (b) => b.url);
  const bookings = new BookingClient({ baseUrl: booking.url, tokenFile });

  const subscribedAt = await step('namespace, OperatorGroup (OwnNamespace), token Secret, Subscription', async () => {
    // A previous demo's namespace may still be terminating (its deletion is not waited for).
    await kubectl(['wait', '--for=delete', `namespace/${NAMESPACE}`, '--timeout=120s'], { check: false, timeoutMs: 130_000 });
    await kubectl(['create', 'namespace', NAMESPACE]);
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: PACKAGE, namespace: NAMESPACE }, spec: { targetNamespaces: [NAMESPACE] } }),
    });
    await kubectl(['create', 'secret', 'generic', 'flight-operator-booking-credentials', '-n', NAMESPACE, `--from-file=token=${tokenFile}`]);
    const at = Date.now();
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'Subscription',
        metadata: { name: PACKAGE, namespace: NAMESPACE },
        spec: { name: PACKAGE, channel: 'stable', source: catalog, sourceNamespace: olm.namespace, installPlanApproval: 'Automatic', config: { env: [{ name: 'BOOKING_API_URL', value: booking.url }] } },
      }),
    });
    return at;
  }, () => `Subscription ${NAMESPACE}/${PACKAGE} -> channel stable`);

  await step(`CSV ${csvName} Succeeded`, async () => {
    await until(`CSV ${csvName} Succeeded`, async () => {
      try {
        olm.assertRunning();
      } catch (e) {
        throw new Fatal(e as Error);
      }
      const csv = await json(['get', 'csv', csvName, '-n', NAMESPACE]).catch(() => undefined);
      if (csv?.status?.phase === 'Failed') throw new Fatal(new Error(`CSV Failed: ${csv.status.reason}: ${csv.status.message}`));
      return csv?.status?.phase === 'Succeeded';
    }, 6 * 60_000);
    return (Date.now() - subscribedAt) / 1000;
  }, (s) => `${s.toFixed(2)}s after the Subscription`);

  const runner: PodRunner = await step('controller pods running (the bundled controller, one process per pod, as its ServiceAccount)', async () => {
    const bundle = join(work, 'controller.js');
    writeFileSync(bundle, (await bundleController()).js);
    const r = await startPodRunner({ namespace: NAMESPACE, selector: 'app.kubernetes.io/name=flight-operator-controller', bundle, log: () => undefined });
    cleanups.push({ what: 'stop the controller processes', run: () => r.stop() });
    await until('2 controller processes and a leader', async () => r.running().length === 2 && r.samples[r.samples.length - 1]?.leaders.length === 1);
    return r;
  }, (r) => `${r.running().map((p) => p.pod).join(', ')}; leader ${r.samples[r.samples.length - 1].leaders[0]}`);

  const name = SEED_TICKET.metadata!.name!;
  const ticket = () => json(['get', 'ft', name, '-n', NAMESPACE]);
  const readyFor = (want: (t: any) => boolean) => async () => {
    const t = await ticket();
    const ready = t.status?.conditions?.find((c: any) => c.type === 'Ready');
    return ready?.status === 'True' && t.status?.observedGeneration === t.metadata.generation && want(t) ? t : undefined;
  };
  const diagnose = async () => `${(await kubectl(['get', 'ft', '-n', NAMESPACE], { check: false })).stdout}\n${runner.logs(10)}`;

  const booked = await step(`${name} (Cairo -> London, 2 seats) booked`, async () => {
    await kubectl(['apply', '-n', NAMESPACE, '-f', '-'], { input: JSON.stringify({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', ...SEED_TICKET }) });
    const t = await until('the ticket Ready with a booking', readyFor((x) => !!x.status?.bookingRef), 60_000, diagnose);
    const b = await bookings.getBooking(t.status.bookingRef);
    if (b.state !== 'active' || b.seats !== 2 || b.from !== 'Cairo' || b.to !== 'London') throw new Error(`booking ${b.id} is ${JSON.stringify(b)}`);
    return t;
  }, (t) => `booking ${t.status.bookingRef}, 2 seats`);

  await step('seat change 2 -> 3', async () => {
    await kubectl(['patch', 'ft', name, '-n', NAMESPACE, '--type=merge', '-p', '{"spec":{"number":3}}']);
    const t = await until('3 seats booked', readyFor((x) => x.status?.seats === 3), 60_000, diagnose);
    const b = await bookings.getBooking(t.status.bookingRef);
    if (b.seats !== 3 || b.id !== booked.status.bookingRef) throw new Error(`expected booking ${booked.status.bookingRef} with 3 seats, got ${JSON.stringify(b)}`);
    return b;
  }, (b) => `booking ${b.id} now 3 seats`);

  const moved = await step('route change London -> Paris', async () => {
    await kubectl(['patch', 'ft', name, '-n', NAMESPACE, '--type=merge', '-p', '{"spec":{"to":"Paris"}}']);
    const t = await until('a booking to Paris', readyFor((x) => x.status?.bookingRef && x.status.bookingRef !== booked.status.bookingRef), 60_000, diagnose);
    const [now, old] = await Promise.all([bookings.getBooking(t.status.bookingRef), bookings.getBooking(booked.status.bookingRef)]);
    if (now.to !== 'Paris' || now.state !== 'active' || old.state !== 'cancelled') throw new Error(`new ${JSON.stringify(now)}, old ${JSON.stringify(old)}`);
    return t;
  }, (t) => `booking ${t.status.bookingRef} to Paris; ${booked.status.bookingRef} cancelled`);

  await step('delete the ticket: booking cancelled, ticket gone', async () => {
    await kubectl(['delete', 'ft', name, '-n', NAMESPACE, '--timeout=60s'], { timeoutMs: 70_000 });
    const b = await bookings.getBooking(moved.status.bookingRef);
    if (b.state !== 'cancelled') throw new Error(`booking ${b.id} is still ${b.state}`);
    const active = await bookings.listBookings({ state: 'active' });
    if (active.length) throw new Error(`active bookings left: ${active.map((x) => x.id).join(', ')}`);
    return b;
  }, (b) => `booking ${b.id} cancelled; no active booking left`);

  if (keep) {
    process.stdout.write(
      `\n--keep: all of it still runs. export KUBECONFIG=${process.env.FLIGHT_KUBECONFIG}; kubectl get csv,pods,ft -n ${NAMESPACE}\n` +
        `booking service ${booking.url} (token ${tokenFile}). Ctrl-C stops OLM, opm, the controllers and the booking service (they run in this process);` +
        ` the cluster${startedCluster ? ' (npm run cluster -- down stops it)' : ''} and the demo's objects stay.\n`,
    );
  }
}

function summary(ok: boolean): void {
  const total = (Date.now() - t0) / 1000;
  const w = Math.max(...steps.map((s) => s.step.length), 4);
  process.stdout.write(`\n${'step'.padEnd(w)}  ${'seconds'.padStart(8)}  result\n`);
  for (const s of steps) process.stdout.write(`${s.step.padEnd(w)}  ${s.seconds.toFixed(2).padStart(8)}  ${s.result}\n`);
  process.stdout.write(`${'total'.padEnd(w)}  ${total.toFixed(2).padStart(8)}  ${ok ? 'demo OK' : 'demo FAILED'}\n`);
}

/** With --keep (after Ctrl-C) the cluster and what the demo created in it stay; the host processes cannot outlive the demo. */
async function cleanup(keepObjects = false): Promise<void> {
  for (const c of cleanups.reverse()) {
    if (keepObjects && (c.what.startsWith('delete') || c.what === 'stop the control plane')) continue;
    try {
      await c.run();
    } catch (e) {
      process.stderr.write(`demo: cleanup "${c.what}" failed: ${(e as Error).message}\n`);
    }
  }
}

main().then(
  async () => {
    summary(true);
    if (keep) {
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    await cleanup(keep);
    process.exit(0);
  },
  async (e: Error) => {
    process.stderr.write(`\nnpm run demo: FAILED: ${e instanceof StepError ? e.message : (e.stack ?? e.message)}\n`);
    summary(false);
    await cleanup();
    process.exit(1);
  },
);
