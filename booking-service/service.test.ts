/**
 * booking-service internals, in process: fault determinism, route config,
 * group commit, graceful stop, token file handling.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultInjector, validateFaults } from './faults';
import { RouteTable, UNLIMITED } from './routes';
import { schemaErrors } from './schema';
import { startBookingService, type BookingServiceHandle } from './server';
import { BookingStore } from './store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'booking-service-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const post = (svc: BookingServiceHandle, token: string, key: string, body: unknown) =>
  fetch(`${svc.url}/v1/bookings`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Idempotency-Key': key, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('FaultInjector', () => {
  const sequence = (seed: number) => {
    const f = new FaultInjector({ seed, errorRate: 0.3, rateLimitRate: 0.2 });
    return Array.from({ length: 200 }, () => f.decide('GET', '/v1/bookings', 'before')?.kind ?? 'ok');
  };

  test('the same seed gives the same faults; another seed other faults; rates are roughly honoured', () => {
    const a = sequence(42);
    expect(sequence(42)).toEqual(a);
    expect(sequence(43)).not.toEqual(a);
    const limited = a.filter((k) => k === 'rate_limited').length;
    const errors = a.filter((k) => k === 'error').length;
    expect(limited).toBeGreaterThan(20); // ~40 expected
    expect(limited).toBeLessThan(65);
    expect(errors).toBeGreaterThan(30); // ~48 expected (0.8 * 0.3 * 200)
    expect(errors).toBeLessThan(70);
  });

  test('failNext fails exactly N matching requests, in the right phase, then nothing', () => {
    const f = new FaultInjector({ failNext: { kind: 'error_after_commit', count: 2, method: 'post' } });
    expect(f.decide('POST', '/v1/bookings', 'before')).toBeUndefined();
    expect(f.decide('DELETE', '/v1/bookings/x', 'after')).toBeUndefined();
    expect(f.decide('POST', '/v1/bookings', 'after')?.kind).toBe('error_after_commit');
    expect(f.decide('POST', '/v1/bookings', 'after')?.kind).toBe('error_after_commit');
    expect(f.decide('POST', '/v1/bookings', 'after')).toBeUndefined();
    expect(f.injected.error_after_commit).toBe(2);
  });

  test('unavailableRate answers 503 unavailable with Retry-After, drawn after rateLimitRate and before errorRate', () => {
    const f = new FaultInjector({ seed: 5, unavailableRate: 0.25, retryAfterSeconds: 3 });
    const kinds = Array.from({ length: 400 }, () => f.decide('POST', '/v1/bookings', 'before'));
    const unavailable = kinds.filter((d) => d?.kind === 'unavailable');
    expect(unavailable.length).toBeGreaterThan(60); // ~100 expected
    expect(unavailable.length).toBeLessThan(140);
    expect(unavailable[0]).toEqual({ kind: 'unavailable', retryAfterSeconds: 3 });
    expect(kinds.every((d) => d === undefined || d.kind === 'unavailable')).toBe(true);
    // Every request rate-limited: nothing left for the later draws.
    const first = new FaultInjector({ rateLimitRate: 1, unavailableRate: 1, errorRate: 1 });
    expect(first.decide('GET', '/v1/bookings', 'before')?.kind).toBe('rate_limited');
    expect(new FaultInjector({ unavailableRate: 1, errorRate: 1 }).decide('GET', '/v1/bookings', 'before')?.kind).toBe('unavailable');
    expect(() => validateFaults({ unavailableRate: 2 })).toThrow(/unavailableRate/);
  });

  test('down answers unavailable with the configured Retry-After', () => {
    const f = new FaultInjector({ down: true, retryAfterSeconds: 7 });
    expect(f.decide('GET', '/v1/bookings', 'before')).toEqual({ kind: 'unavailable', retryAfterSeconds: 7 });
  });

  test.each([[{ errorRate: 1.5 }], [{ latencyMs: -1 }], [{ down: 'yes' }], [{ failNext: { kind: 'explode', count: 1 } }], [{ typo: 1 }], [[]]])(
    'rejects invalid configuration %j',
    (cfg) => {
      expect(() => validateFaults(cfg)).toThrow();
    },
  );
});

describe('RouteTable', () => {
  test('defaults fly every pair of hubs both ways, case-insensitively, 5000 seats; from == to is unknown', () => {
    const t = RouteTable.load('default');
    expect(t.capacity('Cairo', 'London')).toBe(5000);
    expect(t.capacity('london', 'CAIRO')).toBe(5000);
    expect(t.capacity('Tokyo', 'Sydney')).toBe(5000);
    expect(t.capacity('Cairo', 'Atlantis')).toBeUndefined();
    expect(t.capacity('Cairo', 'cairo')).toBeUndefined();
    expect(t.size).toBeGreaterThan(500);
  });

  test('a YAML file with capacities, unlimited and includeDefaults; anyRoute; "unlimited"', () => {
    const f = join(dir, 'routes.yaml');
    writeFileSync(f, 'defaultCapacity: 7\nincludeDefaults: true\nroutes:\n  - { from: Oslo, to: Tromso, capacity: 3 }\n  - { from: Lima, to: Cusco }\n  - { from: Cairo, to: London, capacity: unlimited }\n');
    const t = RouteTable.load(f);
    expect(t.capacity('Oslo', 'Tromso')).toBe(3);
    expect(t.capacity('Lima', 'Cusco')).toBe(7);
    expect(t.capacity('Cairo', 'London')).toBe(UNLIMITED);
    expect(t.capacity('Paris', 'Rome')).toBe(7);
    expect(t.capacity('Oslo', 'Lima')).toBeUndefined();
    expect(RouteTable.load('{"anyRoute": true, "defaultCapacity": 2}').capacity('A', 'B')).toBe(2);
    expect(RouteTable.load('unlimited').capacity('Anywhere', 'Else')).toBe(UNLIMITED);
    expect(() => RouteTable.load('{"routes": [{"from": "A", "to": "B", "capacity": -1}]}')).toThrow(/capacity/);
    expect(() => RouteTable.load('{"routes": [{"from": "", "to": "B"}]}')).toThrow(/non-empty/);
  });
});

describe('BookingStore', () => {
  test('a batch commits every operation that succeeded, even when one in the middle throws', () => {
    const store = new BookingStore(join(dir, 'data'));
    try {
      const input = (owner: string) => ({ from: 'A', to: 'B', seats: 1, owner, ownerRef: null, cluster: null });
      const results = store.batch([
        () => store.create('k1', 'f1', 'a|b', input('o1'), 10),
        () => {
          store.create('k2', 'f2', 'a|b', input('o2'), 10);
          throw new Error('boom');
        },
        () => store.create('k3', 'f3', 'a|b', input('o3'), 10),
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, false, true]);
      expect(store.idempotencyRecord('k1')).toBeDefined();
      expect(store.idempotencyRecord('k2')).toBeUndefined();
      expect(store.idempotencyRecord('k3')).toBeDefined();
      expect(store.seatsInUse('a|b')).toBe(2);
      expect(store.list({ limit: 10 }).items.map((b) => b.owner)).toEqual(['o1', 'o3']);
    } finally {
      store.close();
    }
  });
  test('a booking is named by its key; a key that is an older booking\'s bk_ id counts as used and books nothing', () => {
    const store = new BookingStore(join(dir, 'data-ids'));
    try {
      const input = { from: 'A', to: 'B', seats: 1, owner: 'o1', ownerRef: null, cluster: null };
      const made = store.create('uid-1.k1', 'f1', 'a|b', input, 10);
      expect(made).toMatchObject({ kind: 'created', booking: { id: 'uid-1.k1' } });
      // A booking from before ids were keys, as an older store holds it.
      const db = (store as unknown as { db: { prepare(sql: string): { run(...a: unknown[]): unknown } } }).db;
      db.prepare("INSERT INTO bookings (id, from_city, to_city, route, seats, owner, owner_ref, cluster, state, created_at, updated_at, version) VALUES ('bk_0a1b', 'A', 'B', 'a|b', 1, 'o0', NULL, NULL, 'active', 't', 't', 1)").run();
      expect(store.create('bk_0a1b', 'f2', 'a|b', { ...input, owner: 'o2' }, 10)).toEqual({ kind: 'key_reused' });
      expect(store.get('bk_0a1b')?.owner).toBe('o0');
      expect(store.idempotencyRecord('bk_0a1b')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe('startBookingService (in process)', () => {
  let svc: BookingServiceHandle | undefined;
  afterEach(async () => {
    await svc?.stop({ graceMs: 1000 });
    svc = undefined;
  });
  const tokenFile = () => {
    const f = join(dir, 'token');
    writeFileSync(f, 'first-token\nsecond-token\n');
    return f;
  };

  test('concurrent creates on a 10-seat route (one group commit): exactly 10 seats sold, the rest sold_out', async () => {
    svc = await startBookingService({ dataDir: join(dir, 'data'), tokenFile: tokenFile(), routes: '{"routes": [{"from": "A", "to": "B", "capacity": 10}]}' });
    const s = svc;
    const res = await Promise.all(Array.from({ length: 30 }, (_, i) => post(s, 'first-token', `k${i}`, { from: 'A', to: 'B', seats: 1, owner: `o${i}` })));
    const codes = res.map((r) => r.status);
    expect(codes.filter((c) => c === 201)).toHaveLength(10);
    expect(codes.filter((c) => c === 422)).toHaveLength(20);
    expect(s.store.seatsInUse(RouteTable.key('A', 'B'))).toBe(10);
  });

  test('every line of the token file is accepted; the service refuses to start with an empty token file', async () => {
    svc = await startBookingService({ dataDir: join(dir, 'data'), tokenFile: tokenFile() });
    for (const t of ['first-token', 'second-token']) {
      expect((await fetch(`${svc.url}/v1/bookings`, { headers: { Authorization: `Bearer ${t}` } })).status).toBe(200);
    }
    expect((await fetch(`${svc.url}/v1/bookings`, { headers: { Authorization: 'Bearer third' } })).status).toBe(401);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    await expect(startBookingService({ dataDir: join(dir, 'data2'), tokenFile: empty })).rejects.toThrow(/empty/);
  });

  test('GET /admin/stats counts bookings ever created by state, the keys recorded and the faults injected; request logs name the fault', async () => {
    const lines: Array<Record<string, unknown>> = [];
    svc = await startBookingService({ dataDir: join(dir, 'data'), tokenFile: tokenFile(), log: (e) => lines.push(e) });
    const s = svc;
    const stats = async () => {
      const r = await fetch(`${s.url}/admin/stats`, { headers: { Authorization: 'Bearer first-token' } });
      expect(r.status).toBe(200);
      const body = (await r.json()) as Record<string, unknown>;
      expect(schemaErrors(body, 'Stats')).toEqual([]);
      return body;
    };
    const b1 = (await (await post(s, 'first-token', 'key-1', { from: 'Cairo', to: 'London', seats: 2, owner: 'o1' })).json()) as { id: string };
    expect((await post(s, 'first-token', 'key-1', { from: 'Cairo', to: 'London', seats: 2, owner: 'o1' })).status).toBe(200); // a replay creates nothing
    await post(s, 'first-token', 'key-2', { from: 'Paris', to: 'Rome', seats: 1, owner: 'o2' });
    expect((await post(s, 'first-token', 'key-3', { from: 'Paris', to: 'Atlantis', seats: 1, owner: 'o3' })).status).toBe(422); // refused: no key recorded
    await fetch(`${s.url}/v1/bookings/${b1.id}`, { method: 'DELETE', headers: { Authorization: 'Bearer first-token' } });
    s.setFaults({ failNext: { kind: 'error', count: 1 } });
    expect((await post(s, 'first-token', 'key-4', { from: 'Paris', to: 'Rome', seats: 1, owner: 'o4' })).status).toBe(500);
    expect(await stats()).toMatchObject({
      bookings: { created: 2, active: 1, cancelled: 1 },
      idempotencyKeys: 2,
      boots: 1,
      faultsInjectedSinceStart: { error: 1, rate_limited: 0 },
    });
    expect(lines.filter((l) => l.msg === 'request' && l.fault)).toEqual([expect.objectContaining({ idempotencyKey: 'key-4', status: 500, fault: 'error' })]);
    expect((await fetch(`${s.url}/admin/stats`)).status).toBe(401);
    expect((await fetch(`${s.url}/admin/stats`, { method: 'POST', headers: { Authorization: 'Bearer first-token' } })).status).toBe(405);
  });

  test('stop() lets an in-flight request finish, refuses new ones, and ends hanging ones', async () => {
    svc = await startBookingService({ dataDir: join(dir, 'data'), tokenFile: tokenFile(), faults: { latencyMs: 400 } });
    const s = svc;
    const inflight = post(s, 'first-token', 'slow', { from: 'Cairo', to: 'London', seats: 1, owner: 'o' });
    await new Promise((r) => setTimeout(r, 100));
    const stopped = s.stop({ graceMs: 5000 });
    const r = await inflight;
    expect(r.status).toBe(201);
    await stopped;
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();

    svc = await startBookingService({ dataDir: join(dir, 'data'), tokenFile: tokenFile(), faults: { hangRate: 1 } });
    const h = svc;
    const hanging = fetch(`${h.url}/v1/bookings`, { headers: { Authorization: 'Bearer first-token' } }).then(
      () => 'answered',
      () => 'closed',
    );
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await h.stop({ graceMs: 5000 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await hanging).toBe('closed');
    // The booking that finished during the first stop is stored.
    const again = new BookingStore(join(dir, 'data'));
    try {
      expect(again.idempotencyRecord('slow')).toBeDefined();
      expect(again.list({ owner: 'o', limit: 10 }).items).toHaveLength(1);
    } finally {
      again.close();
    }
  });
});

describe('schemaErrors (responses vs booking-api/openapi.yaml)', () => {
  const booking = { id: 'bk_1', from: 'A', to: 'B', seats: 2, owner: 'o', ownerRef: null, cluster: null, orphaned: false, state: 'active', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', version: 1 };

  test('a well-formed booking and error pass', () => {
    expect(schemaErrors(booking, 'Booking')).toEqual([]);
    expect(schemaErrors({ code: 'sold_out', message: 'm', retryable: false }, 'Error')).toEqual([]);
  });

  test('each kind of deviation is reported', () => {
    expect(schemaErrors({ ...booking, state: 'lost' }, 'Booking')).toEqual(['$.state: "lost" not in enum']);
    expect(schemaErrors({ ...booking, seats: 11 }, 'Booking')).toEqual(['$.seats: above maximum 10']);
    expect(schemaErrors({ ...booking, version: '1' }, 'Booking')).toEqual(['$.version: expected integer, got string']);
    const { owner: _owner, ...noOwner } = booking;
    expect(schemaErrors(noOwner, 'Booking')).toEqual(['$: missing owner']);
    expect(schemaErrors({ code: 'oops', message: 'm', retryable: false }, 'Error')).toEqual(['$.code: "oops" not in enum']);
    expect(schemaErrors({ from: 'A', to: 'B', seats: 1, owner: 'o', extra: 1 }, 'CreateBookingRequest')).toEqual(['$: unexpected extra']);
  });
});
