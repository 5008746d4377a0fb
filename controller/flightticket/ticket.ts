import type { Condition } from '../runtime/conditions';

/** The FlightTicket resource as the controller sees it (see infra/constructs/flightticket-crd.ts). */
export const TICKET_API = { group: 'flights.com', version: 'v1', plural: 'flighttickets', kind: 'FlightTicket' } as const;

/** Held on every ticket that may have a booking, so deletion waits until the booking is cancelled. */
export const FINALIZER = 'flights.com/booking';

/** `Delete` (default) cancels the booking with the ticket; `Orphan` leaves it booked. */
export const DELETION_POLICY_ANNOTATION = 'flights.com/deletion-policy';

/**
 * The booking this ticket holds, written by the controller once it holds one
 * (Crossplane's crossplane.io/external-name). Unlike status and uid it is
 * kept by `kubectl get -o yaml` exports, GitOps repos and backup tools, so a
 * ticket restored with a new uid can find, and adopt, its booking.
 */
export const EXTERNAL_NAME_ANNOTATION = 'flights.com/external-name';

/** Ticket fields whose values are unique per ticket: not worth sharing between cached tickets (runtime/string-pool). */
export const UNIQUE_VALUE_KEYS: readonly string[] = ['bookingRef', 'pendingBookingKey', EXTERNAL_NAME_ANNOTATION];

/** "true": a human says the booking may be taken over from another cluster (that cluster is gone, or is being migrated away from). */
export const ADOPT_ANNOTATION = 'flights.com/adopt';

export interface FlightTicketSpec {
  from: string;
  to: string;
  number: number;
}

export interface FlightTicketStatus {
  observedGeneration?: number;
  bookingRef?: string;
  seats?: number;
  route?: string;
  /**
   * Where controllers up to 0.3.0 as first shipped persisted the key of a
   * create before sending it; it now travels in flights.com/external-name,
   * with the finalizer. Still honoured: a ticket an upgrade caught mid-create
   * has it.
   */
  pendingBookingKey?: string;
  conditions?: Condition[];
}

export interface FlightTicket {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
  spec: FlightTicketSpec;
  status?: FlightTicketStatus;
}

export const routeOf = (r: { from: string; to: string }) => `${r.from} -> ${r.to}`;

/**
 * True when the only change between two versions of a ticket is the
 * controller's own flights.com/external-name write: the key of the create it
 * is about to send (it starts with the ticket's uid: a user importing a
 * booking names another uid's), or the booking it holds (equal to
 * status.bookingRef). The reconcile that wrote it is still running, so it
 * needs no second one. Any other annotation change, or an external name that
 * is neither (a user importing a booking), still does.
 */
export function onlyExternalNameRecorded(
  before: { metadata?: { annotations?: Record<string, string> } },
  after: { metadata?: { uid?: string; annotations?: Record<string, string> }; status?: { bookingRef?: string } },
): boolean {
  const a = { ...before.metadata?.annotations };
  const b = { ...after.metadata?.annotations };
  const recorded = b[EXTERNAL_NAME_ANNOTATION];
  const ours = recorded !== undefined && (recorded === after.status?.bookingRef || (!!after.metadata?.uid && recorded.startsWith(`${after.metadata.uid}.`)));
  if (!ours || a[EXTERNAL_NAME_ANNOTATION] === recorded) return false;
  delete a[EXTERNAL_NAME_ANNOTATION];
  delete b[EXTERNAL_NAME_ANNOTATION];
  return JSON.stringify(a) === JSON.stringify(b);
}

interface Watched {
  metadata?: { uid?: string; generation?: number; deletionTimestamp?: unknown; finalizers?: string[]; annotations?: Record<string, string> };
  status?: { bookingRef?: string };
}

/**
 * Whether a watch update needs a reconcile: a spec change, deletion, a new
 * uid under the same name (deleted and created again between two events the
 * watch delivered), our finalizer taken off a live ticket (it must go back
 * on while a booking exists), or an annotation change. Status writes and
 * recording the key or booking in flights.com/external-name are our own:
 * reacting to them would run a second reconcile at once, cutting short a
 * Retry-After backoff.
 */
export function needsReconcile(oldObj: Watched, newObj: Watched): boolean {
  const a = oldObj.metadata ?? {};
  const b = newObj.metadata ?? {};
  const finalizerTaken = !!a.finalizers?.includes(FINALIZER) && !b.finalizers?.includes(FINALIZER) && !b.deletionTimestamp;
  return (
    a.uid !== b.uid ||
    a.generation !== b.generation ||
    String(a.deletionTimestamp) !== String(b.deletionTimestamp) ||
    finalizerTaken ||
    (JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) && !onlyExternalNameRecorded(oldObj, newObj))
  );
}
