/**
 * The FlightTicket reconcile, top to bottom. One call brings one ticket's
 * booking in line with its spec, through the booking API, in the style of
 * Crossplane's managed reconciler: Observe (list the ticket's bookings), then
 * Create / Update / Delete, each idempotent, so a crash at any line and a
 * retry from the top books nothing twice and leaves nothing booked.
 *
 * Guarantees, and the line that keeps each:
 *  - the finalizer is on the ticket before any booking exists (steps 3, 4);
 *  - a create is preceded by persisting its idempotency key with an
 *    optimistic-concurrency write, so a stale cache cannot create, and
 *    a create whose answer was lost is replayed, not repeated (step 4).
 *    The key is also the booking's id (the booking API names a booking by
 *    the key that created it), so it goes in flights.com/external-name, in
 *    the same write as the finalizer: a new ticket costs two writes, that
 *    one and its status;
 *  - a route change books the new route before cancelling the old (step 6);
 *  - the finalizer goes only after the create that may still be in flight is
 *    settled and every booking is cancelled (step 1, finalize);
 *  - a ticket restored with a new uid takes over the booking its
 *    flights.com/external-name names instead of booking again, but only one
 *    that matches its spec, that no live ticket of this cluster holds, and
 *    that this cluster booked unless a human marked it for adoption (step 3b);
 *  - a reconcile with nothing to do makes one booking read and no write (step 7);
 *  - every booking and Kubernetes call carries the reconcile's signal, so a
 *    replica that loses its lease stops mid-reconcile (deps.signal).
 */
import { randomUUID } from 'node:crypto';
import { cityKey, sameRoute } from '../../booking-api/types';
import type { Booking, ReownRequest } from '../booking/client';
import { PermanentBookingError, TransientBookingError } from '../booking/errors';
import type { Result } from '../runtime/controller';
import { semanticEqual, setCondition, type Condition } from '../runtime/conditions';
import { ADOPT_ANNOTATION, DELETION_POLICY_ANNOTATION, EXTERNAL_NAME_ANNOTATION, FINALIZER, routeOf, type FlightTicket, type FlightTicketStatus } from './ticket';

/** Per-call options: the reconcile's signal goes to every call. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateRequest {
  from: string;
  to: string;
  seats: number;
  owner: string;
  ownerRef: string;
  /** This cluster's identity, so the orphan sweep only ever looks at this cluster's bookings. */
  cluster?: string;
}

/** What the reconcile needs of the booking API (controller/booking/client.ts implements it). */
export interface Bookings {
  listBookings(filter: { owner: string; state: 'active' }, opts?: CallOptions): Promise<Booking[]>;
  createBooking(key: string, req: CreateRequest, opts?: CallOptions): Promise<{ booking: Booking }>;
  updateSeats(id: string, seats: number, opts?: CallOptions): Promise<Booking>;
  cancelBooking(id: string, opts?: CallOptions): Promise<Booking>;
  /** Marks a booking as deliberately left behind (deletion policy Orphan), so the orphan sweep keeps it. */
  markOrphaned(id: string, opts?: CallOptions): Promise<Booking>;
  /** The booking, or null when the service does not know it. */
  findBooking(id: string, opts?: CallOptions): Promise<Booking | null>;
  /** Moves a booking to a new owner (adoption); owner_changed when expectedOwner no longer owns it. */
  reown(id: string, req: ReownRequest, opts?: CallOptions): Promise<Booking>;
}

/** What the reconcile needs of the Kubernetes API, all optimistic-concurrency writes (409 on a stale object). */
export interface Tickets {
  /** The ticket as the cache has it, or undefined once it is gone. */
  get(key: string): FlightTicket | undefined;
  addFinalizer(ticket: FlightTicket, finalizer: string, opts?: CallOptions): Promise<FlightTicket>;
  removeFinalizer(ticket: FlightTicket, finalizer: string, opts?: CallOptions): Promise<void>;
  /**
   * Adds the finalizer (when missing) and sets flights.com/external-name to
   * the key of the create about to be sent, in one write conditional on the
   * ticket's resourceVersion.
   */
  recordKey(ticket: FlightTicket, finalizer: string, key: string, opts?: CallOptions): Promise<FlightTicket>;
  /** Replaces .status (merge patch of /status with the ticket's resourceVersion). */
  updateStatus(ticket: FlightTicket, status: FlightTicketStatus, opts?: CallOptions): Promise<FlightTicket>;
  /** Sets one annotation (conflict-checked against the ticket's resourceVersion). */
  setAnnotation(ticket: FlightTicket, key: string, value: string, opts?: CallOptions): Promise<FlightTicket>;
  /** The uid of ticket namespace/name as the API server has it now (a live read), undefined when there is none. */
  liveUid(namespace: string, name: string, opts?: CallOptions): Promise<string | undefined>;
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
  /** The reconcile context's signal (aborted when leadership is lost): passed to every call. */
  signal?: AbortSignal;
  /** This cluster's identity, recorded on every booking created (see CreateRequest.cluster). */
  cluster?: string;
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
  deps.signal?.throwIfAborted();
  const found = deps.tickets.get(key);
  if (!found) return {}; // deleted, finalizer already gone: nothing left to do
  // Every write returns the newer object; failures are recorded on the newest one.
  const latest = { ticket: found };
  try {
    return found.metadata.deletionTimestamp ? await finalize(latest, deps) : await sync(latest, deps);
  } catch (err) {
    if (deps.signal?.aborted) throw err; // stopped (lease lost): write nothing more
    if (err instanceof PermanentBookingError) return recordPermanentFailure(latest.ticket, err, deps);
    if (err instanceof TransientBookingError) throw await recordTransientFailure(latest.ticket, err, deps);
    throw err; // e.g. a 409 from a stale cache: the queue retries with backoff
  }
}

/**
 * 1. Deletion: settle the create that may still be in flight, cancel every
 * booking of this ticket (or, with the Orphan policy, mark them orphaned so
 * the orphan sweep leaves them alone), then let the ticket go.
 */
async function finalize(latest: { ticket: FlightTicket }, deps: ReconcileDeps): Promise<Result> {
  const { tickets, bookings, events, signal } = deps;
  const ticket = latest.ticket;
  if (!ticket.metadata.finalizers?.includes(FINALIZER)) return {};
  // A create that timed out on our side may still commit on a slow booking
  // service, after the list below came back empty. Replaying its key settles
  // it: the booking it made (now part of the list), request_in_flight (a
  // transient error: we keep the finalizer and come back), or a refusal,
  // meaning nothing was booked under it.
  const pending = pendingKey(ticket);
  if (pending) {
    try {
      await bookings.createBooking(pending, createRequest(ticket, deps), { signal });
    } catch (err) {
      if (!(err instanceof PermanentBookingError)) throw err;
      // sold_out / unknown_route: nothing booked; idempotency_key_reused: booked
      // with the older spec, and that booking is found by owner below.
    }
  }
  const active = await bookings.listBookings({ owner: ticket.metadata.uid, state: 'active' }, { signal });
  if (ticket.metadata.annotations?.[DELETION_POLICY_ANNOTATION] === 'Orphan') {
    for (const b of active) await bookings.markOrphaned(b.id, { signal });
    events.normal(ticket, 'Orphaned', `${active.length ? `booking ${active.map((b) => b.id).join(', ')}` : 'no booking'} left in place: deletion policy is Orphan`);
  } else {
    for (const b of active) {
      await bookings.cancelBooking(b.id, { signal });
      events.normal(ticket, 'Cancelled', `cancelled booking ${b.id} (${routeOf(b)}, ${b.seats} seats)`);
    }
  }
  await tickets.removeFinalizer(ticket, FINALIZER, { signal });
  return {};
}

/**
 * The key of a create that may not be settled yet: one this ticket wrote in
 * flights.com/external-name (it starts with the ticket's uid) that does not
 * name the booking its status records, or one an older controller persisted
 * in status.pendingBookingKey (an upgrade caught mid-create).
 */
function pendingKey(ticket: FlightTicket): string | undefined {
  if (ticket.status?.pendingBookingKey) return ticket.status.pendingBookingKey;
  const name = ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION];
  return name?.startsWith(`${ticket.metadata.uid}.`) && name !== ticket.status?.bookingRef ? name : undefined;
}

/** The finalizer on the ticket (one conflict-checked write) unless it is there already. */
async function ensureFinalizer(latest: { ticket: FlightTicket }, deps: ReconcileDeps): Promise<void> {
  if (!latest.ticket.metadata.finalizers?.includes(FINALIZER)) latest.ticket = await deps.tickets.addFinalizer(latest.ticket, FINALIZER, { signal: deps.signal });
}

function createRequest(ticket: FlightTicket, deps: ReconcileDeps): CreateRequest {
  const { from, to, number } = ticket.spec;
  return {
    from,
    to,
    seats: number,
    owner: ticket.metadata.uid,
    ownerRef: `${ticket.metadata.namespace}/${ticket.metadata.name}`,
    ...(deps.cluster ? { cluster: deps.cluster } : {}),
  };
}

async function sync(latest: { ticket: FlightTicket }, deps: ReconcileDeps): Promise<Result> {
  const { tickets, bookings, events, signal } = deps;
  const now = deps.now ?? (() => new Date());
  const uid = latest.ticket.metadata.uid;
  const desired = latest.ticket.spec;

  const before = latest.ticket.status ?? {};
  const freshKey = () => `${uid}.${(deps.newKey ?? randomUUID)()}`;

  // 2. Observe: the ticket's active bookings, found by owner so none is ever lost track of.
  const active = await bookings.listBookings({ owner: uid, state: 'active' }, { signal });
  // Cities compare ASCII case-insensitively, as the CRD's CEL rule and the contract do.
  const onRoute = active.filter((b) => sameRoute(b, desired));
  let keep: Booking | undefined = onRoute.find((b) => b.id === before.bookingRef) ?? onRoute[0];
  const pending = pendingKey(latest.ticket);

  // 3. The finalizer is on before anything is booked or taken over. A ticket
  //    that holds a booking has it already (unless someone removed it); a
  //    create brings it with its key (step 4), in one write.
  if (active.length) await ensureFinalizer(latest, deps);

  // 3b. Adopt: nothing of this uid is booked on the route, but the ticket names
  //     a booking (restored from an export or a backup with a new uid).
  if (!keep && !pending) {
    const adoption = await adopt(latest, [before.bookingRef, ...active.map((b) => b.id)], deps);
    if ('reason' in adoption) return recordNotReady(latest.ticket, adoption.reason, adoption.message, deps);
    keep = adoption.booking;
  }

  // 4. Create, when nothing is booked on the wanted route. The key is persisted
  //    first, with the finalizer (a conflict-checked write), so a stale cache
  //    cannot book and a lost answer is replayed by the retry instead of
  //    booking twice.
  if (!keep) {
    let idempotencyKey = pending;
    if (idempotencyKey) {
      await ensureFinalizer(latest, deps);
    } else {
      idempotencyKey = freshKey();
      latest.ticket = await tickets.recordKey(latest.ticket, FINALIZER, idempotencyKey, { signal });
    }
    try {
      keep = (await bookings.createBooking(idempotencyKey, createRequest(latest.ticket, deps), { signal })).booking;
    } catch (err) {
      if (!(err instanceof PermanentBookingError && err.code === 'idempotency_key_reused')) throw err;
      keep = undefined; // the spec changed after the key was recorded: start afresh below
    }
    if (!keep || keep.state !== 'active') {
      // A fresh key next time; whatever the old key booked shows up in the next Observe.
      if (latest.ticket.status?.pendingBookingKey) {
        await tickets.updateStatus(latest.ticket, { ...latest.ticket.status, pendingBookingKey: undefined }, { signal });
      } else {
        await tickets.recordKey(latest.ticket, FINALIZER, freshKey(), { signal });
      }
      return { requeue: true };
    }
    const lost = before.bookingRef && before.route !== undefined && cityKey(before.route) === cityKey(routeOf(desired)) ? before.bookingRef : undefined;
    if (lost) events.warning(latest.ticket, 'BookingRepaired', `booking ${lost} was cancelled outside the operator; booked ${keep.id} instead`);
    else events.normal(latest.ticket, 'Booked', `booked ${keep.id}: ${routeOf(keep)}, ${keep.seats} seats`);
  }

  // 5. Update the seats when the spec, or someone outside, changed them.
  if (keep.seats !== desired.number) {
    const was = keep.seats;
    keep = await bookings.updateSeats(keep.id, desired.number, { signal });
    if (before.bookingRef === keep.id && before.seats === desired.number) {
      events.warning(latest.ticket, 'BookingRepaired', `booking ${keep.id} had ${was} seats, changed outside the operator; set back to ${keep.seats}`);
    } else {
      events.normal(latest.ticket, 'SeatsChanged', `booking ${keep.id}: ${was} -> ${keep.seats} seats`);
    }
  }

  // 6. Cancel every other booking of this ticket: after a route change, the old
  //    route goes only now that the new one is held.
  for (const stale of active.filter((b) => b.id !== keep!.id)) {
    await bookings.cancelBooking(stale.id, { signal });
    events.normal(latest.ticket, 'RouteChanged', `cancelled booking ${stale.id} (${routeOf(stale)}); now holding ${keep.id} (${routeOf(keep)})`);
  }

  // 7. Status, then the booking's id on the ticket (it survives export and
  //    restore), each written only when it changed: a no-op reconcile writes
  //    nothing. The id is there already when the booking was created under the
  //    key step 4 wrote or adopted by that name; it is written here for a
  //    booking made under an older controller's status key or by a service that names
  //    bookings itself. It goes second so that, when it lands, it equals
  //    status.bookingRef and the watch can tell it is our own write.
  const generation = latest.ticket.metadata.generation;
  const message = `booked ${keep.id}: ${routeOf(keep)}, ${keep.seats} seats`;
  const ready = setCondition(latest.ticket.status?.conditions, { type: 'Ready', status: 'True', reason: 'Booked', message, observedGeneration: generation }, now());
  const conditions = setCondition(ready.conditions, syncedOk(generation), now()).conditions;
  const status: FlightTicketStatus = { observedGeneration: generation, bookingRef: keep.id, seats: keep.seats, route: routeOf(keep), conditions };
  if (!semanticEqual(latest.ticket.status, status)) latest.ticket = await tickets.updateStatus(latest.ticket, status, { signal });
  if (latest.ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION] !== keep.id) {
    latest.ticket = await tickets.setAnnotation(latest.ticket, EXTERNAL_NAME_ANNOTATION, keep.id, { signal });
  }
  return { requeueAfter: deps.driftInterval };
}

type Adoption = { booking?: Booking } | { reason: string; message: string };

/**
 * The booking named by flights.com/external-name, taken over when it is this
 * ticket's to take: active, on the ticket's route with its seats, not held by
 * a ticket that still exists in this cluster, and booked by this cluster (or
 * the ticket is marked flights.com/adopt=true). Nothing to adopt (no
 * annotation, the booking is this ticket's own, cancelled or unknown) answers
 * no booking, and the reconcile books as for a new ticket.
 */
async function adopt(latest: { ticket: FlightTicket }, own: Array<string | undefined>, deps: ReconcileDeps): Promise<Adoption> {
  const { bookings, events, signal } = deps;
  const ticket = latest.ticket;
  const name = ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION];
  // No name, or one this ticket already knows as its own (a route change, a booking cancelled outside): nothing to adopt.
  if (!name || own.includes(name)) return {};
  const b = await bookings.findBooking(name, { signal });
  // Our own booking, no longer active on the route: the create path repairs it and says so.
  if (b?.owner === ticket.metadata.uid) return {};
  if (!b || b.state !== 'active') {
    const what = b ? 'cancelled' : 'unknown to the booking service';
    events.warning(ticket, 'BookingGone', `booking ${name} named by ${EXTERNAL_NAME_ANNOTATION} is ${what}; booking anew`);
    return {};
  }
  const want = ticket.spec;
  if (!sameRoute(b, want) || b.seats !== want.number) {
    return {
      reason: 'ExternalNameMismatch',
      message: `booking ${b.id} is ${routeOf(b)}, ${b.seats} seats; the ticket wants ${routeOf(want)}, ${want.number} seats: not adopted (remove ${EXTERNAL_NAME_ANNOTATION} to book anew)`,
    };
  }
  const sameCluster = (b.cluster ?? undefined) === deps.cluster;
  if (sameCluster) {
    // The ticket that booked it may still be here (a copy of a ticket carries its annotation too).
    const ref = /^([^/]+)\/([^/]+)$/.exec(b.ownerRef ?? '');
    if (ref && (await deps.tickets.liveUid(ref[1]!, ref[2]!, { signal })) === b.owner) {
      return { reason: 'OwnedByAnotherTicket', message: `booking ${b.id} is held by ticket ${b.ownerRef} (uid ${b.owner}), which still exists` };
    }
  } else if (ticket.metadata.annotations?.[ADOPT_ANNOTATION] !== 'true') {
    // Whether that cluster is still alive cannot be seen from here: only a human can say it is not.
    return {
      reason: 'OwnedByAnotherCluster',
      message: `booking ${b.id} belongs to cluster ${b.cluster ?? '(none)'} (owner ${b.owner}), not this one (${deps.cluster ?? '(none)'}); annotate the ticket ${ADOPT_ANNOTATION}=true to take it over`,
    };
  }
  const { owner, ownerRef, cluster } = createRequest(ticket, deps);
  // The finalizer first, as before a create: the booking is this ticket's from the re-own on.
  await ensureFinalizer(latest, deps);
  let adopted: Booking;
  try {
    adopted = await bookings.reown(b.id, { owner, ownerRef, ...(cluster ? { cluster } : {}), expectedOwner: b.owner }, { signal });
  } catch (err) {
    if (err instanceof PermanentBookingError && err.code === 'owner_changed') return { reason: 'OwnerChanged', message: `booking ${b.id}: ${err.message}` };
    throw err;
  }
  events.normal(ticket, 'Adopted', `adopted booking ${b.id} (${routeOf(b)}, ${b.seats} seats) from owner ${b.owner} of cluster ${b.cluster ?? '(none)'}`);
  return { booking: adopted };
}

const syncedOk = (generation: number) => ({ type: 'Synced', status: 'True' as const, reason: 'ReconcileSuccess', message: 'the booking API accepted the last change', observedGeneration: generation });

/**
 * A permanent failure (sold out, unknown route, ...) shows on the ticket and
 * is not retried: retrying would get the same answer. A new spec, or the
 * periodic drift check, tries again. Any booking already held stays.
 * The pending key (flights.com/external-name) stays too: a refused create
 * records nothing under it, so the drift check replays the same key and,
 * when the answer is the same, finds nothing new to write.
 */
async function recordPermanentFailure(ticket: FlightTicket, err: PermanentBookingError, deps: ReconcileDeps): Promise<Result> {
  const reason = PERMANENT_REASONS[err.code] ?? 'BookingRejected';
  const held = ticket.status?.bookingRef;
  const message = `${routeOf(ticket.spec)} (${ticket.spec.number} seats): ${err.message}${held ? `; still holding booking ${held} (${ticket.status?.route}, ${ticket.status?.seats} seats)` : ''}`;
  return recordNotReady(ticket, reason, message, deps);
}

/** Ready=False and Synced=False with the reason, a Warning event, and a re-check at the drift interval; nothing written when nothing changed. */
async function recordNotReady(ticket: FlightTicket, reason: string, message: string, deps: ReconcileDeps): Promise<Result> {
  const now = (deps.now ?? (() => new Date()))();
  const generation = ticket.metadata.generation;
  let conditions: Condition[] = setCondition(ticket.status?.conditions, { type: 'Ready', status: 'False', reason, message, observedGeneration: generation }, now).conditions;
  conditions = setCondition(conditions, { type: 'Synced', status: 'False', reason: 'ReconcileError', message, observedGeneration: generation }, now).conditions;
  const status: FlightTicketStatus = { ...ticket.status, observedGeneration: generation, conditions };
  if (!semanticEqual(ticket.status, status)) {
    deps.events.warning(ticket, reason, message);
    await deps.tickets.updateStatus(ticket, status, { signal: deps.signal });
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
      await deps.tickets.updateStatus(ticket, { ...ticket.status, conditions: conditions.conditions }, { signal: deps.signal });
    } catch {
      // The retry will record it; the booking error is what matters here.
    }
  }
  return err;
}
