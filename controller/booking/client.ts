/**
 * Typed client for booking-api/openapi.yaml (any implementation of it).
 *
 *   const client = new BookingClient({ baseUrl: 'http://booking:8080', tokenFile: '/var/run/secrets/booking/token' });
 *   const { booking, replayed } = await client.createBooking(`flightticket-${uid}`, { from, to, seats, owner: uid, ownerRef: `${ns}/${name}` });
 *
 * Every failure is a PermanentBookingError or a TransientBookingError
 * (./errors). The client never retries on its own, except once after a 401
 * when the token file has changed (rotation); retry policy is the caller's.
 * The token is read from the file at construction, is never logged and never
 * appears in an error.
 *
 * Requests go through the client's own undici Agent with `request()`, not the
 * global fetch: fetch's Request/Response objects and web streams were more
 * than half of a call's CPU (docs/scale.md, CPU per ticket). The `fetch`
 * option still swaps in any fetch (tests). With HTTP_PROXY/HTTPS_PROXY set
 * (the usual environment variables, NO_PROXY honoured) the Agent goes through
 * that proxy: CONNECT for https, a forward request for http.
 */
import type { Booking, BookingState } from '../../booking-api/types';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { flatHeaders } from '../runtime/headers';
import { BookingError, PermanentBookingError, TransientBookingError, errorFromResponse } from './errors';

export * from './errors';

/** The part of fetch's Headers the client reads. */
interface ResponseHeaders {
  get(name: string): string | null;
}

interface Raw {
  status: number;
  headers: ResponseHeaders;
  body: unknown;
}

export type { Booking, BookingState } from '../../booking-api/types';

export interface CreateBookingRequest {
  from: string;
  to: string;
  /** 1..10 */
  seats: number;
  /** The FlightTicket's metadata.uid. */
  owner: string;
  /** Free text, e.g. "namespace/name". */
  ownerRef?: string | null;
  /** The creating cluster's identity (the orphan sweep lists by it). */
  cluster?: string;
}

export interface CreateBookingResult {
  booking: Booking;
  /** true: the key had already created this booking (200 + Idempotent-Replayed); booking is its current state. */
  replayed: boolean;
}

export interface ListBookingsFilter {
  owner?: string;
  state?: BookingState;
  cluster?: string;
}

export interface ReownRequest {
  owner: string;
  ownerRef?: string;
  cluster?: string;
  /** Only move it when its owner is still this one (else 409 owner_changed). */
  expectedOwner?: string;
}

export interface BookingPage {
  items: Booking[];
  nextCursor: string | null;
}

export type BookingOperation = 'createBooking' | 'getBooking' | 'listBookings' | 'updateSeats' | 'markOrphaned' | 'reown' | 'cancelBooking' | 'closeOwner' | 'healthz';

export interface BookingRequestEvent {
  operation: BookingOperation;
  method: string;
  /** HTTP status; undefined when no response arrived (timeout, network error). */
  status?: number;
  outcome: 'success' | 'permanent' | 'transient';
  code?: string;
  durationMs: number;
}

export interface BookingClientOptions {
  /** e.g. http://booking-service:8080 (with or without a trailing slash or path prefix). */
  baseUrl: string;
  /** File with the bearer token (first non-empty line). */
  tokenFile: string;
  /** Per-request timeout including the body, default 10 000 ms. A timeout is a TransientBookingError code "timeout". */
  timeoutMs?: number;
  userAgent?: string;
  /** Send through this fetch instead of the client's own undici Agent (tests). */
  fetch?: typeof fetch;
  /** Called once per HTTP request (for metrics such as rest_client_requests_total). Must not throw. */
  onRequest?: (event: BookingRequestEvent) => void;
  /** PEM file of CA certificates trusted for the booking API in addition to Node's built-in roots (a private CA). */
  caFile?: string;
  /** Where HTTP_PROXY, HTTPS_PROXY and NO_PROXY (or their lower-case forms) are read; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The proxy settings of an environment, lower-case names first as curl and undici read them; undefined without a proxy. */
export function proxyFromEnv(env: NodeJS.ProcessEnv): { httpProxy: string; httpsProxy: string; noProxy: string } | undefined {
  const pick = (name: string) => env[name.toLowerCase()] ?? env[name] ?? '';
  const httpProxy = pick('HTTP_PROXY');
  const httpsProxy = pick('HTTPS_PROXY');
  if (!httpProxy && !httpsProxy) return undefined;
  return { httpProxy, httpsProxy, noProxy: pick('NO_PROXY') };
}

export interface CallOptions {
  /** Aborts the call (TransientBookingError code "aborted"). */
  signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this call. */
  timeoutMs?: number;
}

export class BookingClient {
  private readonly baseUrl: string;
  private readonly tokenFile: string;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly fetchFn: typeof fetch | undefined;
  private readonly origin: string;
  private readonly pathPrefix: string;
  private agent: Dispatcher | undefined;
  private readonly ca: string[] | undefined;
  private readonly proxy: ReturnType<typeof proxyFromEnv>;
  private readonly onRequest: ((e: BookingRequestEvent) => void) | undefined;
  private token: string;

  constructor(opts: BookingClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.tokenFile = opts.tokenFile;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.userAgent = opts.userAgent ?? 'flight-operator-booking-client/1';
    this.fetchFn = opts.fetch;
    const base = new URL(this.baseUrl);
    this.origin = base.origin;
    this.pathPrefix = base.pathname.replace(/\/+$/, '');
    this.onRequest = opts.onRequest;
    this.token = readToken(this.tokenFile);
    // Read once, like the token: a bad path stops the start instead of failing every call.
    this.ca = opts.caFile ? [...rootCertificates, readFileSync(opts.caFile, 'utf8')] : undefined;
    this.proxy = proxyFromEnv(opts.env ?? process.env);
  }

  /** The plain Agent unless a proxy is set (the proxy-aware one parses every origin against NO_PROXY). */
  private dispatcher(): Dispatcher {
    if (this.agent) return this.agent;
    const tls = this.ca ? { ca: this.ca } : undefined;
    // requestTls: the TLS session to the booking API inside the CONNECT tunnel.
    this.agent = this.proxy ? new EnvHttpProxyAgent({ ...this.proxy, ...(tls ? { connect: tls, requestTls: tls } : {}) }) : new Agent(tls ? { connect: tls } : {});
    return this.agent;
  }

  /** POST /v1/bookings. Same key + same request: the same booking (replayed: true), never a second one. */
  async createBooking(idempotencyKey: string, req: CreateBookingRequest, opts?: CallOptions): Promise<CreateBookingResult> {
    const body: Record<string, unknown> = { from: req.from, to: req.to, seats: req.seats, owner: req.owner };
    if (req.ownerRef !== undefined) body.ownerRef = req.ownerRef;
    if (req.cluster !== undefined) body.cluster = req.cluster;
    const res = await this.call('createBooking', 'POST', '/v1/bookings', { body, headers: { 'Idempotency-Key': idempotencyKey }, ...opts });
    if (res.status !== 200 && res.status !== 201) throw unexpected(res);
    return { booking: asBooking(res.body, res), replayed: res.status === 200 || res.headers.get('idempotent-replayed') === 'true' };
  }

  /** GET /v1/bookings/{id}. Unknown id: PermanentBookingError "booking_not_found" (see isBookingNotFound). */
  async getBooking(id: string, opts?: CallOptions): Promise<Booking> {
    const res = await this.call('getBooking', 'GET', `/v1/bookings/${encodeURIComponent(id)}`, opts);
    return asBooking(res.body, res);
  }

  /** Like getBooking, but null for an unknown id. */
  async findBooking(id: string, opts?: CallOptions): Promise<Booking | null> {
    try {
      return await this.getBooking(id, opts);
    } catch (err) {
      if (err instanceof PermanentBookingError && err.code === 'booking_not_found') return null;
      throw err;
    }
  }

  /** GET /v1/bookings?owner=&state=, following every page; oldest first. */
  async listBookings(filter: ListBookingsFilter = {}, opts?: CallOptions): Promise<Booking[]> {
    const out: Booking[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10_000; pages++) {
      const page: BookingPage = await this.listBookingsPage({ ...filter, limit: 1000, ...(cursor ? { cursor } : {}) }, opts);
      out.push(...page.items);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
    throw new TransientBookingError('invalid_response', 'listBookings: too many pages');
  }

  /** One page of GET /v1/bookings. */
  async listBookingsPage(filter: ListBookingsFilter & { limit?: number; cursor?: string }, opts?: CallOptions): Promise<BookingPage> {
    const q = new URLSearchParams();
    if (filter.owner !== undefined) q.set('owner', filter.owner);
    if (filter.state !== undefined) q.set('state', filter.state);
    if (filter.cluster !== undefined) q.set('cluster', filter.cluster);
    if (filter.limit !== undefined) q.set('limit', String(filter.limit));
    if (filter.cursor !== undefined) q.set('cursor', filter.cursor);
    const qs = q.toString();
    const res = await this.call('listBookings', 'GET', `/v1/bookings${qs ? `?${qs}` : ''}`, opts);
    const b = res.body as Record<string, unknown> | null;
    if (!b || typeof b !== 'object' || !Array.isArray(b.items)) throw invalid(res, 'list response has no items array');
    const nextCursor = typeof b.nextCursor === 'string' && b.nextCursor !== '' ? b.nextCursor : null;
    return { items: b.items.map((i) => asBooking(i, res)), nextCursor };
  }

  /** PATCH /v1/bookings/{id} {seats}. Idempotent; no-op when unchanged. sold_out / booking_cancelled / booking_not_found are permanent. */
  async updateSeats(id: string, seats: number, opts?: CallOptions): Promise<Booking> {
    const res = await this.call('updateSeats', 'PATCH', `/v1/bookings/${encodeURIComponent(id)}`, { body: { seats }, ...opts });
    return asBooking(res.body, res);
  }

  /** PATCH /v1/bookings/{id} {orphaned: true}: left behind on purpose (deletion policy Orphan). Idempotent. */
  async markOrphaned(id: string, opts?: CallOptions): Promise<Booking> {
    const res = await this.call('markOrphaned', 'PATCH', `/v1/bookings/${encodeURIComponent(id)}`, { body: { orphaned: true }, ...opts });
    return asBooking(res.body, res);
  }

  /**
   * PUT /v1/bookings/{id}/owner: moves the booking to a new owner (and cluster),
   * e.g. a ticket restored with a new uid adopting its booking. Idempotent; with
   * expectedOwner it fails (owner_changed) when someone else moved it first.
   */
  async reown(id: string, req: ReownRequest, opts?: CallOptions): Promise<Booking> {
    const res = await this.call('reown', 'PUT', `/v1/bookings/${encodeURIComponent(id)}/owner`, { body: req, ...opts });
    return asBooking(res.body, res);
  }

  /**
   * DELETE /v1/bookings/{id}. Idempotent: an already cancelled booking is returned unchanged.
   * With ifVersion (If-Match), a booking changed since that version is not cancelled:
   * PermanentBookingError version_mismatch.
   */
  async cancelBooking(id: string, opts?: CallOptions & { ifVersion?: number }): Promise<Booking> {
    const headers = opts?.ifVersion !== undefined ? { 'If-Match': `"${opts.ifVersion}"` } : undefined;
    const res = await this.call('cancelBooking', 'DELETE', `/v1/bookings/${encodeURIComponent(id)}`, { ...opts, ...(headers ? { headers } : {}) });
    if (res.status === 204) {
      // The contract answers 200 with the body; tolerate implementations that answer 204.
      return this.getBooking(id, opts);
    }
    return asBooking(res.body, res);
  }

  /**
   * POST /v1/owners/{owner}/close: no booking is ever created for this owner
   * again (a later create answers owner_closed). TransientBookingError
   * request_in_flight while a create for it is still being processed.
   * Idempotent. Bookings created before stay as they are.
   */
  async closeOwner(owner: string, opts?: CallOptions): Promise<{ owner: string; closedAt: string }> {
    const res = await this.call('closeOwner', 'POST', `/v1/owners/${encodeURIComponent(owner)}/close`, opts);
    const b = res.body as Record<string, unknown> | null;
    if (!b || typeof b.closedAt !== 'string') throw invalid(res, 'close response has no closedAt');
    return { owner, closedAt: b.closedAt };
  }

  /** GET /healthz (no auth): true when the service answers 200. Never throws. */
  async healthz(opts?: CallOptions): Promise<boolean> {
    try {
      await this.call('healthz', 'GET', '/healthz', { ...opts, anonymous: true });
      return true;
    } catch {
      return false;
    }
  }

  private async call(
    operation: BookingOperation,
    method: string,
    path: string,
    opts: CallOptions & { body?: unknown; headers?: Record<string, string>; anonymous?: boolean } = {},
  ): Promise<Raw> {
    const first = await this.once(operation, method, path, opts);
    if (first.status !== 401 || opts.anonymous) return this.check(first);
    // Token rotation: re-read the file; retry once if it changed.
    let fresh: string;
    try {
      fresh = readToken(this.tokenFile);
    } catch {
      return this.check(first);
    }
    if (fresh === this.token) return this.check(first);
    this.token = fresh;
    return this.check(await this.once(operation, method, path, opts));
  }

  private check(res: Raw): Raw {
    if (res.status >= 200 && res.status < 300) return res;
    throw errorFromResponse(res.status, res.body, res.headers);
  }

  private async once(
    operation: BookingOperation,
    method: string,
    path: string,
    opts: CallOptions & { body?: unknown; headers?: Record<string, string>; anonymous?: boolean },
  ): Promise<Raw> {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const signal = opts.signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), opts.signal]) : AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent, ...opts.headers };
    if (!opts.anonymous) headers.Authorization = `Bearer ${this.token}`;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const report = (outcome: BookingRequestEvent['outcome'], status?: number, code?: string) => {
      if (!this.onRequest) return;
      try {
        this.onRequest({ operation, method, outcome, durationMs: performance.now() - started, ...(status !== undefined ? { status } : {}), ...(code ? { code } : {}) });
      } catch {
        /* metrics must not break calls */
      }
    };
    const bodyText = opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
    let res: { status: number; headers: ResponseHeaders };
    let text: string;
    try {
      if (this.fetchFn) {
        const r = await this.fetchFn(`${this.baseUrl}${path}`, { method, headers, ...(bodyText !== undefined ? { body: bodyText } : {}), signal, redirect: 'error' });
        res = r;
        text = await r.text();
      } else {
        const r = await this.dispatcher().request({ origin: this.origin, path: `${this.pathPrefix}${path}`, method: method as Dispatcher.HttpMethod, headers, body: bodyText, signal });
        text = await r.body.text();
        // What fetch with redirect: 'error' did: a redirect is a network error, not a response.
        if (REDIRECTS.has(r.statusCode)) throw new Error('unexpected redirect');
        const flat = flatHeaders(r.headers);
        res = { status: r.statusCode, headers: { get: (name) => flat[name.toLowerCase()] ?? null } };
      }
    } catch (err) {
      const e = networkError(err, method, path, timeoutMs, opts.signal);
      report('transient', undefined, e.code);
      throw e;
    }
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
        if (res.status >= 200 && res.status < 300) {
          const e = new TransientBookingError('invalid_response', `${method} ${path}: response body is not JSON`, { status: res.status });
          report('transient', res.status, e.code);
          throw e;
        }
      }
    }
    if (res.status >= 200 && res.status < 300) report('success', res.status);
    else if (res.status !== 401 || opts.anonymous) {
      const e = errorFromResponse(res.status, body, res.headers);
      report(e.retryable ? 'transient' : 'permanent', res.status, e.code);
    } else report('permanent', 401, 'unauthorized');
    return { status: res.status, headers: res.headers, body };
  }
}

/** Convenience factory. */
export function createBookingClient(opts: BookingClientOptions): BookingClient {
  return new BookingClient(opts);
}

function readToken(file: string): string {
  const line = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find(Boolean);
  if (!line) throw new Error(`booking token file ${file} is empty`);
  return line;
}

function networkError(err: unknown, method: string, path: string, timeoutMs: number, callerSignal?: AbortSignal): BookingError {
  const name = (err as { name?: string })?.name;
  if (callerSignal?.aborted) return new TransientBookingError('aborted', `${method} ${path}: aborted`, { cause: err });
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new TransientBookingError('timeout', `${method} ${path}: no response within ${timeoutMs} ms`, { cause: err });
  }
  // fetch wraps the socket's error as its cause ("fetch failed"); undici's request() throws it as is.
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = (err as { code?: unknown })?.code;
  const detail = cause?.code ?? cause?.message ?? (typeof code === 'string' ? code : undefined) ?? (err as Error)?.message ?? String(err);
  return new TransientBookingError('network_error', `${method} ${path}: ${detail}`, { cause: err });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function unexpected(res: Raw): BookingError {
  return new TransientBookingError('invalid_response', `unexpected status ${res.status}`, { status: res.status });
}

function invalid(res: Raw, why: string): BookingError {
  const requestId = res.headers.get('x-request-id');
  return new TransientBookingError('invalid_response', why, { status: res.status, ...(requestId ? { requestId } : {}) });
}

function asBooking(v: unknown, res: Raw): Booking {
  const b = v as Record<string, unknown> | null;
  const ok =
    b !== null &&
    typeof b === 'object' &&
    typeof b.id === 'string' &&
    typeof b.from === 'string' &&
    typeof b.to === 'string' &&
    typeof b.seats === 'number' &&
    typeof b.owner === 'string' &&
    (b.state === 'active' || b.state === 'cancelled') &&
    typeof b.version === 'number';
  if (!ok) throw invalid(res, 'response is not a Booking');
  return {
    id: b.id as string,
    from: b.from as string,
    to: b.to as string,
    seats: b.seats as number,
    owner: b.owner as string,
    ownerRef: typeof b.ownerRef === 'string' ? b.ownerRef : null,
    state: b.state as BookingState,
    cluster: typeof b.cluster === 'string' ? b.cluster : null,
    orphaned: b.orphaned === true,
    createdAt: String(b.createdAt ?? ''),
    updatedAt: String(b.updatedAt ?? ''),
    version: b.version as number,
  };
}
