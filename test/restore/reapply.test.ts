/**
 * Restore path 2, on real components: export the tickets of one cluster
 * (`kubectl get ft -A -o yaml`, stripped as docs/backup-restore.md says),
 * start a brand-new control plane (new kube-system uid, so a new cluster
 * identity) with a new controller, and apply them there. The tickets get new
 * uids and no status; what carries their bookings over is the
 * flights.com/external-name annotation the controller wrote.
 *
 * This file runs its own control planes (not the shared one): it destroys one.
 */
import { startCluster, type Cluster } from '../../testenv/cluster';
import { kubectl, waitFor } from '../../testenv/kube';
import { EXTERNAL_NAME_ANNOTATION } from '../../controller/flightticket/ticket';
import type { Child } from '../support/child-process';
import { applyCrd, condition, createTicket, getTicket, startBookings, startController, ticketEvents, ticketsApi, TICKETS, type BookingEnv } from '../support/operator-env';
import { allBookings, callDelta, diffBookings, kubeSystemUid, RESTORE_TICKETS as SPECS, stripExport, waitForBooked, writeCalls } from '../support/restore';

jest.setTimeout(600_000);

const NS = 'restore-reapply';
/** Exported with the others, deleted in the old cluster afterwards (so its booking is cancelled). */
const GONE = 'gone';

const log = (m: string) => process.stderr.write(`restore-reapply: ${m}\n`);
let bookings: BookingEnv;
let old: Cluster;
let oldController: Child;
let fresh: Cluster;
let freshController: Child;
let exported: string;
const booked = new Map<string, { uid: string; bookingRef: string }>();
const identities: { old?: string; fresh?: string } = {};
const previousKubeconfig = process.env.FLIGHT_KUBECONFIG;
const use = (c: Cluster) => void (process.env.FLIGHT_KUBECONFIG = c.kubeconfigPath);

async function startOperator(): Promise<Child> {
  await applyCrd();
  await kubectl(['create', 'namespace', NS]);
  return startController({ namespace: NS, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile });
}

beforeAll(async () => {
  // GIVEN a cluster whose controller booked six tickets
  bookings = await startBookings();
  old = await startCluster({ log });
  use(old);
  identities.old = await kubeSystemUid();
  oldController = await startOperator();
  const all: typeof SPECS = [...SPECS, [GONE, { from: 'Rome', to: 'Madrid', number: 2 }]];
  for (const [name, spec] of all) await createTicket(NS, name, spec);
  for (const [name] of all) {
    const t = await waitForBooked(NS, name, oldController);
    booked.set(name, { uid: t.metadata.uid, bookingRef: t.status!.bookingRef! });
  }
  // AND their export, as a user takes it
  exported = (await kubectl(['get', 'ft', '-A', '-o', 'yaml'])).stdout;
  // AND one of them deleted after the export: its booking is cancelled
  await kubectl(['delete', 'ft', GONE, '-n', NS, '--wait=true', '--timeout=60s']);
  expect((await bookings.client.getBooking(booked.get(GONE)!.bookingRef)).state).toBe('cancelled');

  // AND a brand-new control plane with its own controller
  fresh = await startCluster({ log });
  use(fresh);
  identities.fresh = await kubeSystemUid();
  freshController = await startOperator();
});

afterAll(async () => {
  use(fresh);
  // Delete what is left while the controller still runs (cancelling the bookings), so no finalizer is left behind.
  await ticketsApi().deleteCollectionNamespacedCustomObject({ ...TICKETS, namespace: NS }).catch(() => undefined);
  await freshController?.stop();
  await oldController?.stop();
  for (const c of [old, fresh]) await c?.stop().catch(() => undefined);
  await bookings?.service.stop();
  process.env.FLIGHT_KUBECONFIG = previousKubeconfig;
});

const apply = (yaml: string) => kubectl(['apply', '-f', '-'], { input: yaml });

test('the export keeps each ticket’s booking in flights.com/external-name; stripping removes what the API server owns', () => {
  expect(identities.fresh).not.toBe(identities.old);
  const stripped = stripExport(exported, { adopt: true });
  for (const [name, { uid, bookingRef }] of booked) {
    expect(exported).toContain(`${EXTERNAL_NAME_ANNOTATION}: ${bookingRef}`);
    expect(exported).toContain(`uid: ${uid}`);
    expect(stripped).not.toContain(`uid: ${uid}`); // the booking's name starts with the old uid: that part stays
    expect(stripped).toContain(`name: ${name}`);
  }
  expect(stripped).not.toMatch(/resourceVersion|creationTimestamp|status:|bookingRef/);
});

test('a re-applied ticket whose booking another, live cluster holds is not taken: Ready=False OwnedByAnotherCluster', async () => {
  const [name] = SPECS[0]!;
  const before = allBookings(bookings);
  const calls = await writeCalls(bookings);
  // WHEN applied without the adoption mark while the old cluster still runs
  use(fresh);
  await apply(stripExport(exported, { only: [name] }));
  // THEN it says so
  const refused = await waitFor('the refusal', async () => {
    const t = await getTicket(NS, name);
    return condition(t, 'Ready')?.reason === 'OwnedByAnotherCluster' ? t : undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}\ncontroller log:\n${freshController.tail()}`);
  });
  const { bookingRef } = booked.get(name)!;
  expect(condition(refused, 'Ready')).toMatchObject({
    status: 'False',
    message: `booking ${bookingRef} belongs to cluster ${identities.old} (owner ${booked.get(name)!.uid}), not this one (${identities.fresh}); annotate the ticket flights.com/adopt=true to take it over`,
  });
  expect(refused!.status?.bookingRef).toBeUndefined();
  // AND the booking is untouched, and the old cluster's ticket still holds it, Ready
  expect(diffBookings(before, allBookings(bookings))).toEqual({ created: [], cancelled: [], changed: [] });
  expect(callDelta(calls, await writeCalls(bookings))).toEqual({});
  use(old);
  const original = await getTicket(NS, name);
  expect({ uid: original?.metadata.uid, ref: original?.status?.bookingRef, ready: condition(original, 'Ready')?.status }).toEqual({ uid: booked.get(name)!.uid, ref: bookingRef, ready: 'True' });
});

test('after the old cluster is gone, the tickets re-applied with flights.com/adopt=true are Ready with their old bookings: 0 created, 0 cancelled', async () => {
  // GIVEN the old cluster and its controller are gone
  await oldController.kill9();
  await old.stop();
  use(fresh);
  const before = allBookings(bookings);
  const calls = await writeCalls(bookings);
  // WHEN the export, marked for adoption, is applied (the ticket refused above is updated in place)
  const t0 = Date.now();
  await apply(stripExport(exported, { adopt: true, only: SPECS.map(([n]) => n) }));
  const tickets = [];
  for (const [name] of SPECS) tickets.push(await waitForBooked(NS, name, freshController));
  const allReadyS = (Date.now() - t0) / 1000;
  // THEN each holds the booking it had, now owned by its new uid in this cluster
  for (const t of tickets) {
    const was = booked.get(t.metadata.name)!;
    expect({ name: t.metadata.name, ref: t.status?.bookingRef, external: t.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION], newUid: t.metadata.uid !== was.uid }).toEqual({
      name: t.metadata.name,
      ref: was.bookingRef,
      external: was.bookingRef,
      newUid: true,
    });
    expect(await bookings.activeFor(t.metadata.uid)).toMatchObject([{ id: was.bookingRef, cluster: identities.fresh, ownerRef: `${NS}/${t.metadata.name}` }]);
    expect(await ticketEvents(NS, t.metadata.name)).toContainEqual(expect.stringMatching(new RegExp(`^Normal Adopted: adopted booking ${was.bookingRef} `)));
  }
  // AND over one more drift interval (5 s) too: nothing created or cancelled; the only booking writes are the re-owns
  await new Promise((r) => setTimeout(r, 6000));
  const diff = diffBookings(before, allBookings(bookings));
  const delta = callDelta(calls, await writeCalls(bookings));
  log(
    JSON.stringify({
      restore: 're-apply into a new cluster',
      tickets: SPECS.length,
      bookingsCreated: diff.created.length,
      bookingsCancelled: diff.cancelled.length,
      bookingsReowned: diff.changed.length,
      bookingWriteCalls: delta,
      allReadySeconds: allReadyS,
    }),
  );
  expect({ created: diff.created, cancelled: diff.cancelled }).toEqual({ created: [], cancelled: [] });
  expect(diff.changed.map((c) => c.after.id).sort()).toEqual(SPECS.map(([n]) => booked.get(n)!.bookingRef).sort());
  expect(diff.changed.map((c) => [c.after.seats, c.after.from, c.after.to])).toEqual(diff.changed.map((c) => [c.before.seats, c.before.from, c.before.to]));
  expect(delta).toEqual({ 'PUT /v1/bookings/{id}/owner': SPECS.length });
});

test('a re-applied ticket whose booking was cancelled since the export is booked once, with an event saying so', async () => {
  use(fresh);
  const before = allBookings(bookings);
  await apply(stripExport(exported, { adopt: true, only: [GONE] }));
  const t = await waitForBooked(NS, GONE, freshController);
  const was = booked.get(GONE)!.bookingRef;
  expect(t.status?.bookingRef).not.toBe(was);
  expect(t.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION]).toBe(t.status?.bookingRef);
  const diff = diffBookings(before, allBookings(bookings));
  expect({ created: diff.created.map((b) => b.id), cancelled: diff.cancelled }).toEqual({ created: [t.status!.bookingRef], cancelled: [] });
  expect(await ticketEvents(NS, GONE)).toEqual(
    expect.arrayContaining([
      `Warning BookingGone: booking ${was} named by flights.com/external-name is cancelled; booking anew`,
      `Normal Booked: booked ${t.status!.bookingRef}: Rome -> Madrid, 2 seats`,
    ]),
  );
  log(JSON.stringify({ restore: 're-apply, booking cancelled since the export', bookingsCreated: diff.created.length, bookingsCancelled: diff.cancelled.length }));
});

test('a copy of a ticket (same external name, another name) does not take the booking its original holds: Ready=False OwnedByAnotherTicket', async () => {
  use(fresh);
  const [name] = SPECS[0]!;
  const original = (await getTicket(NS, name))!;
  const before = allBookings(bookings);
  const calls = await writeCalls(bookings);
  // WHEN the exported ticket is applied again under another name, marked for adoption
  const copy = stripExport(exported, { adopt: true, only: [name] }).replace(`name: ${name}`, 'name: copy-of-ticket');
  await apply(copy);
  // THEN the copy says who holds the booking (read live from the API server), and nothing changed at the booking service
  const refused = await waitFor('the refusal', async () => {
    const t = await getTicket(NS, 'copy-of-ticket');
    return condition(t, 'Ready')?.reason === 'OwnedByAnotherTicket' ? t : undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}\ncontroller log:\n${freshController.tail()}`);
  });
  expect(condition(refused, 'Ready')).toMatchObject({
    status: 'False',
    message: `booking ${original.status!.bookingRef} is held by ticket ${NS}/${name} (uid ${original.metadata.uid}), which still exists`,
  });
  expect(diffBookings(before, allBookings(bookings))).toEqual({ created: [], cancelled: [], changed: [] });
  expect(callDelta(calls, await writeCalls(bookings))).toEqual({});
});
