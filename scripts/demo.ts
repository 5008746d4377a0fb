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
 * Where the pods run: on a real node (containerd + kubelet, testenv/real-node)
 * when this machine can start one without building or installing anything
 * (root, the node tool family built, the Debian parts there): the catalog
 * image runs as OLM's registry pod and the controller as real containers of
 * the pinned image, pulled by digest through the node's registry. Otherwise
 * on the kwok control plane, whose pods never run: the catalog is served by
 * opm and the controller pods run as host processes; the demo says which and
 * why. FLIGHT_DEMO_NODE=kwok forces the latter; FLIGHT_DEMO_NODE=real with
 * FLIGHT_KUBECONFIG and FLIGHT_NODE_STATE reuses a running real node.
 *
 * Each step prints a progress line with its time; a summary table at the
 * end. Everything the demo started is stopped again (and what it created in
 * a reused cluster deleted) unless --keep. A failed step stops the demo with
 * the step's name, what it waited for, and exit code 1.
 *
 *   npm run demo                 # FLIGHT_KUBECONFIG=<kubeconfig> reuses that cluster instead
 *   npm run demo -- --keep       # leave it all running, print how to look at it
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBookingService, type BookingServiceHandle } from '../booking-service/server';
import { BookingClient } from '../controller/booking/client';
import { bundleController } from '../image/controller-image';
import { SEED_TICKET } from '../infra/charts/example-ticket-chart';
import { defaultSettings } from '../infra/defaults';
import { CATALOG_LABEL, createCatalogSource, startOlm, type OlmEnv } from '../test/olm/olm-env';
import { startPodRunner, type PodRunner } from '../test/support/pod-runner';
import { layoutDigest } from '../test/real-node/support';
import { ensureFamily, REPO_ROOT } from '../testenv/binaries';
import { clusterStatus, defaultPersistentDir, startCluster, stopCluster } from '../testenv/cluster';
import { kubectl, waitFor } from '../testenv/kube';
import { HOST_IP } from '../testenv/real-node/cleanup';
import { inNodeNetwork, realNodeUnavailable, startRealNode, REGISTRY } from '../testenv/real-node/node';
import { skopeoCopy } from '../testenv/real-node/pause-image';

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

/** Where the pods run, and why: FLIGHT_DEMO_NODE, else a real node when one can start here without building anything. */
function chooseNode(): { node: 'real' | 'kwok'; why: string } {
  const want = process.env.FLIGHT_DEMO_NODE;
  if (want === 'kwok') return { node: 'kwok', why: 'FLIGHT_DEMO_NODE=kwok' };
  if (want === 'real') return { node: 'real', why: 'FLIGHT_DEMO_NODE=real' };
  if (want !== undefined && want !== '') throw new Error(`FLIGHT_DEMO_NODE must be real or kwok, got "${want}"`);
  if (process.env.FLIGHT_KUBECONFIG) return { node: 'kwok', why: 'FLIGHT_KUBECONFIG names a cluster (set FLIGHT_DEMO_NODE=real for a real node\'s)' };
  const missing = realNodeUnavailable();
  return missing ? { node: 'kwok', why: `no real node here: ${missing}` } : { node: 'real', why: 'this machine can run a real node' };
}

async function main(): Promise<void> {
  const where = chooseNode();
  process.stdout.write(where.node === 'real'
    ? `[demo] pods run on a real node (containerd + kubelet): ${where.why}\n`
    : `[demo] pods run as host processes beside a kwok control plane (its pods never run): ${where.why}\n`);
  const real = where.node === 'real';
  // 1. The control plane: the one FLIGHT_KUBECONFIG names, the persistent local one if it runs, else a new one.
  let startedCluster: string | undefined;
  let nodeState = '';
  if (real) {
    await step('real node up (control plane, containerd, kubelet) or reused', async () => {
      if (process.env.FLIGHT_KUBECONFIG) {
        nodeState = process.env.FLIGHT_NODE_STATE ?? '';
        if (!nodeState) throw new Error('FLIGHT_DEMO_NODE=real with FLIGHT_KUBECONFIG also needs FLIGHT_NODE_STATE (the node\'s state dir)');
        process.env.FLIGHT_KUBECTL ??= join(ensureFamily('k8s'), 'kubectl');
        return `reused ${process.env.FLIGHT_KUBECONFIG}`;
      }
      const node = await startRealNode({ log: () => undefined });
      cleanups.push({ what: 'tear the real node down', run: () => node.teardown() });
      process.env.FLIGHT_KUBECONFIG = node.cluster.kubeconfigPath;
      process.env.FLIGHT_KUBECTL = node.cluster.binaries.kubectl;
      nodeState = node.stateDir;
      startedCluster = node.cluster.dir;
      return `node ${node.name} Ready in ${node.timings.ready}s (${node.cluster.dir})`;
    });
  }
  const images = real
    ? await step('controller and catalog images pushed by digest into the node\'s registry', async () => {
        const layout = (name: string) => join(REPO_ROOT, 'dist', 'images', name);
        const pinned = (JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'controller-image.json'), 'utf8')) as { digest: string }).digest;
        if (!existsSync(join(layout('controller'), 'index.json')) || !existsSync(join(layout('catalog'), 'index.json')) || layoutDigest(layout('controller')) !== pinned) {
          const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO_ROOT, 'image', 'main.ts'), 'controller', 'catalog'], { cwd: REPO_ROOT, encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`npm run image -- controller catalog failed:\n${r.stderr || r.stdout}`);
        }
        // The catalog's CSV runs the image infra/controller-image.json pins: a build that differs would never be pulled.
        if (layoutDigest(layout('controller')) !== pinned) throw new Error(`the controller built here is ${layoutDigest(layout('controller'))}, the catalog pins ${pinned} (infra/controller-image.json): regenerate the pinned artifacts (npm run image -- controller, npm run bundle, ...)`);
        for (const name of ['controller', 'catalog']) skopeoCopy(`oci:${layout(name)}`, `docker://${REGISTRY}/flight-operator/${name}:demo`);
        return { catalog: `ghcr.io/flight-operator/catalog@${layoutDigest(layout('catalog'))}`, controller: `ghcr.io/flight-operator/controller@${pinned}` };
      }, (i) => `${i.controller}, ${i.catalog}`)
    : undefined;
  if (!real) await step('control plane up (or reused)', async () => {
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

  const olm: OlmEnv = await step(real ? 'OLM (olm and catalog operators)' : 'OLM (olm and catalog operators) and our catalog (opm serve olm-bundle/catalog)', async () => {
    // On the real node the catalog operator runs in the node's network: it dials the registry pod by its Service's name.
    const o = await startOlm({ log: () => undefined, ...(real ? { catalogOperatorPrefix: inNodeNetwork(nodeState) } : {}) });
    cleanups.push({ what: 'stop OLM and opm', run: () => o.stop() });
    return o;
  }, (o) => `OLM ${o.versions['operator-lifecycle-manager'] ?? ''} up${real ? '' : `, catalog at ${o.catalogAddress}`}`);

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

  await step(real ? 'CatalogSource READY (OLM\'s registry pod runs the catalog image)' : 'CatalogSource READY', async () => {
    if (!real) {
      await createCatalogSource(olm, catalog, { displayName: 'Flight Operator (demo)' });
      return 'READY';
    }
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'CatalogSource',
        // The label: a later startOlm removes it if this demo is killed (a catalog OLM cannot reach fails every resolution).
        metadata: { name: catalog, namespace: olm.namespace, labels: { [CATALOG_LABEL]: 'true' } },
        spec: { sourceType: 'grpc', image: images!.catalog, grpcPodConfig: { securityContextConfig: 'restricted' }, displayName: 'Flight Operator (demo)', publisher: 'flight-operator' },
      }),
    });
    await until(`CatalogSource ${catalog} READY`, async () => (await json(['get', 'catalogsource', catalog, '-n', olm.namespace]).catch(() => undefined))?.status?.connectionState?.lastObservedState === 'READY', 240_000,
      async () => (await kubectl(['get', 'pods,events', '-n', olm.namespace], { check: false })).stdout);
    const [pod] = (await json(['get', 'pods', '-n', olm.namespace, '-l', `olm.catalogSource=${catalog}`])).items;
    return `READY; registry pod ${pod?.metadata.name} (${pod?.status.containerStatuses?.[0]?.containerID ?? 'no container'})`;
  });

  // The booking service, and the token Secret the operator reads.
  const work = mkdtempSync(join(tmpdir(), 'flight-demo-'));
  cleanups.push({ what: 'remove the demo folder', run: async () => rmSync(work, { recursive: true, force: true }) });
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, `demo-${Math.random().toString(36).slice(2)}\n`, { mode: 0o600 });
  const booking: BookingServiceHandle = await step('booking service', async () => {
    // On the real node the pods reach the host at its end of the node's veth.
    const b = await startBookingService({ dataDir: join(work, 'bookings'), tokenFile, ...(real ? { host: HOST_IP } : {}) });
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

  const runner: PodRunner | undefined = real ? undefined : await step('controller pods running (the bundled controller, one process per pod, as its ServiceAccount)', async () => {
    const bundle = join(work, 'controller.js');
    writeFileSync(bundle, (await bundleController()).js);
    const r = await startPodRunner({ namespace: NAMESPACE, selector: 'app.kubernetes.io/name=flight-operator-controller', bundle, log: () => undefined });
    cleanups.push({ what: 'stop the controller processes', run: () => r.stop() });
    await until('2 controller processes and a leader', async () => r.running().length === 2 && r.samples[r.samples.length - 1]?.leaders.length === 1);
    return r;
  }, (r) => `${r.running().map((p) => p.pod).join(', ')}; leader ${r.samples[r.samples.length - 1].leaders[0]}`);
  if (real) {
    await step('controller pods Ready on the node (containers of the pinned image, probed by kubelet)', async () => {
      // CSV Succeeded already means the Deployment is Available; this shows what runs, and who leads.
      const pods = (await json(['get', 'pods', '-n', NAMESPACE, '-l', 'app.kubernetes.io/name=flight-operator-controller'])).items as any[];
      const ready = pods.filter((p) => p.status.containerStatuses?.every((c: any) => c.ready && c.imageID === images!.controller));
      if (ready.length !== 2) throw new Error(`expected 2 Ready controller pods of ${images!.controller}, got ${JSON.stringify(pods.map((p) => p.status))}`);
      const leader = await until('a leader in the Lease', async () => (await json(['get', 'lease', 'flight-operator-controller', '-n', NAMESPACE]).catch(() => undefined))?.spec?.holderIdentity as string | undefined);
      return `${ready.map((p) => `${p.metadata.name} (${p.status.containerStatuses[0].containerID.slice(0, 25)}...)`).join(', ')}; leader ${leader}`;
    });
  }

  const name = SEED_TICKET.metadata!.name!;
  const ticket = () => json(['get', 'ft', name, '-n', NAMESPACE]);
  const readyFor = (want: (t: any) => boolean) => async () => {
    const t = await ticket();
    const ready = t.status?.conditions?.find((c: any) => c.type === 'Ready');
    return ready?.status === 'True' && t.status?.observedGeneration === t.metadata.generation && want(t) ? t : undefined;
  };
  const diagnose = async () =>
    `${(await kubectl(['get', 'ft', '-n', NAMESPACE], { check: false })).stdout}\n${runner ? runner.logs(10) : (await kubectl(['logs', '-n', NAMESPACE, '-l', 'app.kubernetes.io/name=flight-operator-controller', '--tail=10'], { check: false })).stdout}`;

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
        (real && startedCluster
          ? ' the real node the demo started goes too (it cannot outlive its owner: one node per machine, with a watchdog).\n'
          : ` the cluster${startedCluster ? ' (npm run cluster -- down stops it)' : ''} and the demo's objects stay.\n`),
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
