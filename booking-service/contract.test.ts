/**
 * The booking API contract suite (./contract.ts) against the real
 * booking-service, started as a child process on a temp data dir; plus checks
 * specific to this implementation (data-dir lock, metrics, admin guard, token
 * never logged).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBookingService, type ChildService } from './child';
import { adminFaults, describeBookingContract, rawRequest, type ContractTarget } from '../test/support/booking-contract';

jest.setTimeout(90_000);

const dir = mkdtempSync(join(tmpdir(), 'booking-service-contract-'));
const dataDir = join(dir, 'data');
const tokenFile = join(dir, 'token');
const routesFile = join(dir, 'routes.yaml');
const TOKEN = `test-token-${process.pid}-${Date.now()}`;
const tokensSeen = new Set<string>([TOKEN]);
let leaked: string | undefined;
writeFileSync(tokenFile, `${TOKEN}\n`);
writeFileSync(
  routesFile,
  ['includeDefaults: true', 'routes:', '  - { from: Cairo, to: London, capacity: unlimited }', '  - { from: Oslo, to: Tromso, capacity: 5 }', ''].join('\n'),
);

let svc: ChildService;
const start = (port?: number) =>
  spawnBookingService({
    dataDir,
    tokenFile,
    routes: routesFile,
    quiet: false,
    ...(port !== undefined ? { port } : {}),
    onLog: (line) => {
      for (const t of tokensSeen) if (line.includes(t)) leaked = line;
    },
  });
const target = (): ContractTarget => ({ baseUrl: svc.url, tokenFile });

beforeAll(async () => {
  svc = await start();
});

afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describeBookingContract('booking-service (child process)', {
  target,
  route: { from: 'Cairo', to: 'London' },
  unknownRoute: { from: 'Cairo', to: 'Atlantis' },
  smallRoute: { from: 'Oslo', to: 'Tromso', capacity: 5 },
  faults: adminFaults(target),
  rotateToken: async (t) => {
    tokensSeen.add(t);
    writeFileSync(tokenFile, `${t}\n`);
  },
  restart: async () => {
    const port = svc.port;
    await svc.kill9();
    svc = await start(port);
  },
});

describe('booking-service specifics', () => {
  test('a second service on the same data dir refuses to start', async () => {
    await expect(spawnBookingService({ dataDir, tokenFile, startTimeoutMs: 30_000 })).rejects.toThrow(/in use by another booking-service/);
    // and the first still serves
    expect((await rawRequest(target(), 'GET', '/healthz', { token: null })).status).toBe(200);
  });

  test('the default route table flies Cairo -> London and many more; from == to is unknown', async () => {
    const own = `uid-routes-${Date.now()}`;
    for (const [from, to] of [['London', 'Cairo'], ['Tokyo', 'New York'], ['Sydney', 'Dubai']]) {
      const r = await rawRequest(target(), 'POST', '/v1/bookings', { body: { from, to, seats: 1, owner: own }, headers: { 'Idempotency-Key': `${own}-${from}-${to}`.replace(/ /g, '_') } });
      expect(r.status).toBe(201);
    }
    const same = await rawRequest(target(), 'POST', '/v1/bookings', { body: { from: 'Cairo', to: 'cairo', seats: 1, owner: own }, headers: { 'Idempotency-Key': `${own}-same` } });
    expect(same.json?.code).toBe('unknown_route');
  });

  test('/metrics needs the token and counts requests and injected faults', async () => {
    expect((await rawRequest(target(), 'GET', '/metrics', { token: null })).status).toBe(401);
    await adminFaults(target).set({ failNext: { kind: 'rate_limited', count: 1 } });
    expect((await rawRequest(target(), 'GET', '/v1/bookings?owner=metrics')).status).toBe(429);
    await adminFaults(target).clear();
    const r = await rawRequest(target(), 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.json).toMatch(/booking_http_requests_total\{method="GET",route="\/v1\/bookings",code="429"\} [1-9]/);
    expect(r.json).toMatch(/booking_faults_injected_total\{kind="rate_limited"\} [1-9]/);
    expect(r.json).toMatch(/booking_active_bookings \d+/);
  });

  test('/admin/faults needs the token and rejects an invalid configuration', async () => {
    expect((await rawRequest(target(), 'POST', '/admin/faults', { token: null, body: { down: true } })).status).toBe(401);
    const bad = await rawRequest(target(), 'POST', '/admin/faults', { body: { errorRate: 2 } });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('invalid_request');
    expect((await rawRequest(target(), 'GET', '/healthz', { token: null })).status).toBe(200);
  });

  test('the token never appears in the service logs', () => {
    expect(svc.logs.some((l) => l.includes('"msg":"request"'))).toBe(true);
    expect(leaked).toBeUndefined();
  });
});
