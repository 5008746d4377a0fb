/**
 * The types of booking-api/openapi.yaml, in TypeScript: shared by the booking
 * service (one implementation) and the controller's client (which works with
 * any implementation), so the two cannot drift apart.
 */

export type BookingState = 'active' | 'cancelled';

export interface Booking {
  id: string;
  from: string;
  to: string;
  seats: number;
  owner: string;
  ownerRef: string | null;
  state: BookingState;
  /** The identity of the cluster whose controller created it (e.g. its kube-system namespace uid); null when none was given. */
  cluster: string | null;
  /** Set by PATCH {orphaned: true}: its owner was deleted on purpose without cancelling it (deletion policy Orphan). */
  orphaned: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** Error `code`s the contract defines. */
export type ContractErrorCode =
  | 'invalid_request'
  | 'payload_too_large'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'booking_not_found'
  | 'booking_cancelled'
  | 'owner_changed'
  | 'idempotency_key_reused'
  | 'owner_closed'
  | 'version_mismatch'
  | 'sold_out'
  | 'unknown_route'
  | 'request_in_flight'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** Codes that are transient whatever the HTTP status: retry later (the body says retryable: true). */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set<ContractErrorCode>(['request_in_flight', 'rate_limited', 'unavailable', 'internal']);

/**
 * The contract's one rule for comparing city names: ASCII case-insensitive,
 * nothing else (no trimming, no Unicode folding), exactly the CRD's CEL rule
 * `self.from.lowerAscii() != self.to.lowerAscii()`. The service matches
 * routes with it and the controller matches bookings to tickets with it.
 */
export function cityKey(city: string): string {
  return city.replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

/** Same route under cityKey. */
export function sameRoute(a: { from: string; to: string }, b: { from: string; to: string }): boolean {
  return cityKey(a.from) === cityKey(b.from) && cityKey(a.to) === cityKey(b.to);
}
