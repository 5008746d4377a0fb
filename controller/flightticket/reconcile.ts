/**
 * The FlightTicket reconcile, top to bottom. One call brings one ticket's
 * booking in line with its spec, through the booking API, in the style of
 * Crossplane's managed reconciler: Observe (list the ticket's bookings), then
 * Create / Update / Delete, each idempotent, so a crash at any line and a
 * retry from the top books nothing twice and leaves nothing booked.
 *
 * Guarantees, and the line that keeps each:
 *  - the finalizer is on the ticket before any booking exists (step 2);
 *  - a create is preceded by persisting its idempotency key with an
 *    optimistic-concurrency status write, so a stale cache cannot create, and
 *    a create whose answer was lost is replayed, not repeated (step 4);
 *  - a route change books the new route before cancelling the old (step 6);
 *  - the finalizer goes only after every booking is cancelled (step 1, finalize);
 *  - a reconcile with nothing to do makes one booking read and no write (step 7).
 */
import { randomUUID } from 'node:crypto';
import type { Booking } from '../booking/client';
import { PermanentBookingError, TransientBookingError } from '../booking/errors';
import type { Result } from '../runtime/controller';
import { semanticEqual, setCondition, type Condition } from '../runtime/conditions';
import { DELETION_POLICY_ANNOTATION, FINALIZER, routeOf, type FlightTicket, type FlightTicketStatus } from './ticket';

/** What the reconcile needs of the booking API (controller/booking/client.ts implements it). */
export interface Bookings {
  listBookings(filter: { owner: string; state: 'active' }): Promise<Booking[]>;
  createBooking(key: string, req: { from: string; to: string; seats: number; owner: string; ownerRef: string }): Promise<{ booking: Booking }>;
  updateSeats(id: string, seats: number): Promise<Booking>;
  cancelBooking(id: string): Promise<Booking>;
}

/** What the reconcile needs of the Kubernetes API, all optimistic-concurrency writes (409 on a stale object). */
export interface Tickets {
  /** The ticket as the cache has it, or undefined once it is gone. */
  get(key: string): FlightTicket | undefined;
  addFinalizer(ticket: FlightTicket, finalizer: string): Promise<FlightTicket>;
  removeFinalizer(ticket: FlightTicket, finalizer: string): Promise<void>;
  /** Replaces .status (PUT /status with the ticket's resourceVersion). */
  updateStatus(ticket: FlightTicket, status: FlightTicketStatus): Promise<FlightTicket>;
}

export interface Events {
  normal(ticket: FlightTicket, reason: string, message: string): void;
  warning(ticket: FlightTicket, reason: string, message: string): void;
}

export interface ReconcileDeps {
  tickets: Tickets;
  bookings: Bookings;
  events: Events;
  /** How often a Ready ticket's booking is re-read to catch changes made outside (drift). */
  driftInterval: number;
  now?: () => Date;
  newKey?: () => string;
}

/** Reasons on the Ready condition, shown in `kubectl get ft` (Status column). */
const PERMANENT_REASONS: Record<string, string> = {
  sold_out: 'SoldOut',
  unknown_route: 'UnknownRoute',
  unauthorized: 'Unauthorized',
  credentials_missing: 'CredentialsMissing',
  invalid_request: 'InvalidRequest',
};

export async function reconcileTicket(key: string, deps: ReconcileDeps): Promise<Result> {
  const found = deps.tickets.get(key);
  if (!found) return {}; // deleted, finalizer already gone: nothing left to do
  // Every write returns the newer object; failures are recorded on the newest one.
  const latest = { ticket: found };
  try {
    return found.metadata.deletionTimestamp ? await finalize(latest, deps) : await sync(latest, deps);
  } catch (err) {
    if (err instanceof PermanentBookingError) return recordPermanentFailure(latest.ticket, err, deps);
    if (err instanceof TransientBookingError) throw await recordTransientFailure(latest.ticket, err, deps);
    throw err; // e.g. a 409 from a stale cache: the queue retries with backoff
  }
}

/** 1. Deletion: cancel every booking of this ticket (unless Orphan), then let the ticket go. */
async function finalize(latest: { ticket: FlightTicket }, { tickets, bookings, events }: ReconcileDeps): Promise<Result> {
  const ticket = latest.ticket;
  if (!ticket.metadata.finalizers?.includes(FINALIZER)) return {};
  if (ticket.metadata.annotations?.[DELETION_POLICY_ANNOTATION] === 'Orphan') {
    events.normal(ticket, 'Orphaned', `booking ${ticket.status?.bookingRef ?? '(none)'} left in place: deletion policy is Orphan`);
  } else {
    for (const b of await bookings.listBookings({ owner: ticket.metadata.uid, state: 'active' })) {
      await bookings.cancelBooking(b.id);
      events.normal(ticket, 'Cancelled', `cancelled booking ${b.id} (${routeOf(b)}, ${b.seats} seats)`);
    }
  }
  await tickets.removeFinalizer(ticket, FINALIZER);
  return {};
}

async function sync(latest: { ticket: FlightTicket }, deps: ReconcileDeps): Promise<Result> {
  const { tickets, bookings, events } = deps;
  const now = deps.now ?? (() => new Date());
  const uid = latest.ticket.metadata.uid;
  const desired = latest.ticket.spec;

  // 2. The finalizer goes on before anything can be booked.
  if (!latest.ticket.metadata.finalizers?.includes(FINALIZER)) latest.ticket = await tickets.addFinalizer(latest.ticket, FINALIZER);
  const before = latest.ticket.status ?? {};

  // 3. Observe: the ticket's active bookings, found by owner so none is ever lost track of.
  const active = await bookings.listBookings({ owner: uid, state: 'active' });
  const onRoute = active.filter((b) => b.from === desired.from && b.to === desired.to);
  let keep: Booking | undefined = onRoute.find((b) => b.id === before.bookingRef) ?? onRoute[0];

  // 4. Create, when nothing is booked on the wanted route. The key is persisted
  //    first (a conflict-checked write), so a stale cache cannot book and a
  //    lost answer is replayed by the retry instead of booking twice.
  if (!keep) {
    let idempotencyKey = before.pendingBookingKey;
    if (!idempotencyKey) {
      idempotencyKey = `${uid}.${(deps.newKey ?? randomUUID)()}`;
      latest.ticket = await tickets.updateStatus(latest.ticket, { ...before, pendingBookingKey: idempotencyKey });
    }
    const ownerRef = `${latest.ticket.metadata.namespace}/${latest.ticket.metadata.name}`;
    try {
      keep = (await bookings.createBooking(idempotencyKey, { from: desired.from, to: desired.to, seats: desired.number, owner: uid, ownerRef })).booking;
    } catch (err) {
      if (!(err instanceof PermanentBookingError && err.code === 'idempotency_key_reused')) throw err;
      keep = undefined; // the spec changed after the key was recorded: start afresh below
    }
    if (!keep || keep.state !== 'active') {
      // A fresh key next time; whatever the old key booked shows up in the next Observe.
      await tickets.updateStatus(latest.ticket, { ...latest.ticket.status, pendingBookingKey: undefined });
      return { requeue: true };
    }
    const lost = before.bookingRef && before.route === routeOf(desired) ? before.bookingRef : undefined;
    if (lost) events.warning(latest.ticket, 'BookingRepaired', `booking ${lost} was cancelled outside the operator; booked ${keep.id} instead`);
    else events.normal(latest.ticket, 'Booked', `booked ${keep.id}: ${routeOf(keep)}, ${keep.seats} seats`);
  }

  // 5. Update the seats when the spec, or someone outside, changed them.
  if (keep.seats !== desired.number) {
    const was = keep.seats;
    keep = await bookings.updateSeats(keep.id, desired.number);
    if (before.bookingRef === keep.id && before.seats === desired.number) {
      events.warning(latest.ticket, 'BookingRepaired', `booking ${keep.id} had ${was} seats, changed outside the operator; set back to ${keep.seats}`);
    } else {
      events.normal(latest.ticket, 'SeatsChanged', `booking ${keep.id}: ${was} -> ${keep.seats} seats`);
    }
  }

  // 6. Cancel every other booking of this ticket: after a route change, the old
  //    route goes only now that the new one is held.
  for (const stale of active.filter((b) => b.id !== keep!.id)) {
    await bookings.cancelBooking(stale.id);
    events.normal(latest.ticket, 'RouteChanged', `cancelled booking ${stale.id} (${routeOf(stale)}); now holding ${keep.id} (${routeOf(keep)})`);
  }

  // 7. Status, written only when something changed: a no-op reconcile writes nothing.
  const generation = latest.ticket.metadata.generation;
  const message = `booked ${keep.id}: ${routeOf(keep)}, ${keep.seats} seats`;
  const ready = setCondition(latest.ticket.status?.conditions, { type: 'Ready', status: 'True', reason: 'Booked', message, observedGeneration: generation }, now());
  const conditions = setCondition(ready.conditions, syncedOk(generation), now()).conditions;
  const status: FlightTicketStatus = { observedGeneration: generation, bookingRef: keep.id, seats: keep.seats, route: routeOf(keep), conditions };
  if (!semanticEqual(latest.ticket.status, status)) latest.ticket = await tickets.updateStatus(latest.ticket, status);
  return { requeueAfter: deps.driftInterval };
}

const syncedOk = (generation: number) => ({ type: 'Synced', status: 'True' as const, reason: 'ReconcileSuccess', message: 'the booking API accepted the last change', observedGeneration: generation });

/**
 * A permanent failure (sold out, unknown route, ...) shows on the ticket and
 * is not retried: retrying would get the same answer. A new spec, or the
 * periodic drift check, tries again. Any booking already held stays.
 */
async function recordPermanentFailure(ticket: FlightTicket, err: PermanentBookingError, deps: ReconcileDeps): Promise<Result> {
  const now = (deps.now ?? (() => new Date()))();
  const generation = ticket.metadata.generation;
  const reason = PERMANENT_REASONS[err.code] ?? 'BookingRejected';
  const held = ticket.status?.bookingRef;
  const message = `${routeOf(ticket.spec)} (${ticket.spec.number} seats): ${err.message}${held ? `; still holding booking ${held} (${ticket.status?.route}, ${ticket.status?.seats} seats)` : ''}`;
  let conditions: Condition[] = setCondition(ticket.status?.conditions, { type: 'Ready', status: 'False', reason, message, observedGeneration: generation }, now).conditions;
  conditions = setCondition(conditions, { type: 'Synced', status: 'False', reason: 'ReconcileError', message, observedGeneration: generation }, now).conditions;
  const status: FlightTicketStatus = { ...ticket.status, observedGeneration: generation, pendingBookingKey: undefined, conditions };
  if (!semanticEqual(ticket.status, status)) {
    deps.events.warning(ticket, reason, message);
    await deps.tickets.updateStatus(ticket, status);
  }
  return { requeueAfter: deps.driftInterval };
}

/**
 * A transient failure (booking API down, 429, timeout) shows as Synced=False
 * and is retried with backoff; the thrown error carries Retry-After when the
 * API sent one, and the controller honours it.
 */
async function recordTransientFailure(ticket: FlightTicket, err: TransientBookingError, deps: ReconcileDeps): Promise<unknown> {
  const now = (deps.now ?? (() => new Date()))();
  const generation = ticket.metadata.generation;
  const message = `booking API: ${err.message}; retrying`;
  const conditions = setCondition(ticket.status?.conditions, { type: 'Synced', status: 'False', reason: 'BookingServiceUnavailable', message, observedGeneration: generation }, now);
  if (conditions.changed) {
    deps.events.warning(ticket, 'BookingServiceUnavailable', message);
    try {
      await deps.tickets.updateStatus(ticket, { ...ticket.status, conditions: conditions.conditions });
    } catch {
      // The retry will record it; the booking error is what matters here.
    }
  }
  return err;
}
