/**
 * Deleting a ticket while its create is still in flight. The booking service
 * commits creates 3 s after their key is taken, the controller gives up on a
 * booking call after 1 s: the create times out on our side and commits on
 * theirs only after the ticket was deleted. Nothing may leak, and nothing
 * may be booked twice. Then the orphan sweep, the backstop: it cancels an
 * active booking of this cluster whose ticket is gone, and keeps one that
 * was orphaned on purpose and one of another cluster.
 */
import { randomUUID } from 'node:crypto';
import { k8s, waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import type { Child } from '../support/child-process';
import { applyCrd, createTicket, getTicket, startBookings, startController, ticketsApi, TICKETS, type BookingEnv } from '../support/operator-env';

const ns = useNamespace('deletion');
const CLUSTER = `test-cluster-${randomUUID()}`;
let bookings: BookingEnv;
const controllers: Child[] = [];

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings();
});
afterAll(async () => {
  for (const c of controllers) await c.stop();
  await bookings?.service.stop();
});

function controller(args: string[]): Child {
  const c = startController({ namespace: ns.name, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile, args: ['--booking-timeout=1', `--cluster-id=${CLUSTER}`, ...args] });
  controllers.push(c);
  return c;
}

/** The key of a create not yet settled: written in flights.com/external-name (with the finalizer) before the create, not yet the status's bookingRef. */
async function pendingKey(name: string): Promise<string | undefined> {
  const t = (await getTicket(ns.name, name)) as { metadata: { uid: string; annotations?: Record<string, string> }; status?: { bookingRef?: string } } | undefined;
  const key = t?.metadata.annotations?.['flights.com/external-name'];
  return key?.startsWith(`${t!.metadata.uid}.`) && key !== t?.status?.bookingRef ? key : undefined;
}

test('a ticket deleted while its create is in flight leaks no booking, and books once per key', async () => {
  // GIVEN a booking service slower than the controller's 1 s booking timeout (no sweep here: the finalizer alone must do it)
  bookings.service.setFaults({ createLatencyMs: 3000 });
  const c = controller(['--orphan-sweep-interval=0']);
  // WHEN a ticket's create has been sent (its key is persisted first) and the ticket is deleted
  const t = await createTicket(ns.name, 'hasty', { from: 'Cairo', to: 'London', number: 2 });
  const key = await waitFor('the pending key', () => pendingKey('hasty'), { timeoutMs: 30_000, intervalMs: 20 });
  await ticketsApi().deleteNamespacedCustomObject({ ...TICKETS, namespace: ns.name, name: 'hasty' });
  await waitFor('the ticket gone', async () => (await getTicket(ns.name, 'hasty')) === undefined, { timeoutMs: 60_000 });
  // THEN once every create has had time to commit, no booking is active
  await new Promise((r) => setTimeout(r, 4500));
  const all = await bookings.client.listBookings({ owner: t.metadata.uid });
  const active = all.filter((b) => b.state === 'active');
  const keys = new Set(bookings.keysSent.filter((k) => k.startsWith(`${t.metadata.uid}.`)));
  process.stdout.write(`deletion-in-flight: bookings ever created ${all.length}, distinct keys ${keys.size}, leaked (active after deletion) ${active.length}\n`);
  expect(keys.has(key)).toBe(true);
  expect(active).toEqual([]);
  // AND bookings ever created == distinct idempotency keys: nothing booked twice
  expect(all).toHaveLength(keys.size);
  await c.stop();
}, 120_000);

test('the orphan sweep cancels this cluster\'s bookings whose ticket is gone, and keeps the Orphan ones and other clusters\'', async () => {
  bookings.service.clearFaults();
  // GIVEN bookings whose tickets do not exist: two of this cluster (one marked orphaned), one of another
  const ghost = (name: string, cluster: string) =>
    bookings.client.createBooking(randomUUID(), { from: 'Paris', to: 'Rome', seats: 1, owner: randomUUID(), ownerRef: `${ns.name}/${name}`, cluster });
  const leaked = (await ghost('gone', CLUSTER)).booking;
  const kept = (await ghost('orphaned', CLUSTER)).booking;
  await bookings.client.markOrphaned(kept.id);
  const foreign = (await ghost('elsewhere', `${CLUSTER}-other`)).booking;
  // AND a live ticket, booked by the controller
  const c = controller(['--orphan-sweep-interval=1']);
  const live = await createTicket(ns.name, 'alive', { from: 'Cairo', to: 'Paris', number: 1 });
  // WHEN the sweep runs
  await waitFor('the leaked booking cancelled', async () => (await bookings.client.getBooking(leaked.id)).state === 'cancelled', { timeoutMs: 30_000 });
  await waitFor('a sweep after the live ticket was booked', () => c.lines.filter((l) => l.includes('"orphan sweep"')).length >= 3, { timeoutMs: 30_000 });
  // THEN only the leaked one is cancelled, with a Warning event saying what was swept
  expect((await bookings.client.getBooking(kept.id)).state).toBe('active');
  expect((await bookings.client.getBooking(foreign.id)).state).toBe('active');
  expect(await bookings.activeFor(live.metadata.uid)).toHaveLength(1);
  const events = await ns.kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace: ns.name, fieldSelector: 'reason=OrphanCancelled' });
  expect(events.items.map((e) => [e.involvedObject.name, e.message])).toEqual([['gone', expect.stringContaining(`cancelled orphaned booking ${leaked.id}`)]]);
}, 120_000);
