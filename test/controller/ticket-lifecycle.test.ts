/**
 * The controller against the real API server and the real booking service:
 * book, change seats, change route, delete, orphan, sold out.
 */
import { useNamespace } from '../../testenv/namespace';
import { waitFor } from '../../testenv/kube';
import type { Child } from '../support/child-process';
import {
  applyCrd,
  condition,
  createTicket,
  getTicket,
  patchSpec,
  startBookings,
  startController,
  ticketEvents,
  ticketsApi,
  TICKETS,
  waitForReady,
  type BookingEnv,
} from '../support/operator-env';

const ns = useNamespace('lifecycle');
let bookings: BookingEnv;
let controller: Child;

beforeAll(async () => {
  // GIVEN the CRD, a booking service where Cairo -> Tinytown has 3 seats, and the controller
  await applyCrd();
  bookings = await startBookings({ routes: { includeDefaults: true, routes: [{ from: 'Cairo', to: 'Tinytown', capacity: 3 }] } });
  controller = startController({ namespace: ns.name, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile });
});
afterAll(async () => {
  // Delete what is left while the controller still runs, so no finalizer is left behind.
  await ticketsApi().deleteCollectionNamespacedCustomObject({ ...TICKETS, namespace: ns.name }).catch(() => undefined);
  await waitFor('tickets gone', async () => ((await ticketsApi().listNamespacedCustomObject({ ...TICKETS, namespace: ns.name })) as { items: unknown[] }).items.length === 0, {
    timeoutMs: 30_000,
  }).catch(() => undefined);
  await controller?.stop();
  await bookings?.service.stop();
});

describe('the controller, end to end', () => {
  test("the seed's ticket becomes Ready with a bookingRef, backed by exactly one booking", async () => {
    // WHEN the seed's ticket is created
    const created = await createTicket(ns.name, 'my-flight-ticket', { from: 'Cairo', to: 'London', number: 2 });
    // THEN
    const t = await waitForReady(ns.name, 'my-flight-ticket', 30_000, controller);
    expect(t.status).toMatchObject({ seats: 2, route: 'Cairo -> London', observedGeneration: 1 });
    expect(condition(t, 'Synced')).toMatchObject({ status: 'True', reason: 'ReconcileSuccess' });
    expect(t.metadata.finalizers).toEqual(['flights.com/booking']);
    const active = await bookings.activeFor(created.metadata.uid);
    expect(active).toMatchObject([{ id: t.status!.bookingRef, from: 'Cairo', to: 'London', seats: 2, ownerRef: `${ns.name}/my-flight-ticket` }]);
    expect(await ticketEvents(ns.name, 'my-flight-ticket')).toContainEqual(`Normal Booked: booked ${t.status!.bookingRef}: Cairo -> London, 2 seats`);
  });

  test('a seat change changes the seats of the same booking', async () => {
    const before = await waitForReady(ns.name, 'my-flight-ticket');
    await patchSpec(ns.name, 'my-flight-ticket', { number: 5 });
    const after = await waitForReady(ns.name, 'my-flight-ticket', 30_000, controller);
    expect(after.status).toMatchObject({ bookingRef: before.status!.bookingRef, seats: 5 });
    expect(await bookings.activeFor(after.metadata.uid)).toMatchObject([{ id: before.status!.bookingRef, seats: 5 }]);
  });

  test('a route change books the new route, then cancels the old booking', async () => {
    const before = await waitForReady(ns.name, 'my-flight-ticket');
    await patchSpec(ns.name, 'my-flight-ticket', { to: 'Paris' });
    const after = await waitForReady(ns.name, 'my-flight-ticket', 30_000, controller);
    expect(after.status).toMatchObject({ route: 'Cairo -> Paris', seats: 5 });
    expect(after.status!.bookingRef).not.toBe(before.status!.bookingRef);
    expect(await bookings.activeFor(after.metadata.uid)).toMatchObject([{ id: after.status!.bookingRef, to: 'Paris' }]);
    expect((await bookings.client.getBooking(before.status!.bookingRef!)).state).toBe('cancelled');
  });

  test('deleting the ticket cancels its booking, then the finalizer lets it go', async () => {
    const t = await waitForReady(ns.name, 'my-flight-ticket');
    await ticketsApi().deleteNamespacedCustomObject({ ...TICKETS, namespace: ns.name, name: 'my-flight-ticket' });
    await waitFor('ticket gone', async () => (await getTicket(ns.name, 'my-flight-ticket')) === undefined, { timeoutMs: 30_000 });
    expect(await bookings.activeFor(t.metadata.uid)).toEqual([]);
    expect((await bookings.client.getBooking(t.status!.bookingRef!)).state).toBe('cancelled');
  });

  test('with deletion policy Orphan, deleting the ticket keeps the booking', async () => {
    await createTicket(ns.name, 'keep-me', { from: 'Rome', to: 'Tokyo', number: 1 }, { 'flights.com/deletion-policy': 'Orphan' });
    const t = await waitForReady(ns.name, 'keep-me', 30_000, controller);
    await ticketsApi().deleteNamespacedCustomObject({ ...TICKETS, namespace: ns.name, name: 'keep-me' });
    await waitFor('ticket gone', async () => (await getTicket(ns.name, 'keep-me')) === undefined, { timeoutMs: 30_000 });
    expect(await bookings.activeFor(t.metadata.uid)).toMatchObject([{ id: t.status!.bookingRef, state: 'active' }]);
  });

  test('a sold-out flight shows Ready=False SoldOut with a Warning event, and books nothing', async () => {
    const t = await createTicket(ns.name, 'too-many', { from: 'Cairo', to: 'Tinytown', number: 4 });
    const failed = await waitFor(
      'Ready=False SoldOut',
      async () => {
        const x = await getTicket(ns.name, 'too-many');
        return condition(x, 'Ready')?.reason === 'SoldOut' ? x : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', observedGeneration: 1 });
    expect(condition(failed, 'Ready')!.message).toMatch(/^Cairo -> Tinytown \(4 seats\): /);
    expect(condition(failed, 'Synced')).toMatchObject({ status: 'False', reason: 'ReconcileError' });
    expect((await ticketEvents(ns.name, 'too-many')).some((e) => e.startsWith('Warning SoldOut: '))).toBe(true);
    expect(await bookings.activeFor(t.metadata.uid)).toEqual([]);
    // Fixing the spec books it.
    await patchSpec(ns.name, 'too-many', { number: 3 });
    const ok = await waitForReady(ns.name, 'too-many', 30_000, controller);
    expect(ok.status!.seats).toBe(3);
  });

  test('a booking cancelled outside the operator is booked again, with an event saying so', async () => {
    await createTicket(ns.name, 'drift', { from: 'Madrid', to: 'Doha', number: 2 });
    const t = await waitForReady(ns.name, 'drift', 30_000, controller);
    await bookings.client.cancelBooking(t.status!.bookingRef!);
    const repaired = await waitFor(
      'a new booking',
      async () => {
        const x = await getTicket(ns.name, 'drift');
        return x?.status?.bookingRef && x.status.bookingRef !== t.status!.bookingRef ? x : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(await bookings.activeFor(t.metadata.uid)).toMatchObject([{ id: repaired.status!.bookingRef, seats: 2 }]);
    expect(await ticketEvents(ns.name, 'drift')).toContainEqual(
      `Warning BookingRepaired: booking ${t.status!.bookingRef} was cancelled outside the operator; booked ${repaired.status!.bookingRef} instead`,
    );
  });
});
