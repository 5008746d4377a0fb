/**
 * The orphan sweep: the backstop for bookings whose ticket is gone without
 * the finalizer having cancelled them (a create that committed after the
 * ticket's deletion was settled, a finalizer removed by hand, a ticket
 * deleted while no controller ran, ...).
 *
 * It looks only at this cluster's bookings (listed by the cluster identity
 * recorded on each at creation), only at owners in namespaces this
 * controller watches, and it runs only while leading and after the caches
 * have synced. A booking is cancelled when its owner ticket is neither in
 * the cache nor, read live from the API server, still there with the same
 * uid, and it was not marked orphaned (deletion policy Orphan).
 *
 * The cancel is conditional on the booking's version as listed (If-Match):
 * a booking marked orphaned, or adopted by a restored ticket, after the list
 * has a newer version and is left alone (the next sweep looks again).
 */
import { PermanentBookingError, type Booking, type ListBookingsFilter } from '../booking/client';
import type { CallOptions } from './reconcile';

export interface SweepBookings {
  listBookings(filter: ListBookingsFilter, opts?: CallOptions): Promise<Booking[]>;
  cancelBooking(id: string, opts?: CallOptions & { ifVersion?: number }): Promise<Booking>;
}

export interface SweepDeps {
  /** This cluster's identity, as recorded on the bookings it created. */
  cluster: string;
  bookings: SweepBookings;
  /** Whether this controller is responsible for the namespace in ownerRef ("namespace/name"). */
  watches(namespace: string): boolean;
  /** Uids of the tickets in the (synced) cache. */
  cachedUids(): Set<string>;
  /** The uid of the ticket namespace/name as the API server has it now, or undefined when there is none. */
  liveUid(namespace: string, name: string, opts: CallOptions): Promise<string | undefined>;
  /** Told about every booking cancelled (events, metrics). */
  onCancelled(booking: Booking, ticket: { namespace: string; name: string }): void;
  signal?: AbortSignal;
}

export interface SweepResult {
  /** Active bookings of this cluster looked at. */
  checked: number;
  cancelled: Booking[];
  /** Owner gone, but marked orphaned on purpose: kept. */
  keptOrphaned: number;
  /** Changed at the booking service since the list (orphaned, adopted, ...): not cancelled. */
  changed: number;
}

export async function sweepOrphans(deps: SweepDeps): Promise<SweepResult> {
  const { signal } = deps;
  const result: SweepResult = { checked: 0, cancelled: [], keptOrphaned: 0, changed: 0 };
  const bookings = await deps.bookings.listBookings({ cluster: deps.cluster, state: 'active' }, { signal });
  const cached = deps.cachedUids();
  for (const b of bookings) {
    const ref = parseOwnerRef(b.ownerRef);
    if (!ref || !deps.watches(ref.namespace)) continue; // not ours to judge
    result.checked++;
    if (cached.has(b.owner)) continue;
    // Missing from the cache: confirm with a live read, so a cache that lags
    // behind a just-created ticket never costs that ticket its booking.
    if ((await deps.liveUid(ref.namespace, ref.name, { signal })) === b.owner) continue;
    if (b.orphaned) {
      result.keptOrphaned++;
      continue;
    }
    let cancelled: Booking;
    try {
      cancelled = await deps.bookings.cancelBooking(b.id, { signal, ifVersion: b.version });
    } catch (err) {
      if (!(err instanceof PermanentBookingError && err.code === 'version_mismatch')) throw err;
      result.changed++;
      continue;
    }
    result.cancelled.push(cancelled);
    deps.onCancelled(cancelled, ref);
  }
  return result;
}

function parseOwnerRef(ref: string | null): { namespace: string; name: string } | undefined {
  const m = /^([^/]+)\/([^/]+)$/.exec(ref ?? '');
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}
