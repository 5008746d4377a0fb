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
  | 'idempotency_key_reused'
  | 'sold_out'
  | 'unknown_route'
  | 'request_in_flight'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** Codes that are transient whatever the HTTP status: retry later (the body says retryable: true). */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set<ContractErrorCode>(['request_in_flight', 'rate_limited', 'unavailable', 'internal']);
