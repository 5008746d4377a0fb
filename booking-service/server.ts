/**
 * booking-service: an HTTP implementation of booking-api/openapi.yaml.
 *
 *   const svc = await startBookingService({ dataDir, tokenFile });
 *   ... svc.url ... await svc.setFaults({ failNext: { kind: 'rate_limited', count: 1 } });
 *   await svc.stop();
 *
 * Run as a process: booking-service/main.ts (npm run booking-service).
 */
import { TRANSIENT_CODES, type ContractErrorCode } from '../booking-api/types';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FaultInjector, validateFaults, type FaultConfig, type FaultDecision } from './faults';
import { RouteTable, type RouteConfig } from './routes';
import { BookingStore, type Booking, type BookingState, type NewBooking } from './store';

export interface BookingServiceOptions {
  /** Directory of the durable store (created if missing). */
  dataDir: string;
  /** File holding the bearer token; one token per line (several lines: all accepted, for rotation overlap). Re-read when it changes. */
  tokenFile: string;
  /** 0 (default): pick a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** "default" (default) | "unlimited" | a YAML/JSON file path | inline JSON | a config object | a RouteTable. */
  routes?: string | RouteConfig | RouteTable;
  /** Initial fault configuration (also settable at run time: setFaults / POST /admin/faults). */
  faults?: FaultConfig;
  /** JSON log lines: a function, true for stdout, false (default) for none. */
  log?: boolean | ((entry: Record<string, unknown>) => void);
  /** Max request body, default 64 KiB. */
  maxBodyBytes?: number;
}

export interface BookingServiceHandle {
  /** http://127.0.0.1:PORT (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly store: BookingStore;
  readonly faults: FaultInjector;
  setFaults(faults: FaultConfig): void;
  clearFaults(): void;
  /** Stops accepting, lets in-flight requests finish (up to graceMs, default 5000), closes the store. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

type ErrorCode = ContractErrorCode;


class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7E]{1,255}$/;
// A booking's id is the Idempotency-Key that created it (older ones: bk_ + hex).
const BOOKING_ID_RE = IDEMPOTENCY_KEY_RE;

/** Bearer tokens from a file, re-read whenever the file changes (rotation). Never logged. */
class TokenSource {
  private sig = '';
  private digests: Buffer[] = [];
  constructor(private readonly file: string) {
    this.refresh();
    if (this.digests.length === 0) throw new Error(`token file ${file} is empty`);
  }

  private refresh(): void {
    let st;
    try {
      st = statSync(this.file);
    } catch {
      this.digests = [];
      this.sig = '';
      return;
    }
    const sig = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (sig === this.sig) return;
    const tokens = readFileSync(this.file, 'utf8')
      .split(/\r?\n/)
      .map((t) => t.trim())
      .filter(Boolean);
    this.digests = tokens.map(sha256);
    this.sig = sig;
  }

  check(header: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return false;
    this.refresh();
    const d = sha256(m[1]!);
    let ok = false;
    for (const t of this.digests) ok = timingSafeEqual(t, d) || ok;
    return ok;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

export async function startBookingService(opts: BookingServiceOptions): Promise<BookingServiceHandle> {
  const tokens = new TokenSource(opts.tokenFile);
  const routes = RouteTable.load(opts.routes);
  const faults = new FaultInjector(opts.faults);
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;
  const log: (e: Record<string, unknown>) => void =
    typeof opts.log === 'function'
      ? opts.log
      : opts.log
        ? (e) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`)
        : () => {};
  const store = new BookingStore(opts.dataDir);

  const registry = new Registry();
  const mRequests = new Counter({
    name: 'booking_http_requests_total',
    help: 'HTTP requests by method, route and status code.',
    labelNames: ['method', 'route', 'code'] as const,
    registers: [registry],
  });
  const mDuration = new Histogram({
    name: 'booking_http_request_duration_seconds',
    help: 'HTTP request latency.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const mFaults = new Counter({
    name: 'booking_faults_injected_total',
    help: 'Injected faults by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'booking_active_bookings',
    help: 'Bookings in state active.',
    registers: [registry],
    collect() {
      this.set(store.activeCount());
    },
  });

  /**
   * Writes are group-committed: every write submitted in the same turn of the
   * event loop shares one transaction and one fsync; each caller is answered
   * only after that COMMIT is durable.
   */
  let queue: Array<{ op: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  const flush = () => {
    const jobs = queue;
    queue = [];
    let results: ReturnType<BookingStore['batch']>;
    try {
      results = store.batch(jobs.map((j) => j.op));
    } catch (err) {
      for (const j of jobs) j.reject(err);
      return;
    }
    results.forEach((r, i) => (r.ok ? jobs[i]!.resolve(r.value) : jobs[i]!.reject(r.error)));
  };
  const write = <T>(op: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
    });

  const inFlightKeys = new Set<string>();
  /** Creates being processed, by owner: closing an owner waits for them (request_in_flight). */
  const inFlightOwners = new Map<string, number>();
  const hanging = new Set<ServerResponse>();
  let active = 0;
  let stopping = false;
  let drained: (() => void) | undefined;

  /** The fault injected into a request, for its log line. */
  const injectedInto = new WeakMap<IncomingMessage, string>();
  const decide = (req: IncomingMessage, path: string, phase: 'before' | 'after'): FaultDecision => {
    const d = faults.decide(req.method ?? 'GET', path, phase);
    if (d) {
      mFaults.inc({ kind: d.kind });
      injectedInto.set(req, d.kind);
    }
    return d;
  };

  /** Turns a fault decision into a response; returns 'hang' when the response must be left open. */
  const applyFault = (res: ServerResponse, d: NonNullable<FaultDecision>): 'hang' => {
    switch (d.kind) {
      case 'rate_limited':
        throw new HttpError(429, 'rate_limited', 'rate limit exceeded (injected)', { 'Retry-After': String(d.retryAfterSeconds) });
      case 'unavailable':
        throw new HttpError(503, 'unavailable', 'service unavailable (injected)', { 'Retry-After': String(d.retryAfterSeconds) });
      case 'error':
        throw new HttpError(500, 'internal', 'internal error (injected)');
      case 'error_after_commit':
        throw new HttpError(500, 'internal', 'internal error after commit (injected)');
      case 'hang':
      case 'hang_after_commit':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        if (d.hangMs !== undefined) setTimeout(() => res.destroy(), d.hangMs).unref();
        return 'hang';
    }
  };

  const afterCommit = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const d = decide(req, path, 'after');
    return d !== undefined && applyFault(res, d) === 'hang';
  };

  const handleCreate = async (req: IncomingMessage, res: ServerResponse, path: string, body: unknown): Promise<'hang' | void> => {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') throw new HttpError(400, 'invalid_request', 'Idempotency-Key header is required');
    if (!IDEMPOTENCY_KEY_RE.test(key)) throw new HttpError(400, 'invalid_request', 'Idempotency-Key must be 1..255 visible ASCII characters');
    const input = parseCreate(body);
    // cluster joins the payload only when sent, so keys recorded before it existed still replay.
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([input.from, input.to, input.seats, input.owner, input.ownerRef, ...(input.cluster !== null ? [input.cluster] : [])]))
      .digest('hex');
    if (inFlightKeys.has(key)) {
      throw new HttpError(409, 'request_in_flight', 'a request with this Idempotency-Key is still being processed', { 'Retry-After': '1' });
    }
    const rec = store.idempotencyRecord(key);
    if (rec && rec.fingerprint !== fingerprint) {
      throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different payload');
    }
    inFlightKeys.add(key);
    inFlightOwners.set(input.owner, (inFlightOwners.get(input.owner) ?? 0) + 1);
    try {
      await delay(faults.latencyMs() + (rec ? 0 : faults.createLatencyMs()));
      const capacity = rec ? Number.POSITIVE_INFINITY : routes.capacity(input.from, input.to);
      if (capacity === undefined) throw new HttpError(422, 'unknown_route', `no route from ${input.from} to ${input.to}`);
      const out = await write(() => store.create(key, fingerprint, RouteTable.key(input.from, input.to), input, capacity));
      switch (out.kind) {
        case 'key_reused':
          throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different payload');
        case 'owner_closed':
          throw new HttpError(422, 'owner_closed', `owner ${input.owner} is closed: no booking can be created for it`);
        case 'sold_out':
          throw new HttpError(422, 'sold_out', `only ${out.available} seat(s) left from ${input.from} to ${input.to}`);
        case 'created':
          if (afterCommit(req, res, path)) return 'hang';
          return sendJson(res, 201, out.booking, { Location: `/v1/bookings/${encodeURIComponent(out.booking.id)}` });
        case 'replay':
          return sendJson(res, 200, out.booking, { Location: `/v1/bookings/${encodeURIComponent(out.booking.id)}`, 'Idempotent-Replayed': 'true' });
      }
    } finally {
      inFlightKeys.delete(key);
      const n = inFlightOwners.get(input.owner)! - 1;
      if (n === 0) inFlightOwners.delete(input.owner);
      else inFlightOwners.set(input.owner, n);
    }
  };

  /**
   * POST /v1/owners/{owner}/close: the fence a deleted ticket's finalizer
   * needs. While a create for the owner is being processed: request_in_flight.
   * Otherwise the owner is closed for good (durably) and every later create
   * for it is refused with owner_closed, whatever its key; a create that
   * committed before is untouched and listed by owner as before.
   */
  const handleClose = async (req: IncomingMessage, res: ServerResponse, path: string, owner: string): Promise<'hang' | void> => {
    if (owner === '' || owner.length > 253) throw new HttpError(400, 'invalid_request', 'owner must be 1..253 characters');
    await delay(faults.latencyMs());
    if (inFlightOwners.has(owner)) {
      throw new HttpError(409, 'request_in_flight', `a create for owner ${owner} is still being processed`, { 'Retry-After': '1' });
    }
    const closedAt = await write(() => store.closeOwner(owner));
    if (afterCommit(req, res, path)) return 'hang';
    return sendJson(res, 200, { owner, closedAt });
  };

  const handleV1 = async (req: IncomingMessage, res: ServerResponse, url: URL, body: unknown): Promise<'hang' | void> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const before = decide(req, path, 'before');
    if (before) return applyFault(res, before);

    if (path === '/v1/bookings') {
      if (method === 'POST') return handleCreate(req, res, path, body);
      if (method === 'GET') {
        await delay(faults.latencyMs());
        const q = parseListQuery(url.searchParams);
        const page = store.list(q);
        const nextCursor = page.more && page.lastSeq !== undefined ? Buffer.from(`s${page.lastSeq}`).toString('base64url') : null;
        return sendJson(res, 200, { items: page.items, nextCursor });
      }
      throw new HttpError(405, 'method_not_allowed', `${method} not allowed on ${path}`, { Allow: 'GET, POST' });
    }
    const c = /^\/v1\/owners\/([^/]+)\/close$/.exec(path);
    if (c) {
      if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${method} not allowed on ${path}`, { Allow: 'POST' });
      return handleClose(req, res, path, decodeURIComponent(c[1]!));
    }
    const o = /^\/v1\/bookings\/([^/]+)\/owner$/.exec(path);
    if (o) {
      if (method !== 'PUT') throw new HttpError(405, 'method_not_allowed', `${method} not allowed on ${path}`, { Allow: 'PUT' });
      const id = decodeURIComponent(o[1]!);
      const notFound = () => new HttpError(404, 'booking_not_found', `booking ${id} not found`);
      if (!BOOKING_ID_RE.test(id)) throw notFound();
      const to = parseReown(body);
      await delay(faults.latencyMs());
      const out = await write(() => store.reown(id, to));
      switch (out.kind) {
        case 'not_found':
          throw notFound();
        case 'cancelled':
          throw new HttpError(409, 'booking_cancelled', `booking ${id} is cancelled and cannot be changed`);
        case 'owner_changed':
          throw new HttpError(409, 'owner_changed', `booking ${id} is owned by ${out.booking.owner}, not ${to.expectedOwner}`);
        case 'updated':
        case 'unchanged':
          if (afterCommit(req, res, path)) return 'hang';
          return sendJson(res, 200, out.booking);
      }
    }
    const m = /^\/v1\/bookings\/([^/]+)$/.exec(path);
    if (!m) throw new HttpError(404, 'not_found', `no such endpoint ${path}`);
    const id = decodeURIComponent(m[1]!);
    const notFound = () => new HttpError(404, 'booking_not_found', `booking ${id} not found`);
    if (!BOOKING_ID_RE.test(id)) throw notFound();
    await delay(faults.latencyMs());
    if (method === 'GET') {
      const b = store.get(id);
      if (!b) throw notFound();
      return sendJson(res, 200, b);
    }
    if (method === 'PATCH') {
      const patch = parsePatch(body);
      if (patch.orphaned) {
        const marked = await write(() => store.markOrphaned(id));
        if (marked.kind === 'not_found') throw notFound();
        if (marked.kind === 'cancelled') throw new HttpError(409, 'booking_cancelled', `booking ${id} is cancelled and cannot be changed`);
        if (patch.seats === undefined) {
          if (afterCommit(req, res, path)) return 'hang';
          return sendJson(res, 200, marked.booking);
        }
      }
      const seats = patch.seats!;
      const out = await write(() => store.updateSeats(id, seats, (_route, from, to) => routes.capacity(from, to) ?? 0));
      switch (out.kind) {
        case 'not_found':
          throw notFound();
        case 'cancelled':
          throw new HttpError(409, 'booking_cancelled', `booking ${id} is cancelled and cannot be changed`);
        case 'sold_out':
          throw new HttpError(422, 'sold_out', `only ${out.available} more seat(s) available on this route`);
        case 'updated':
        case 'unchanged':
          if (afterCommit(req, res, path)) return 'hang';
          return sendJson(res, 200, out.booking);
      }
    }
    if (method === 'DELETE') {
      const ifVersion = parseIfMatch(req.headers['if-match']);
      const out = await write(() => store.cancel(id, ifVersion));
      if (out.kind === 'not_found') throw notFound();
      if (out.kind === 'version_mismatch') {
        throw new HttpError(412, 'version_mismatch', `booking ${id} is at version ${out.booking.version}, not ${ifVersion}: changed since it was read, not cancelled`);
      }
      if (afterCommit(req, res, path)) return 'hang';
      return sendJson(res, 200, out.booking);
    }
    throw new HttpError(405, 'method_not_allowed', `${method} not allowed on ${path}`, { Allow: 'GET, PATCH, DELETE' });
  };

  const startedAt = new Date().toISOString();
  const handleAdmin = (req: IncomingMessage, res: ServerResponse, path: string, body: unknown): void => {
    if (path === '/admin/stats') {
      if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', `${req.method} not allowed on ${path}`, { Allow: 'GET' });
      return sendJson(res, 200, { ...store.stats(), boots: store.boots, startedAt, faultsInjectedSinceStart: { ...faults.injected } });
    }
    if (path !== '/admin/faults') throw new HttpError(404, 'not_found', `no such endpoint ${path}`);
    switch (req.method) {
      case 'GET':
        return sendJson(res, 200, faults.get());
      case 'POST':
      case 'PUT':
        try {
          faults.set(validateFaults(body ?? {}));
        } catch (err) {
          throw new HttpError(400, 'invalid_request', (err as Error).message);
        }
        log({ level: 'warn', msg: 'faults set', faults: faults.get() });
        return sendJson(res, 200, faults.get());
      case 'DELETE':
        faults.set({});
        log({ level: 'info', msg: 'faults cleared' });
        return sendJson(res, 200, faults.get());
      default:
        throw new HttpError(405, 'method_not_allowed', `${req.method} not allowed on ${path}`, { Allow: 'GET, POST, PUT, DELETE' });
    }
  };

  const routeLabel = (path: string): string =>
    path === '/healthz' || path === '/metrics' || path === '/v1/bookings' || path.startsWith('/admin/')
      ? path
      : path.startsWith('/v1/bookings/')
        ? path.endsWith('/owner')
          ? '/v1/bookings/{id}/owner'
          : '/v1/bookings/{id}'
        : path.startsWith('/v1/owners/')
          ? '/v1/owners/{owner}/close'
          : 'other';

  const server: Server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const reqId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 128)) || randomUUID();
    res.setHeader('X-Request-Id', reqId);
    active++;
    let errCode: string | undefined;
    let hung = false;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const finish = () => {
      active--;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = hung ? 0 : res.statusCode;
      mRequests.inc({ method, route: routeLabel(path), code: String(status) });
      mDuration.observe({ method, route: routeLabel(path) }, seconds);
      if (path !== '/healthz' && path !== '/metrics') {
        log({
          level: status >= 500 || status === 0 ? 'warn' : 'info',
          msg: 'request',
          reqId,
          method,
          path,
          status,
          durationMs: Math.round(seconds * 1e5) / 100,
          ...(errCode ? { code: errCode } : {}),
          ...(injectedInto.has(req) ? { fault: injectedInto.get(req) } : {}),
          ...(req.headers['idempotency-key'] ? { idempotencyKey: String(req.headers['idempotency-key']) } : {}),
          ...(req.headers['user-agent'] ? { userAgent: String(req.headers['user-agent']).slice(0, 200) } : {}),
        });
      }
      if (active === 0 && drained) drained();
    };
    res.on('close', finish);

    void (async () => {
      try {
        if (path === '/healthz') {
          if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'use GET', { Allow: 'GET' });
          if (faults.down || stopping) throw new HttpError(503, 'unavailable', 'down', { 'Retry-After': String(faults.retryAfterSeconds) });
          return sendJson(res, 200, { status: 'ok' });
        }
        if (!tokens.check(req.headers.authorization)) throw new HttpError(401, 'unauthorized', 'missing or invalid bearer token', { 'WWW-Authenticate': 'Bearer' });
        if (path === '/metrics' && method === 'GET') {
          const text = await registry.metrics();
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
          return;
        }
        const body = await readJsonBody(req, maxBody);
        if (path.startsWith('/admin/')) return handleAdmin(req, res, path, body);
        if (path.startsWith('/v1/')) {
          if (stopping) throw new HttpError(503, 'unavailable', 'shutting down', { 'Retry-After': '1' });
          if ((await handleV1(req, res, url, body)) === 'hang') hung = true;
          return;
        }
        throw new HttpError(404, 'not_found', `no such endpoint ${path}`);
      } catch (err) {
        if (err instanceof HttpError) {
          errCode = err.code;
          return sendError(res, err);
        }
        errCode = 'internal';
        log({ level: 'error', msg: 'unhandled error', reqId, error: String((err as Error)?.stack ?? err) });
        return sendError(res, new HttpError(500, 'internal', 'internal error'));
      }
    })();
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log({ level: 'info', msg: 'listening', url, port, dataDir: opts.dataDir, boots: store.boots, routes: routes.size });

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    store,
    faults,
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.set({}),
    stop: ({ graceMs = 5000 } = {}) =>
      (stopped ??= (async () => {
        stopping = true;
        for (const res of hanging) res.destroy();
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        if (active > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([new Promise<void>((r) => (drained = r)), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
          clearTimeout(timer);
        }
        server.closeAllConnections();
        await closed;
        store.close();
        log({ level: 'info', msg: 'stopped' });
      })()),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { code: err.code, message: err.message, retryable: TRANSIENT_CODES.has(err.code) }, err.headers);
}

async function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new HttpError(413, 'payload_too_large', `request body larger than ${max} bytes`, { Connection: 'close' });
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_request', 'request body is not valid JSON');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new HttpError(400, 'invalid_request', `unknown field "${k}"`);
}

function str(o: Record<string, unknown>, k: string, max: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v.trim() === '') throw new HttpError(400, 'invalid_request', `${k} must be a non-empty string`);
  if (v.length > max) throw new HttpError(400, 'invalid_request', `${k} must be at most ${max} characters`);
  return v;
}

function seatsOf(o: Record<string, unknown>): number {
  const v = o.seats;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 10) throw new HttpError(400, 'invalid_request', 'seats must be an integer from 1 to 10');
  return v;
}

function parseCreate(body: unknown): NewBooking {
  if (!isObject(body)) throw new HttpError(400, 'invalid_request', 'body must be a JSON object');
  onlyKeys(body, ['from', 'to', 'seats', 'owner', 'ownerRef', 'cluster']);
  const from = str(body, 'from', 100);
  const to = str(body, 'to', 100);
  const seats = seatsOf(body);
  const owner = str(body, 'owner', 253);
  let ownerRef: string | null = null;
  if (body.ownerRef !== undefined && body.ownerRef !== null) {
    if (typeof body.ownerRef !== 'string' || body.ownerRef.length > 512) throw new HttpError(400, 'invalid_request', 'ownerRef must be a string of at most 512 characters');
    ownerRef = body.ownerRef;
  }
  let cluster: string | null = null;
  if (body.cluster !== undefined && body.cluster !== null) cluster = str(body, 'cluster', 253);
  return { from, to, seats, owner, ownerRef, cluster };
}

/** If-Match: "<version>" (a booking's version, quoted as an entity tag or bare); undefined without the header. */
function parseIfMatch(v: string | string[] | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(Array.isArray(v) ? v.join(',') : v);
  if (!m) throw new HttpError(400, 'invalid_request', 'If-Match must be a booking version, e.g. "3"');
  return Number(m[1]);
}

function parsePatch(body: unknown): { seats?: number; orphaned?: true } {
  if (!isObject(body)) throw new HttpError(400, 'invalid_request', 'body must be a JSON object');
  onlyKeys(body, ['seats', 'orphaned']);
  if (body.orphaned !== undefined && body.orphaned !== true) throw new HttpError(400, 'invalid_request', 'orphaned can only be set to true');
  if (body.seats === undefined && body.orphaned === undefined) throw new HttpError(400, 'invalid_request', 'give seats, orphaned or both');
  return { ...(body.seats !== undefined ? { seats: seatsOf(body) } : {}), ...(body.orphaned ? { orphaned: true as const } : {}) };
}

function parseReown(body: unknown): { owner: string; ownerRef: string | null; cluster: string | null; expectedOwner?: string } {
  if (!isObject(body)) throw new HttpError(400, 'invalid_request', 'body must be a JSON object');
  onlyKeys(body, ['owner', 'ownerRef', 'cluster', 'expectedOwner']);
  const owner = str(body, 'owner', 253);
  let ownerRef: string | null = null;
  if (body.ownerRef !== undefined && body.ownerRef !== null) {
    if (typeof body.ownerRef !== 'string' || body.ownerRef.length > 512) throw new HttpError(400, 'invalid_request', 'ownerRef must be a string of at most 512 characters');
    ownerRef = body.ownerRef;
  }
  const cluster = body.cluster !== undefined && body.cluster !== null ? str(body, 'cluster', 253) : null;
  return { owner, ownerRef, cluster, ...(body.expectedOwner !== undefined ? { expectedOwner: str(body, 'expectedOwner', 253) } : {}) };
}

function parseListQuery(q: URLSearchParams): { owner?: string; state?: BookingState; cluster?: string; limit: number; afterSeq?: number } {
  const out: { owner?: string; state?: BookingState; cluster?: string; limit: number; afterSeq?: number } = { limit: 100 };
  const cluster = q.get('cluster');
  if (cluster !== null) {
    if (cluster === '' || cluster.length > 253) throw new HttpError(400, 'invalid_request', 'cluster must be 1..253 characters');
    out.cluster = cluster;
  }
  const owner = q.get('owner');
  if (owner !== null) {
    if (owner === '' || owner.length > 253) throw new HttpError(400, 'invalid_request', 'owner must be 1..253 characters');
    out.owner = owner;
  }
  const state = q.get('state');
  if (state !== null) {
    if (state !== 'active' && state !== 'cancelled') throw new HttpError(400, 'invalid_request', 'state must be active or cancelled');
    out.state = state;
  }
  const limit = q.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new HttpError(400, 'invalid_request', 'limit must be an integer from 1 to 1000');
    out.limit = n;
  }
  const cursor = q.get('cursor');
  if (cursor !== null && cursor !== '') {
    const m = /^s(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!m) throw new HttpError(400, 'invalid_request', 'cursor is malformed');
    out.afterSeq = Number(m[1]);
  }
  return out;
}

export type { Booking, FaultConfig };
