/**
 * The FlightTicket reconcile, top to bottom. One call brings one ticket's
 * booking in line with its spec, through the booking API, in the style of
 * Crossplane's managed reconciler: Observe (list the ticket's bookings), then
 * Create / Update / Delete, each idempotent, so a crash at any line and a
 * retry from the top books nothing twice and leaves nothing booked.
 *
 * Guarantees, the line that keeps each, and the test that shows it
 * (unit: controller/flightticket/reconcile.test.ts; integration: test/controller/):
 *  - the finalizer is on the ticket before any booking exists (steps 3, 4;
 *    unit "a new ticket ...");
 *  - a create's idempotency key is a function of the booking service's own
 *    record, `<uid>.<number of bookings this ticket ever made>`, not of
 *    anything a user can edit: a lost answer, a crash, or an annotation
 *    removed or overwritten while the create is in flight all lead to the
 *    same key, so the retry replays instead of booking again (step 4;
 *    exactly-once-holes "2. the pending key cannot be lost");
 *  - a create is preceded by a conditional write (the finalizer and the key
 *    in flights.com/external-name, one write) or a live read, so a stale
 *    cache cannot book (step 4; unit "a stale cache cannot book ...");
 *  - before any call that changes or cancels a booking, the reconcile knows
 *    the ticket's current state: a conditional write in this reconcile or a
 *    live read; when the cache lags, it goes on from the live ticket
 *    (ensureCurrent; exactly-once-holes "3. a stale cache drives no destructive call");
 *  - a route change books the new route before cancelling the old (step 6;
 *    unit "a route change books the new route first ...");
 *  - deletion can never book: the finalizer first closes the ticket (its
 *    uid) at the booking service, which waits for a create still in flight
 *    and refuses every later one, then cancels (or orphans) what exists
 *    (step 1, finalize; exactly-once-holes "1. deletion never books",
 *    deletion-in-flight);
 *  - a ticket restored with a new uid takes over the booking its
 *    flights.com/external-name names instead of booking again, but only one
 *    that matches its spec, that no live ticket of this cluster holds, and
 *    that this cluster booked unless a human marked it for adoption (step 3b;
 *    test/restore/);
 *  - a reconcile with nothing to do makes one booking read and no write (step 7;
 *    unit "a reconcile with nothing to do ...");
 *  - every booking and Kubernetes call carries the reconcile's signal, so a
 *    replica that loses its lease stops mid-reconcile (deps.signal; unit
 *    "the reconcile signal reaches every ...").
 */
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
  /** Every booking of the owner, whatever its state (cancelled ones count towards the next key). */
  listBookings(filter: { owner: string }, opts?: CallOptions): Promise<Booking[]>;
  createBooking(key: string, req: CreateRequest, opts?: CallOptions): Promise<{ booking: Booking }>;
  updateSeats(id: string, seats: number, opts?: CallOptions): Promise<Booking>;
  cancelBooking(id: string, opts?: CallOptions): Promise<Booking>;
  /** Marks a booking as deliberately left behind (deletion policy Orphan), so the orphan sweep keeps it. */
  markOrphaned(id: string, opts?: CallOptions): Promise<Booking>;
  /** The booking, or null when the service does not know it. */
  findBooking(id: string, opts?: CallOptions): Promise<Booking | null>;
  /** Moves a booking to a new owner (adoption); owner_changed when expectedOwner no longer owns it. */
  reown(id: string, req: ReownRequest, opts?: CallOptions): Promise<Booking>;
  /** No booking is ever created for this owner again; request_in_flight (transient) while a create for it runs. */
  closeOwner(owner: string, opts?: CallOptions): Promise<unknown>;
}

/** What the reconcile needs of the Kubernetes API, all optimistic-concurrency writes (409 on a stale object). */
export interface Tickets {
  /** The ticket as the cache has it, or undefined once it is gone. */
  get(key: string): FlightTicket | undefined;
  /** The ticket as the API server has it now (a quorum read, not the cache), or undefined when there is none. */
  live(namespace: string, name: string, opts?: CallOptions): Promise<FlightTicket | undefined>;
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
}

/** Reasons on the Ready condition, shown in `kubectl get ft` (Status column). */
const PERMANENT_REASONS: Record<string, string> = {
  sold_out: 'SoldOut',
  unknown_route: 'UnknownRoute',
  unauthorized: 'Unauthorized',
  credentials_missing: 'CredentialsMissing',
  invalid_request: 'InvalidRequest',
  owner_closed: 'TicketClosed',
  contract_unsupported: 'BookingServiceOutdated',
};

/**
 * What the Ready condition says for a refusal whose message from the service
 * carries live data (sold_out: "only 3 seat(s) left"): a stable sentence, so a
 * drift check that gets the same refusal writes nothing and emits no event.
 */
const STABLE_MESSAGES: Record<string, string> = {
  sold_out: 'sold out: not enough seats left on this route',
};

/** The ticket the cache handed us is older than the API server's: go on from the live one. */
class StaleCache extends Error {
  constructor(readonly live: FlightTicket | undefined) {
    super('the cache is behind the API server');
  }
}

/** The ticket being reconciled; `current` once a conditional write or a live read in this reconcile proved it is not stale. */
interface Latest {
  ticket: FlightTicket;
  current: boolean;
}

export async function reconcileTicket(key: string, deps: ReconcileDeps): Promise<Result> {
  deps.signal?.throwIfAborted();
  const found = deps.tickets.get(key);
  if (!found) return {}; // deleted, finalizer already gone: nothing left to do
  try {
    return await reconcileObject({ ticket: found, current: false }, deps);
  } catch (err) {
    if (!(err instanceof StaleCache)) throw err;
    // The cache lags (a watch gap, a replica that just took over): carry on
    // from the live ticket, as if the cache had caught up. Nothing was
    // changed at the booking service on the stale view.
    if (!err.live) return {};
    return reconcileObject({ ticket: err.live, current: true }, deps);
  }
}

async function reconcileObject(latest: Latest, deps: ReconcileDeps): Promise<Result> {
  try {
    return latest.ticket.metadata.deletionTimestamp ? await finalize(latest, deps) : await sync(latest, deps);
  } catch (err) {
    // Stopped (lease lost): write nothing more. A lagging cache: nothing to record, the caller goes on from the live ticket.
    if (deps.signal?.aborted || err instanceof StaleCache) throw err;
    if (err instanceof PermanentBookingError) return recordPermanentFailure(latest.ticket, err, deps);
    if (err instanceof TransientBookingError) throw await recordTransientFailure(latest.ticket, err, deps);
    throw err; // e.g. a 409 from a stale cache: the queue retries with backoff
  }
}

/**
 * Before a call that changes or cancels a booking: the ticket must be the
 * API server's current one. A conditional write earlier in this reconcile
 * proved that already; otherwise a live read does, and a cache that lags
 * throws StaleCache (the reconcile starts over from the live ticket).
 */
async function ensureCurrent(latest: Latest, deps: ReconcileDeps): Promise<void> {
  if (latest.current) return;
  const { namespace, name, uid, resourceVersion } = latest.ticket.metadata;
  const live = await deps.tickets.live(namespace, name, { signal: deps.signal });
  if (!live || live.metadata.uid !== uid) throw new StaleCache(undefined);
  if (live.metadata.resourceVersion !== resourceVersion) throw new StaleCache(live);
  latest.current = true;
}

/**
 * 1. Deletion: close the ticket at the booking service, so that nothing can
 * be booked for it any more (a create still in flight settles first: the
 * close answers request_in_flight until it has; every later create, from
 * any replica, under any key, is refused). Then cancel every booking it has
 * (or, with the Orphan policy, mark them orphaned so the orphan sweep leaves
 * them alone), and let the ticket go. Nothing here can create a booking.
 */
async function finalize(latest: Latest, deps: ReconcileDeps): Promise<Result> {
  const { tickets, bookings, events, signal } = deps;
  if (!latest.ticket.metadata.finalizers?.includes(FINALIZER)) return {};
  const uid = latest.ticket.metadata.uid;
  try {
    await bookings.closeOwner(uid, { signal });
  } catch (err) {
    // Any 404/405, with or without the contract's error body: the endpoint is not there.
    if (err instanceof PermanentBookingError && (err.status === 404 || err.status === 405)) {
      throw new PermanentBookingError(
        'contract_unsupported',
        `the booking service does not implement POST /v1/owners/{owner}/close (booking API 1.1, see CHANGELOG): the ticket keeps its finalizer until it does`,
      );
    }
    throw err;
  }
  const active = (await bookings.listBookings({ owner: uid }, { signal })).filter((b) => b.state === 'active');
  // The deletion policy as the ticket has it now, not as a lagging cache does.
  if (active.length) await ensureCurrent(latest, deps);
  const ticket = latest.ticket;
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The key of a create that earlier controllers (the released 0.1.0 to 0.3.0) may have left unsettled:
 * status.pendingBookingKey (up to 0.3.0 as first shipped), or a random key
 * `<uid>.<uuid>` in flights.com/external-name that is not yet the booking
 * status records. It is replayed before anything else, so an upgrade caught
 * mid-create books once. Keys of this controller are derived, never pending.
 */
function legacyPendingKey(ticket: FlightTicket): string | undefined {
  if (ticket.status?.pendingBookingKey) return ticket.status.pendingBookingKey;
  const name = ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION];
  const prefix = `${ticket.metadata.uid}.`;
  return name?.startsWith(prefix) && UUID.test(name.slice(prefix.length)) && name !== ticket.status?.bookingRef ? name : undefined;
}

/** The finalizer on the ticket (one conflict-checked write) unless it is there already. */
async function ensureFinalizer(latest: Latest, deps: ReconcileDeps): Promise<void> {
  if (latest.ticket.metadata.finalizers?.includes(FINALIZER)) return;
  latest.ticket = await deps.tickets.addFinalizer(latest.ticket, FINALIZER, { signal: deps.signal });
  latest.current = true;
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

async function sync(latest: Latest, deps: ReconcileDeps): Promise<Result> {
  const { tickets, bookings, events, signal } = deps;
  const now = deps.now ?? (() => new Date());
  const uid = latest.ticket.metadata.uid;
  const desired = latest.ticket.spec;
  const before = latest.ticket.status ?? {};

  // 2. Observe: every booking this ticket ever made, found by owner so none
  //    is ever lost track of. Their number names the next create's key.
  const mine = await bookings.listBookings({ owner: uid }, { signal });
  const active = mine.filter((b) => b.state === 'active');
  // Cities compare ASCII case-insensitively, as the CRD's CEL rule and the contract do.
  const onRoute = active.filter((b) => sameRoute(b, desired));
  let keep: Booking | undefined = onRoute.find((b) => b.id === before.bookingRef) ?? onRoute[0];
  const legacy = legacyPendingKey(latest.ticket);

  // 3. The finalizer is on before anything is booked or taken over. A ticket
  //    that holds a booking has it already (unless someone removed it); a
  //    create brings it with its key (step 4), in one write.
  if (active.length) await ensureFinalizer(latest, deps);

  // 3b. Adopt: nothing of this uid is booked on the route, but the ticket names
  //     a booking (restored from an export or a backup with a new uid).
  if (!keep && !legacy) {
    const adoption = await adopt(latest, [before.bookingRef, ...mine.map((b) => b.id)], deps);
    if ('reason' in adoption) return recordNotReady(latest.ticket, adoption.reason, adoption.message, deps);
    keep = adoption.booking;
  }

  // 4. Create, when nothing is booked on the wanted route. The key is the
  //    ticket's uid and the number of bookings it ever made: the same on
  //    every retry until a create under it commits, whatever happened to the
  //    ticket's annotations meanwhile. It is written first, with the
  //    finalizer (a conditional write: a stale cache cannot book); when both
  //    are there already, a live read stands in for the write.
  if (!keep) {
    const key = legacy ?? `${uid}.${mine.length}`;
    const named = latest.ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION] === key;
    if (named || legacy) {
      await ensureFinalizer(latest, deps);
      await ensureCurrent(latest, deps);
    } else {
      latest.ticket = await tickets.recordKey(latest.ticket, FINALIZER, key, { signal });
      latest.current = true;
    }
    let created: Booking | undefined;
    try {
      created = (await bookings.createBooking(key, createRequest(latest.ticket, deps), { signal })).booking;
    } catch (err) {
      if (!(err instanceof PermanentBookingError && err.code === 'idempotency_key_reused')) throw err;
      // The spec changed after a create under this key committed: its booking
      // shows in the next Observe, and the key after it is fresh.
    }
    if (created && created.owner !== uid) {
      // The key's booking was moved to another ticket (adopted after a restore): it is not ours to hold.
      return recordNotReady(latest.ticket, 'BookingTakenOver', `booking ${created.id} now belongs to ${created.ownerRef ?? created.owner} (uid ${created.owner}); this ticket books nothing more`, deps);
    }
    if (!created || created.state !== 'active') {
      // An older controller's key that will not book: drop it, and derive keys from here on.
      if (latest.ticket.status?.pendingBookingKey) await tickets.updateStatus(latest.ticket, { ...latest.ticket.status, pendingBookingKey: undefined }, { signal });
      return { requeue: true };
    }
    keep = created;
    const lost = before.bookingRef && before.route !== undefined && cityKey(before.route) === cityKey(routeOf(desired)) ? before.bookingRef : undefined;
    if (lost) events.warning(latest.ticket, 'BookingRepaired', `booking ${lost} was cancelled outside the operator; booked ${keep.id} instead`);
    else events.normal(latest.ticket, 'Booked', `booked ${keep.id}: ${routeOf(keep)}, ${keep.seats} seats`);
  }

  // 5. Update the seats when the spec, or someone outside, changed them: on
  //    the ticket as it is now, never on a lagging cache's.
  if (keep.seats !== desired.number) {
    await ensureCurrent(latest, deps);
    const was = keep.seats;
    keep = await bookings.updateSeats(keep.id, desired.number, { signal });
    if (before.bookingRef === keep.id && before.seats === desired.number) {
      events.warning(latest.ticket, 'BookingRepaired', `booking ${keep.id} had ${was} seats, changed outside the operator; set back to ${keep.seats}`);
    } else {
      events.normal(latest.ticket, 'SeatsChanged', `booking ${keep.id}: ${was} -> ${keep.seats} seats`);
    }
  }

  // 6. Cancel every other booking of this ticket: after a route change, the old
  //    route goes only now that the new one is held, and only on the current ticket.
  const stale = active.filter((b) => b.id !== keep!.id);
  if (stale.length) await ensureCurrent(latest, deps);
  for (const b of stale) {
    await bookings.cancelBooking(b.id, { signal });
    events.normal(latest.ticket, 'RouteChanged', `cancelled booking ${b.id} (${routeOf(b)}); now holding ${keep.id} (${routeOf(keep)})`);
  }

  // 7. Status, then the booking's id on the ticket (it survives export and
  //    restore), each written only when it changed: a no-op reconcile writes
  //    nothing. The id is there already when the booking was created under the
  //    key step 4 wrote or adopted by that name; it is written here when the
  //    annotation is missing, holds one of this ticket's keys or its previous
  //    booking, or for a booking made under an older controller's status key
  //    or by a service that names bookings itself. It goes second so that,
  //    when it lands, it equals status.bookingRef and the watch can tell it is
  //    our own write. A name set by someone else is theirs: it is left alone,
  //    with a Warning.
  const generation = latest.ticket.metadata.generation;
  const message = `booked ${keep.id}: ${routeOf(keep)}, ${keep.seats} seats`;
  const ready = setCondition(latest.ticket.status?.conditions, { type: 'Ready', status: 'True', reason: 'Booked', message, observedGeneration: generation }, now());
  const conditions = setCondition(ready.conditions, syncedOk(generation), now()).conditions;
  const status: FlightTicketStatus = { observedGeneration: generation, bookingRef: keep.id, seats: keep.seats, route: routeOf(keep), conditions };
  const statusChanged = !semanticEqual(latest.ticket.status, status);
  if (statusChanged) latest.ticket = await tickets.updateStatus(latest.ticket, status, { signal });
  const named = latest.ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION];
  if (named !== keep.id) {
    if (named === undefined || named.startsWith(`${uid}.`) || named === before.bookingRef || mine.some((b) => b.id === named)) {
      latest.ticket = await tickets.setAnnotation(latest.ticket, EXTERNAL_NAME_ANNOTATION, keep.id, { signal });
    } else if (statusChanged) {
      events.warning(latest.ticket, 'ExternalNameIgnored', `${EXTERNAL_NAME_ANNOTATION}=${named} names a booking this ticket does not hold; it holds ${keep.id}. Left as set; remove it to have ${keep.id} recorded`);
    }
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
async function adopt(latest: Latest, own: Array<string | undefined>, deps: ReconcileDeps): Promise<Adoption> {
  const { bookings, events, signal } = deps;
  const ticket = latest.ticket;
  const name = ticket.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION];
  // No name, one this ticket already knows as its own (a route change, a
  // booking cancelled outside), or one of its own keys: nothing to adopt.
  if (!name || own.includes(name) || name.startsWith(`${ticket.metadata.uid}.`)) return {};
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
    if (ref && (await deps.tickets.live(ref[1]!, ref[2]!, { signal }))?.metadata.uid === b.owner) {
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
 * A refused create records nothing at the booking service, so the drift
 * check derives the same key again and, when the answer is the same, finds
 * nothing new to write.
 */
async function recordPermanentFailure(ticket: FlightTicket, err: PermanentBookingError, deps: ReconcileDeps): Promise<Result> {
  const reason = PERMANENT_REASONS[err.code] ?? 'BookingRejected';
  const held = ticket.status?.bookingRef;
  const message = `${routeOf(ticket.spec)} (${ticket.spec.number} seats): ${STABLE_MESSAGES[err.code] ?? err.message}${held ? `; still holding booking ${held} (${ticket.status?.route}, ${ticket.status?.seats} seats)` : ''}`;
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
