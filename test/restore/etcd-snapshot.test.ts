/**
 * Restore path 1, on real components: snapshot the control plane's etcd
 * (`etcdctl snapshot save`) while the controller runs, destroy the control
 * plane, restore the snapshot into a new one (`etcdutl snapshot restore`, then
 * startCluster on that data), start a new controller. Every ticket must be
 * Ready with the booking it had, and the booking service must see no call
 * that could change a booking, nor the API server a ticket write.
 *
 * This file runs its own control planes (not the shared one): it destroys one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../../testenv/cluster';
import { restoreEtcd, snapshotEtcd } from '../../testenv/etcd-backup';
import { kubectl, waitFor } from '../../testenv/kube';
import { EXTERNAL_NAME_ANNOTATION } from '../../controller/flightticket/ticket';
import type { Child } from '../support/child-process';
import { applyCrd, condition, createTicket, getTicket, metricsPort, startBookings, startController, type BookingEnv } from '../support/operator-env';
import { allBookings, callDelta, counter, diffBookings, kubeSystemUid, RESTORE_TICKETS as SPECS, waitForBooked, writeCalls } from '../support/restore';

jest.setTimeout(600_000);

const NS = 'restore-etcd';

const work = mkdtempSync(path.join(tmpdir(), 'restore-etcd-'));
const log = (m: string) => process.stderr.write(`restore-etcd: ${m}\n`);
let bookings: BookingEnv;
const clusters: Cluster[] = [];
const controllers: Child[] = [];
const previousKubeconfig = process.env.FLIGHT_KUBECONFIG;

function use(c: Cluster): void {
  process.env.FLIGHT_KUBECONFIG = c.kubeconfigPath;
}

beforeAll(async () => {
  bookings = await startBookings();
});

afterAll(async () => {
  for (const c of controllers) await c.stop();
  for (const c of clusters) await c.stop().catch(() => undefined);
  await bookings?.service.stop();
  process.env.FLIGHT_KUBECONFIG = previousKubeconfig;
  rmSync(work, { recursive: true, force: true });
});

test('etcd snapshot, control plane destroyed, restored into a new one: every ticket Ready with the same booking, no booking call that changes anything', async () => {
  // GIVEN a cluster whose controller booked five tickets
  const first = await startCluster({ log });
  clusters.push(first);
  use(first);
  await applyCrd();
  await kubectl(['create', 'namespace', NS]);
  const controller = startController({ namespace: NS, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile });
  controllers.push(controller);
  for (const [name, spec] of SPECS) await createTicket(NS, name, spec);
  const booked = new Map<string, { uid: string; bookingRef: string }>();
  for (const [name] of SPECS) {
    // Ready, and the booking's id on the ticket as its external name (written right after the Ready status).
    const t = await waitForBooked(NS, name, controller);
    booked.set(name, { uid: t.metadata.uid, bookingRef: t.status!.bookingRef! });
  }
  const identity = await kubeSystemUid();

  // WHEN etcd is snapshotted while the controller runs, and then the control plane and the controller die
  const snapshot = path.join(work, 'etcd.snapshot');
  await snapshotEtcd(first, snapshot);
  await controller.kill9();
  await first.stop();
  expect((await bookings.client.listBookings({ state: 'active' })).length).toBe(SPECS.length);
  const bookingsBefore = allBookings(bookings);
  const callsBefore = await writeCalls(bookings);

  // AND the snapshot is restored into a new control plane (new dir, new certificates, new ports) with a new controller
  const t0 = Date.now();
  const dir = path.join(work, 'restored');
  await restoreEtcd(snapshot, dir);
  const restored = await startCluster({ dir, log });
  clusters.push(restored);
  const clusterUpS = (Date.now() - t0) / 1000;
  use(restored);
  const again = startController({ namespace: NS, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile, args: ['--metrics-bind-address=127.0.0.1:0'] });
  controllers.push(again);
  const port = await metricsPort(again);
  // "All Ready" after an etcd restore means: the new controller has reconciled every ticket and found it in order.
  await waitFor(
    'the new controller to have reconciled every ticket',
    async () => (await counter(port, 'controller_runtime_reconcile_total', 'result="requeue_after"')) >= SPECS.length,
    { timeoutMs: 120_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\ncontroller log:\n${again.tail()}`);
  });
  const allReadyS = (Date.now() - t0) / 1000;

  // THEN every ticket is the same object (same uid) and Ready with the same booking
  expect(await kubeSystemUid()).toBe(identity); // the cluster identity the bookings record came back with etcd
  for (const [name] of SPECS) {
    const t = (await getTicket(NS, name))!;
    expect({ name, uid: t.metadata.uid, bookingRef: t.status?.bookingRef, external: t.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION] }).toEqual({
      name,
      ...booked.get(name),
      external: booked.get(name)!.bookingRef,
    });
    expect(condition(t, 'Ready')).toMatchObject({ status: 'True', reason: 'Booked' });
  }
  // AND over one more drift interval (5 s) as well: no booking created, cancelled or changed,
  // no POST/PATCH/PUT/DELETE at the booking service, no ticket write (PATCH) at the API server
  await new Promise((r) => setTimeout(r, 6000));
  const diff = diffBookings(bookingsBefore, allBookings(bookings));
  const calls = callDelta(callsBefore, await writeCalls(bookings));
  const ticketWrites = await counter(port, 'rest_client_requests_total', 'method="PATCH"');
  log(
    JSON.stringify({
      restore: 'etcd snapshot',
      tickets: SPECS.length,
      bookingsCreated: diff.created.length,
      bookingsCancelled: diff.cancelled.length,
      bookingsChanged: diff.changed.length,
      bookingWriteCalls: calls,
      ticketWrites,
      controlPlaneUpSeconds: clusterUpS,
      controlPlaneMilestones: restored.timings,
      allReconciledSeconds: allReadyS,
    }),
  );
  expect({ created: diff.created, cancelled: diff.cancelled, changed: diff.changed, calls, ticketWrites }).toEqual({
    created: [],
    cancelled: [],
    changed: [],
    calls: {},
    ticketWrites: 0,
  });
});
