/**
 * The two error classes every booking-client call can throw. The controller
 * decides from the class alone: Transient -> requeue with backoff (honouring
 * retryAfterMs when set); Permanent -> record on the ticket's status and stop
 * retrying until the spec (or the world) changes.
 */

import { TRANSIENT_CODES, type ContractErrorCode } from '../../booking-api/types';

/** Codes of booking-api/openapi.yaml, plus the client's own (network_error, timeout, aborted, invalid_response, http_<status>). */
export type BookingErrorCode = ContractErrorCode | 'network_error' | 'timeout' | 'aborted' | 'invalid_response' | (string & {});

export interface BookingErrorInit {
  /** HTTP status, when a response was received. */
  status?: number;
  /** Server's X-Request-Id, for correlating with its logs. */
  requestId?: string;
  cause?: unknown;
}

export abstract class BookingError extends Error {
  abstract readonly retryable: boolean;
  readonly status?: number;
  readonly requestId?: string;
  constructor(
    readonly code: BookingErrorCode,
    message: string,
    init: BookingErrorInit = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    if (init.status !== undefined) this.status = init.status;
    if (init.requestId !== undefined) this.requestId = init.requestId;
  }
}

/** Retrying the same request gives the same answer: sold_out, unknown_route, invalid_request, unauthorized, booking_not_found, idempotency_key_reused, booking_cancelled, ... */
export class PermanentBookingError extends BookingError {
  readonly retryable = false;
  override readonly name = 'PermanentBookingError';
}

/** Retry later: rate_limited, unavailable, internal / any 5xx, request_in_flight, timeout, network_error. */
export class TransientBookingError extends BookingError {
  readonly retryable = true;
  override readonly name = 'TransientBookingError';
  /** From Retry-After (429, 503, ...), in milliseconds; undefined when the server gave none. */
  readonly retryAfterMs?: number;
  constructor(code: BookingErrorCode, message: string, init: BookingErrorInit & { retryAfterMs?: number } = {}) {
    super(code, message, init);
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }
}

export function isBookingNotFound(err: unknown): boolean {
  return err instanceof PermanentBookingError && err.code === 'booking_not_found';
}

/** Codes the contract defines as transient whatever the status. */

/**
 * Maps an HTTP error response to an error. Works for any implementation:
 * transient when the status is 408, 425, 429 or 5xx, or when the body's
 * code is a transient one or says retryable: true; permanent otherwise.
 */
export function errorFromResponse(status: number, body: unknown, headers: { get(name: string): string | null }, now = Date.now()): BookingError {
  const b = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const code = typeof b.code === 'string' && b.code ? b.code : `http_${status}`;
  const message = typeof b.message === 'string' && b.message ? b.message : `HTTP ${status}`;
  const requestId = headers.get('x-request-id') ?? undefined;
  const init = { status, ...(requestId ? { requestId } : {}) };
  const transient = status === 408 || status === 425 || status === 429 || status >= 500 || TRANSIENT_CODES.has(code) || b.retryable === true;
  if (!transient) return new PermanentBookingError(code, message, init);
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now);
  return new TransientBookingError(code, message, { ...init, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

/** Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}
