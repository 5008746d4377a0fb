/**
 * The four ways exactly-once could break that a careful read found (issue 18),
 * each shown on the real control plane and the real booking service:
 *  1. deleting a ticket whose create was refused (sold out) must not book,
 *     whatever the deletion policy, and a create still in flight at
 *     deletion ends cancelled (Delete) or orphaned (Orphan), booked once;
 *  2. removing or overwriting flights.com/external-name while a create is
 *     in flight must not book twice, and re-applying the original manifest
 *     changes nothing at the booking service;
 *  3. a replica whose watch lags (events held back by a proxy) that takes
 *     over the Lease must not change seats, cancel, or report a repair on
 *     its old view.
 * (4, the orphan sweep's race, is a conditional cancel in the contract:
 * booking-service/contract.test.ts and controller/flightticket/orphan-sweep.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { k8s, kubectl, waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
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
import { startWatchProxy, type WatchProxy } from '../support/watch-proxy';

const ns = useNamespace('holes');
const CLUSTER = `holes-${randomUUID()}`;
const EXT = 'flights.com/external-name';
let bookings: BookingEnv;
const controllers: Child[] = [];

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings({
    // Oslo -> Bergen has 2 seats in all: one 2-seat ticket sells it out.
    routes: { includeDefaults: true, routes: [{ from: 'Oslo', to: 'Bergen', capacity: 2 }] },
  });
});
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
  bookings.service.clearFaults();
});
afterAll(async () => {
  await bookings?.service.stop();
});

function controller(args: string[] = [], env?: NodeJS.ProcessEnv): Child {
  const c = startController({
    namespace: ns.name,
    bookingUrl: bookings.service.url,
    tokenFile: bookings.tokenFile,
    args: [`--cluster-id=${CLUSTER}`, '--orphan-sweep-interval=0', ...args],
    ...(env ? { env } : {}),
  });
  controllers.push(c);
  return c;
}

/** Every booking ever created for a ticket (any state): what the user was charged for at some point. */
const everBooked = (uid: string) => bookings.client.listBookings({ owner: uid });
const keysOf = (uid: string) => new Set(bookings.keysSent.filter((k) => k.startsWith(`${uid}.`)));

async function deleteAndWait(name: string): Promise<void> {
  await ticketsApi().deleteNamespacedCustomObject({ ...TICKETS, namespace: ns.name, name });
  await waitFor(`${name} gone`, async () => (await getTicket(ns.name, name)) === undefined, { timeoutMs: 60_000 });
}

describe('1. deletion never books', () => {
  for (const policy of ['Delete', 'Orphan'] as const) {
    test(`GIVEN a ticket refused SoldOut WHEN the seats free up and it is deleted (${policy}) THEN nothing is ever booked for it`, async () => {
      // GIVEN one ticket holding both seats of Oslo -> Bergen, and a second one refused
      const c = controller(['--drift-interval=300']);
      await createTicket(ns.name, `holder-${policy.toLowerCase()}`, { from: 'Oslo', to: 'Bergen', number: 2 });
      await waitForReady(ns.name, `holder-${policy.toLowerCase()}`, 30_000, c);
      const refused = await createTicket(ns.name, `refused-${policy.toLowerCase()}`, { from: 'Oslo', to: 'Bergen', number: 1 }, { 'flights.com/deletion-policy': policy });
      await waitFor('SoldOut', async () => condition(await getTicket(ns.name, refused.metadata.name), 'Ready')?.reason === 'SoldOut', { timeoutMs: 30_000 });
      // WHEN the holder is deleted (its seats are freed) and then the refused ticket at once
      await deleteAndWait(`holder-${policy.toLowerCase()}`);
      await deleteAndWait(refused.metadata.name);
      // THEN no booking was ever created for the refused ticket
      const created = await everBooked(refused.metadata.uid);
      process.stdout.write(`holes/1 ${policy}: bookings ever created for the deleted sold-out ticket: ${created.length}\n`);
      expect(created).toEqual([]);
    }, 120_000);
  }

  test('GIVEN a create held in flight past the client timeout WHEN the ticket (Orphan) is deleted THEN exactly one booking, orphaned', async () => {
    // GIVEN creates that commit 3 s after they arrive, and a controller that gives up after 1 s
    bookings.service.setFaults({ createLatencyMs: 3000 });
    const c = controller(['--booking-timeout=1']);
    const t = await createTicket(ns.name, 'slow-orphan', { from: 'Cairo', to: 'London', number: 2 }, { 'flights.com/deletion-policy': 'Orphan' });
    await waitFor('the key written', async () => (await getTicket(ns.name, 'slow-orphan'))?.metadata.annotations?.[EXT], { timeoutMs: 30_000, intervalMs: 20 });
    // WHEN it is deleted while the create is in flight
    await deleteAndWait('slow-orphan');
    await new Promise((r) => setTimeout(r, 3500)); // anything still in flight has committed by now
    // THEN one booking was created, and it is left in place, marked orphaned
    const created = await everBooked(t.metadata.uid);
    process.stdout.write(`holes/1 in flight, Orphan: bookings created ${created.length}, keys sent ${keysOf(t.metadata.uid).size}\n`);
    expect(created.map((b) => [b.state, b.orphaned])).toEqual([['active', true]]);
    expect(c.lines.some((l) => l.includes('request_in_flight'))).toBe(true);
  }, 120_000);
});

describe('2. the pending key cannot be lost', () => {
  for (const edit of ['removed', 'overwritten'] as const) {
    test(`GIVEN a create in flight WHEN flights.com/external-name is ${edit} THEN exactly one booking, none leaked`, async () => {
      // GIVEN a create that times out on our side and commits 3 s after it arrived
      bookings.service.setFaults({ createLatencyMs: 3000 });
      const c = controller(['--booking-timeout=1']);
      const name = `key-${edit}`;
      const t = await createTicket(ns.name, name, { from: 'Cairo', to: 'Paris', number: 1 });
      await waitFor('the key written', async () => (await getTicket(ns.name, name))?.metadata.annotations?.[EXT], { timeoutMs: 30_000, intervalMs: 20 });
      // WHEN a user or a GitOps sync rewrites the annotation meanwhile
      if (edit === 'removed') await kubectl(['annotate', '-n', ns.name, 'ft', name, `${EXT}-`]);
      else await kubectl(['annotate', '-n', ns.name, '--overwrite', 'ft', name, `${EXT}=gitops-value`]);
      await new Promise((r) => setTimeout(r, 1500));
      bookings.service.clearFaults();
      // THEN the ticket becomes Ready, and once everything in flight has committed, one booking exists
      await waitForReady(ns.name, name, 60_000, c);
      await new Promise((r) => setTimeout(r, 3500));
      const created = await everBooked(t.metadata.uid);
      process.stdout.write(`holes/2 ${edit}: bookings created ${created.length}, distinct keys sent ${keysOf(t.metadata.uid).size}\n`);
      expect(created.map((b) => b.state)).toEqual(['active']);
      expect(keysOf(t.metadata.uid).size).toBe(1);
      expect((await getTicket(ns.name, name))!.status!.bookingRef).toBe(created[0]!.id);
    }, 120_000);
  }

  test('GIVEN a Ready ticket made with kubectl apply WHEN the original manifest is applied again THEN nothing changes at the booking service', async () => {
    const c = controller();
    const manifest = stringify({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: 'applied', namespace: ns.name }, spec: { from: 'Cairo', to: 'Rome', number: 2 } });
    await kubectl(['apply', '-f', '-'], { input: manifest });
    const t = await waitForReady(ns.name, 'applied', 30_000, c);
    const [before] = await everBooked(t.metadata.uid);
    // WHEN
    await kubectl(['apply', '-f', '-'], { input: manifest });
    await new Promise((r) => setTimeout(r, 6000)); // past a drift check (5 s)
    // THEN the same one booking, unchanged (version), and the ticket still names it
    const after = await everBooked(t.metadata.uid);
    expect(after).toEqual([before]);
    expect((await getTicket(ns.name, 'applied'))!.metadata.annotations?.[EXT]).toBe(before!.id);
  }, 120_000);
});

describe('3. a stale cache drives no destructive call', () => {
  let proxy: WatchProxy;
  beforeAll(async () => {
    proxy = await startWatchProxy();
  });
  afterAll(async () => {
    await proxy?.close();
  });

  async function holder(): Promise<string | undefined> {
    const lease = await ns.kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'flight-operator-controller', namespace: ns.name });
    return lease.spec?.holderIdentity ?? undefined;
  }

  test('GIVEN a standby whose watch lags WHEN the spec changes and the leader dies THEN the standby changes no seats, cancels nothing and reports no repair', async () => {
    const elect = (id: string) => ['--leader-elect', `--leader-election-namespace=${ns.name}`, `--identity=${id}`, '--drift-interval=300'];
    // GIVEN a leader, and a standby that reaches the API server through the proxy
    const leader = controller(elect('leader'));
    await waitFor('the leader', async () => ((await holder().catch(() => undefined)) === 'leader' ? true : undefined), { timeoutMs: 30_000 });
    const standby = controller(elect('standby'), { KUBECONFIG: proxy.kubeconfig });
    await waitFor('the standby listed through the proxy', () => standby.lines.some((l) => l.includes('"listed"')) || undefined, { timeoutMs: 30_000 });
    await createTicket(ns.name, 'seats', { from: 'Paris', to: 'Rome', number: 2 });
    await createTicket(ns.name, 'route', { from: 'Paris', to: 'Madrid', number: 2 });
    const seats0 = await waitForReady(ns.name, 'seats', 30_000, leader);
    const route0 = await waitForReady(ns.name, 'route', 30_000, leader);
    await new Promise((r) => setTimeout(r, 2000)); // the standby's cache has both Ready tickets
    // WHEN its watch falls behind, and the user changes the seats of one ticket and the route and seats of the other
    proxy.hold();
    await patchSpec(ns.name, 'seats', { number: 3 });
    await patchSpec(ns.name, 'route', { to: 'Rome', number: 3 });
    await waitForReady(ns.name, 'seats', 30_000, leader);
    await waitForReady(ns.name, 'route', 30_000, leader);
    const seatsBooking = (await everBooked(seats0.metadata.uid)).find((b) => b.state === 'active')!;
    const routeBookings = await everBooked(route0.metadata.uid);
    // AND the leader dies; the standby takes over with its stale cache and reconciles every ticket it has
    await leader.kill9();
    await waitFor('the standby leads', async () => ((await holder()) === 'standby' ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 }).catch((e: Error) => {
      throw new Error(`${e.message}\nstandby log:\n${standby.tail()}`);
    });
    await waitFor('the standby starts its workers', () => standby.lines.some((l) => l.includes('starting workers')) || undefined, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 4000)); // its first reconcile of every cached ticket runs now, on the stale view
    const heldChunks = proxy.heldChunks;
    proxy.release();
    await new Promise((r) => setTimeout(r, 3000));
    // THEN the bookings are exactly as the leader left them: no seat change back to 2, nothing cancelled or booked
    const seatsAfter = (await everBooked(seats0.metadata.uid)).find((b) => b.id === seatsBooking.id)!;
    const routeAfter = await everBooked(route0.metadata.uid);
    process.stdout.write(
      `holes/3: watch chunks held ${heldChunks}; seats booking version ${seatsBooking.version} -> ${seatsAfter.version}, seats ${seatsAfter.seats}; route bookings ${routeBookings.length} -> ${routeAfter.length}\n`,
    );
    expect(heldChunks).toBeGreaterThan(0);
    expect(seatsAfter).toMatchObject({ state: 'active', seats: 3, version: seatsBooking.version });
    expect(routeAfter).toEqual(routeBookings);
    // AND no false repair was reported
    const events = [...(await ticketEvents(ns.name, 'seats')), ...(await ticketEvents(ns.name, 'route'))];
    expect(events.filter((e) => e.includes('BookingRepaired'))).toEqual([]);
    expect((await getTicket(ns.name, 'seats'))!.status).toMatchObject({ seats: 3 });
  }, 180_000);
});
