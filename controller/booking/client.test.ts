/**
 * The booking client on its own: error mapping (any implementation of the
 * contract), Retry-After, timeouts, network errors, token rotation, and the
 * token never leaking. The contract suite (test/support/booking-contract.ts) runs
 * the same client against the real service.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BookingClient, PermanentBookingError, TransientBookingError, errorFromResponse, isBookingNotFound, parseRetryAfter, type BookingRequestEvent } from './client';

const BOOKING = {
  id: 'bk_1',
  from: 'Cairo',
  to: 'London',
  seats: 2,
  owner: 'uid-1',
  ownerRef: 'ns/t',
  cluster: null,
  orphaned: false,
  state: 'active',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  version: 1,
};

let dir: string;
let tokenFile: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'booking-client-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'tok-1\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** One request as the service saw it: path with query, lower-case header names. */
type Call = { url: string; method: string; headers: Record<string, string>; body?: string };
type Respond = (call: Call, n: number) => Response | Promise<Response>;
interface Fake {
  /** baseUrl (and fetch when injected) for the client. */
  opts: { baseUrl: string; fetch?: typeof fetch };
  calls: Call[];
}
const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** A fetch injected through the `fetch` option: the seam the client keeps for tests. */
function fakeFetch(respond: Respond): Fake {
  const calls: Call[] = [];
  const f = async (input: string | URL | Request, init?: RequestInit) => {
    const u = new URL(String(input));
    const call: Call = { url: u.pathname + u.search, method: init?.method ?? 'GET', headers: lower({ ...(init?.headers as Record<string, string>) }), ...(typeof init?.body === 'string' ? { body: init.body } : {}) };
    calls.push(call);
    return respond(call, calls.length);
  };
  return { opts: { baseUrl: 'http://svc', fetch: f as typeof fetch }, calls };
}

/** A real local HTTP server answering what `respond` describes: the client's own undici path, as in production. */
const servers: Server[] = [];
async function fakeServer(respond: Respond): Promise<Fake> {
  const calls: Call[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const call: Call = { url: req.url!, method: req.method!, headers: req.headers as Record<string, string>, ...(body ? { body } : {}) };
      calls.push(call);
      const r = await respond(call, calls.length);
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(await r.text());
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { opts: { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, calls };
}
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
const err = (status: number, code: string, retryable: boolean, headers: Record<string, string> = {}) => json(status, { code, message: `${code}!`, retryable }, headers);

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('errorFromResponse: every contract code lands in the right class', () => {
  const h = (m: Record<string, string> = {}) => new Headers(m);
  test.each([
    [400, 'invalid_request', false],
    [413, 'payload_too_large', false],
    [401, 'unauthorized', false],
    [404, 'booking_not_found', false],
    [409, 'booking_cancelled', false],
    [422, 'idempotency_key_reused', false],
    [422, 'sold_out', false],
    [422, 'unknown_route', false],
  ])('%i %s is permanent', (status, code, retryable) => {
    const e = errorFromResponse(status, { code, message: 'm', retryable }, h());
    expect(e).toBeInstanceOf(PermanentBookingError);
    expect(e).toMatchObject({ code, status, retryable: false });
  });

  test.each([
    [409, 'request_in_flight'],
    [429, 'rate_limited'],
    [503, 'unavailable'],
    [500, 'internal'],
  ])('%i %s is transient', (status, code) => {
    const e = errorFromResponse(status, { code, message: 'm', retryable: true }, h({ 'Retry-After': '4' }));
    expect(e).toBeInstanceOf(TransientBookingError);
    expect(e).toMatchObject({ code, status, retryable: true, retryAfterMs: 4000 });
  });

  test('a foreign implementation: non-JSON 502 is transient http_502; bare 418 is permanent; 408 transient; a 409 without a transient code is permanent', () => {
    expect(errorFromResponse(502, undefined, h())).toMatchObject({ code: 'http_502', retryable: true });
    expect(errorFromResponse(418, undefined, h())).toMatchObject({ code: 'http_418', retryable: false });
    expect(errorFromResponse(408, undefined, h())).toMatchObject({ code: 'http_408', retryable: true });
    expect(errorFromResponse(409, { code: 'sold_out', message: 'x', retryable: false }, h())).toBeInstanceOf(PermanentBookingError);
    expect(errorFromResponse(409, { code: 'something_new', retryable: true }, h())).toBeInstanceOf(TransientBookingError);
  });

  test('Retry-After as seconds or as an HTTP date; garbage is ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

const transports: Array<[string, (respond: Respond) => Fake | Promise<Fake>]> = [
  ['undici (a real local server)', fakeServer],
  ['an injected fetch', fakeFetch],
];

describe.each(transports)('BookingClient requests over %s', (_name, fake) => {
  test('createBooking sends the key, the token and only the contract fields; 201 is not a replay, 200 is', async () => {
    const f = await fake((_c, n) => json(n === 1 ? 201 : 200, BOOKING, n === 1 ? {} : { 'Idempotent-Replayed': 'true' }));
    const c = new BookingClient({ ...f.opts, baseUrl: `${f.opts.baseUrl}/prefix/`, tokenFile });
    const req = { from: 'Cairo', to: 'London', seats: 2, owner: 'uid-1', ownerRef: 'ns/t' };
    expect(await c.createBooking('key-1', req)).toEqual({ booking: BOOKING, replayed: false });
    expect(await c.createBooking('key-1', req)).toEqual({ booking: BOOKING, replayed: true });
    expect(f.calls[0]).toMatchObject({
      url: '/prefix/v1/bookings',
      method: 'POST',
      headers: { authorization: 'Bearer tok-1', 'idempotency-key': 'key-1', 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'flight-operator-booking-client/1' },
    });
    expect(JSON.parse(f.calls[0]!.body!)).toEqual(req);
  });

  test('listBookings follows nextCursor and encodes the filter', async () => {
    const f = await fake((c) => (c.url.includes('cursor=') ? json(200, { items: [{ ...BOOKING, id: 'bk_2' }], nextCursor: null }) : json(200, { items: [BOOKING], nextCursor: 'c 1' })));
    const c = new BookingClient({ ...f.opts, tokenFile });
    expect((await c.listBookings({ owner: 'u/1', state: 'active' })).map((b) => b.id)).toEqual(['bk_1', 'bk_2']);
    expect(f.calls[0]!.url).toBe('/v1/bookings?owner=u%2F1&state=active&limit=1000');
    expect(f.calls[1]!.url).toContain('cursor=c+1');
  });

  test('ids are path-encoded; updateSeats sends {seats}; cancel tolerates 204', async () => {
    const f = await fake((c) => (c.method === 'DELETE' ? new Response(null, { status: 204 }) : json(200, BOOKING)));
    const c = new BookingClient({ ...f.opts, tokenFile });
    await c.updateSeats('a/b', 4);
    expect(f.calls[0]).toMatchObject({ url: '/v1/bookings/a%2Fb', method: 'PATCH', body: '{"seats":4}' });
    expect(await c.cancelBooking('bk_1')).toEqual(BOOKING);
    expect(f.calls.map((x) => x.method)).toEqual(['PATCH', 'DELETE', 'GET']);
  });

  test('404 booking_not_found: getBooking throws it, findBooking gives null', async () => {
    const f = await fake(() => err(404, 'booking_not_found', false));
    const c = new BookingClient({ ...f.opts, tokenFile });
    expect(isBookingNotFound(await failure(c.getBooking('bk_x')))).toBe(true);
    expect(await c.findBooking('bk_x')).toBeNull();
  });

  test('a 2xx that is not JSON, or not a Booking, is a transient invalid_response', async () => {
    const bodies = [new Response('<html>', { status: 200 }), json(200, { id: 1 })];
    const f = await fake((_c, n) => bodies[n - 1]!);
    const c = new BookingClient({ ...f.opts, tokenFile });
    expect(await failure(c.getBooking('bk_1'))).toMatchObject({ code: 'invalid_response', retryable: true });
    expect(await failure(c.getBooking('bk_1'))).toMatchObject({ code: 'invalid_response', retryable: true });
  });

  test('429 with Retry-After and X-Request-Id: transient, with retryAfterMs and requestId', async () => {
    const f = await fake(() => err(429, 'rate_limited', true, { 'Retry-After': '7', 'X-Request-Id': 'req-9' }));
    const c = new BookingClient({ ...f.opts, tokenFile });
    const e = await failure(c.getBooking('bk_1'));
    expect(e).toBeInstanceOf(TransientBookingError);
    expect(e).toMatchObject({ code: 'rate_limited', status: 429, retryAfterMs: 7000, requestId: 'req-9' });
  });

  test('onRequest reports every HTTP call with outcome and code; a throwing hook does not break the call', async () => {
    const events: BookingRequestEvent[] = [];
    const f = await fake((_c, n) => (n === 1 ? err(429, 'rate_limited', true, { 'Retry-After': '1' }) : json(200, BOOKING)));
    const c = new BookingClient({
      ...f.opts,
      tokenFile,
      onRequest: (e) => {
        events.push(e);
        throw new Error('hook bug');
      },
    });
    await failure(c.getBooking('bk_1'));
    await c.getBooking('bk_1');
    expect(events.map(({ operation, method, status, outcome, code }) => ({ operation, method, status, outcome, code }))).toEqual([
      { operation: 'getBooking', method: 'GET', status: 429, outcome: 'transient', code: 'rate_limited' },
      { operation: 'getBooking', method: 'GET', status: 200, outcome: 'success', code: undefined },
    ]);
  });
});

describe.each(transports)('token rotation over %s', (_name, fake) => {
  test('on 401 the client re-reads the token file and retries once with the new token', async () => {
    const f = await fake((c) => (c.headers.authorization === 'Bearer tok-2' ? json(200, BOOKING) : err(401, 'unauthorized', false)));
    const c = new BookingClient({ ...f.opts, tokenFile });
    writeFileSync(tokenFile, 'tok-2\n');
    expect(await c.getBooking('bk_1')).toEqual(BOOKING);
    expect(f.calls.map((x) => x.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    // The new token is kept: the next call goes straight through.
    await c.getBooking('bk_1');
    expect(f.calls).toHaveLength(3);
  });

  test('a 401 with an unchanged token file is a permanent unauthorized after a single request, and never shows the token', async () => {
    writeFileSync(tokenFile, 'super-secret-token\n');
    const f = await fake(() => err(401, 'unauthorized', false));
    const c = new BookingClient({ ...f.opts, tokenFile });
    const e = await failure(c.createBooking('k', { from: 'A', to: 'B', seats: 1, owner: 'o' }));
    expect(e).toBeInstanceOf(PermanentBookingError);
    expect(e).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(f.calls).toHaveLength(1);
    expect(JSON.stringify(e) + String(e) + (e as Error).stack).not.toContain('super-secret-token');
  });

  test('a missing or empty token file fails at construction', () => {
    expect(() => new BookingClient({ baseUrl: 'http://svc', tokenFile: join(dir, 'nope') })).toThrow();
    writeFileSync(tokenFile, '\n\n');
    expect(() => new BookingClient({ baseUrl: 'http://svc', tokenFile })).toThrow(/empty/);
  });
});

describe('over a real socket', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.includes('slow')) return; // never answers
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(BOOKING));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('no answer within timeoutMs: TransientBookingError timeout, promptly', async () => {
    const c = new BookingClient({ baseUrl: url, tokenFile, timeoutMs: 200 });
    const t0 = Date.now();
    const e = await failure(c.getBooking('slow'));
    expect(e).toBeInstanceOf(TransientBookingError);
    expect(e).toMatchObject({ code: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('a caller abort is TransientBookingError aborted', async () => {
    const c = new BookingClient({ baseUrl: url, tokenFile });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    expect(await failure(c.getBooking('slow', { signal: ac.signal }))).toMatchObject({ code: 'aborted', retryable: true });
  });

  test('a redirect is not followed: TransientBookingError network_error, as fetch with redirect "error" did', async () => {
    const redirecting = await fakeServer(() => new Response(null, { status: 302, headers: { Location: '/elsewhere' } }));
    const c = new BookingClient({ ...redirecting.opts, tokenFile });
    const e = await failure(c.getBooking('bk_1'));
    expect(e).toBeInstanceOf(TransientBookingError);
    expect(e).toMatchObject({ code: 'network_error', message: 'GET /v1/bookings/bk_1: unexpected redirect' });
    expect(redirecting.calls.map((x) => x.url)).toEqual(['/v1/bookings/bk_1']);
  });

  test('connection refused: TransientBookingError network_error', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const c = new BookingClient({ baseUrl: `http://127.0.0.1:${port}`, tokenFile, timeoutMs: 2000 });
    const e = await failure(c.getBooking('bk_1'));
    expect(e).toBeInstanceOf(TransientBookingError);
    expect(e).toMatchObject({ code: 'network_error' });
    expect((e as Error).message).toMatch(/ECONNREFUSED/);
  });

  test('healthz is true against a serving endpoint and false against nothing, without throwing', async () => {
    expect(await new BookingClient({ baseUrl: url, tokenFile }).healthz()).toBe(true);
    expect(await new BookingClient({ baseUrl: 'http://127.0.0.1:1', tokenFile, timeoutMs: 500 }).healthz()).toBe(false);
  });
});
