/**
 * booking-service benchmark: create + get over loopback.
 *
 *   npm run bench:booking [-- --requests 2000 --concurrency 16 --max-seconds 60]
 *
 * Starts the real service as a child process (own event loop, temp data dir,
 * unlimited routes, durable sqlite with fsync per commit), then runs `requests`
 * iterations of { POST /v1/bookings (fresh Idempotency-Key); GET /v1/bookings/{id} }
 * through the typed client with `concurrency` workers, stopping early at
 * `max-seconds`. Prints the numbers and writes bench/results/booking-service.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BookingClient } from '../controller/booking/client';
import { spawnBookingService } from '../booking-service/child';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    'max-seconds': { type: 'string', default: '60' },
    warmup: { type: 'string', default: '100' },
    out: { type: 'string', default: resolve(__dirname, 'results/booking-service.json') },
  },
});
const REQUESTS = Math.max(1, Number(values.requests));
const CONCURRENCY = Math.max(1, Number(values.concurrency));
const MAX_MS = Math.max(1, Number(values['max-seconds'])) * 1000;
const WARMUP = Math.max(0, Number(values.warmup));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function summary(ms: number[], seconds: number) {
  const s = [...ms].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: s.length,
    perSecond: r(s.length / seconds),
    p50Ms: r(quantile(s, 0.5)),
    p90Ms: r(quantile(s, 0.9)),
    p99Ms: r(quantile(s, 0.99)),
    maxMs: r(s.at(-1) ?? NaN),
    meanMs: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'booking-bench-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `bench-${process.pid}\n`);
  const svc = await spawnBookingService({ dataDir: join(dir, 'data'), tokenFile, routes: 'unlimited', quiet: true });
  try {
    const client = new BookingClient({ baseUrl: svc.url, tokenFile, timeoutMs: 10_000 });
    const errors: Record<string, number> = {};
    const run = async (n: number, record: boolean, deadline: number) => {
      const create: number[] = [];
      const get: number[] = [];
      const pair: number[] = [];
      let next = 0;
      const worker = async (w: number) => {
        while (next < n && performance.now() < deadline) {
          const i = next++;
          const t0 = performance.now();
          try {
            const { booking } = await client.createBooking(`bench-${w}-${i}-${process.pid}`, { from: 'Cairo', to: 'London', seats: 1 + (i % 10), owner: `bench-owner-${i}`, ownerRef: 'bench/ticket' });
            const t1 = performance.now();
            await client.getBooking(booking.id);
            const t2 = performance.now();
            if (record) {
              create.push(t1 - t0);
              get.push(t2 - t1);
              pair.push(t2 - t0);
            }
          } catch (err) {
            const code = (err as { code?: string }).code ?? 'unknown';
            errors[code] = (errors[code] ?? 0) + 1;
          }
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
      return { create, get, pair, seconds: (performance.now() - started) / 1000 };
    };
    await run(WARMUP, false, performance.now() + MAX_MS);
    const loadBefore = Math.round(loadavg()[0]! * 100) / 100;
    const m = await run(REQUESTS, true, performance.now() + MAX_MS);
    const result = {
      benchmark: 'booking-service create+get over loopback',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverage1mBeforeAfter: [loadBefore, Math.round(loadavg()[0]! * 100) / 100],
      durability: 'sqlite WAL, synchronous=FULL, group commit (one fsync per batch of concurrent writes)',
      requested: REQUESTS,
      concurrency: CONCURRENCY,
      maxSeconds: MAX_MS / 1000,
      completedPairs: m.pair.length,
      seconds: Math.round(m.seconds * 1000) / 1000,
      httpRequestsPerSecond: Math.round(((m.create.length + m.get.length) / m.seconds) * 10) / 10,
      createPlusGet: summary(m.pair, m.seconds),
      create: summary(m.create, m.seconds),
      get: summary(m.get, m.seconds),
      errors,
    };
    mkdirSync(resolve(values.out!, '..'), { recursive: true });
    writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
    const f = (s: ReturnType<typeof summary>) => `${s.perSecond}/s  p50 ${s.p50Ms} ms  p99 ${s.p99Ms} ms  max ${s.maxMs} ms`;
    process.stdout.write(
      [
        `booking-service: ${m.pair.length} create+get pairs, concurrency ${CONCURRENCY}, ${result.seconds} s, ${result.cpus} CPUs, ${process.version}`,
        `  load average:    ${result.loadAverage1mBeforeAfter.join(' -> ')} (1 min, before -> after)`,
        `  HTTP requests/s: ${result.httpRequestsPerSecond}`,
        `  create+get:      ${f(result.createPlusGet)}`,
        `  create (POST):   ${f(result.create)}`,
        `  get (GET):       ${f(result.get)}`,
        `  errors:          ${JSON.stringify(errors)}`,
        `  written:         ${values.out}`,
        '',
      ].join('\n'),
    );
    if (m.pair.length === 0) process.exitCode = 1;
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
