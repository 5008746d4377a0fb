/**
 * The booking service misbehaving: down for a while, then back; rate
 * limiting with Retry-After. The ticket shows what is going on and gets
 * booked once the service answers, exactly once.
 */
import { waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import type { Child } from '../support/child-process';
import { applyCrd, condition, createTicket, getTicket, startBookings, startController, ticketEvents, ticketsApi, TICKETS, waitForReady, type BookingEnv } from '../support/operator-env';

const ns = useNamespace('failures');
let bookings: BookingEnv;
let controller: Child;
const requests: Array<{ at: number; method: string; path: string; status: number }> = [];

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings({
    log: (e) => {
      if (e.msg === 'request' && typeof e.path === 'string' && e.path.startsWith('/v1/')) {
        requests.push({ at: Date.now(), method: String(e.method), path: e.path, status: Number(e.status) });
      }
    },
  });
  controller = startController({ namespace: ns.name, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile });
});
afterAll(async () => {
  await controller?.stop();
  await bookings?.service.stop();
});

test('while the booking service is down the ticket says so; when it is back the ticket is booked once', async () => {
  // GIVEN the booking service answering 503 to everything
  bookings.service.setFaults({ down: true, retryAfterSeconds: 1 });
  // WHEN a ticket is created
  const t = await createTicket(ns.name, 'patient', { from: 'Cairo', to: 'London', number: 2 });
  // THEN it shows Synced=False with the reason, and a Warning event
  const waiting = await waitFor(
    'Synced=False BookingServiceUnavailable',
    async () => {
      const x = await getTicket(ns.name, 'patient');
      return condition(x, 'Synced')?.reason === 'BookingServiceUnavailable' ? x : undefined;
    },
    { timeoutMs: 30_000 },
  );
  expect(condition(waiting, 'Synced')).toMatchObject({ status: 'False' });
  expect((await ticketEvents(ns.name, 'patient')).some((e) => e.startsWith('Warning BookingServiceUnavailable: '))).toBe(true);
  // WHEN it comes back
  bookings.service.clearFaults();
  // THEN the ticket is booked, once
  const ready = await waitForReady(ns.name, 'patient', 60_000, controller);
  expect(condition(ready, 'Synced')).toMatchObject({ status: 'True' });
  expect(await bookings.activeFor(t.metadata.uid)).toHaveLength(1);
}, 120_000);

test('a 429 with Retry-After: 3 is honoured: the next try waits at least that long', async () => {
  // Only this ticket may talk to the booking service, so the request after the 429 is its retry.
  await ticketsApi().deleteNamespacedCustomObject({ ...TICKETS, namespace: ns.name, name: 'patient' });
  await waitFor('the first ticket gone', async () => (await getTicket(ns.name, 'patient')) === undefined, { timeoutMs: 30_000 });
  // GIVEN the next booking request is rate limited with Retry-After: 3
  bookings.service.setFaults({ failNext: { kind: 'rate_limited', count: 1, method: 'GET', path: '/v1/bookings' }, retryAfterSeconds: 3 });
  requests.length = 0;
  // WHEN a ticket is created
  const t = await createTicket(ns.name, 'polite', { from: 'Paris', to: 'Tokyo', number: 1 });
  await waitForReady(ns.name, 'polite', 60_000, controller);
  // THEN the request after the 429 came no sooner than 3 s later
  const limited = requests.findIndex((r) => r.status === 429);
  expect(limited).toBeGreaterThanOrEqual(0);
  const next = requests[limited + 1];
  expect(next.at - requests[limited].at).toBeGreaterThanOrEqual(2900);
  expect(await bookings.activeFor(t.metadata.uid)).toHaveLength(1);
}, 120_000);
