/**
 * The fault suite's CI variant (issue 10; docs/chaos.md): 200 tickets
 * created, changed and deleted while the controller leader is SIGKILLed, the
 * booking service fails, hangs and rate-limits, the kube-apiserver process
 * restarts, etcd restarts once and the booking service restarts once. Then
 * the faults stop: every live ticket Ready within 60 s, exactly one matching
 * booking each, none for a deleted ticket, bookings created = idempotency
 * keys used, nothing stuck in deletion. The scenario is test/chaos/scenario.ts,
 * the same code `npm run chaos` runs with 1,000 tickets.
 *
 * It brings a control plane of its own (it restarts its components), so it
 * does not touch the one the other test files share. CHAOS_SEED replays a
 * plan; the seed is printed, and in the failure message.
 */
import { MIN_LEADER_KILLS, runChaos, summaryMarkdown, type ChaosResult } from './scenario';

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const TICKETS = Number(process.env.CHAOS_TICKETS ?? 200);

test(`${TICKETS} tickets under every fault at once: exactly once, and Ready within 60 s of the faults stopping (seed ${SEED})`, async () => {
  process.stdout.write(`chaos: seed ${SEED} (replay: CHAOS_SEED=${SEED})\n`);
  const binaries = process.env.FLIGHT_BINARIES ? JSON.parse(process.env.FLIGHT_BINARIES) : undefined;
  const r: ChaosResult = await runChaos({ tickets: TICKETS, seed: SEED, binaries, log: (m) => process.stdout.write(`chaos: ${m}\n`) });
  process.stdout.write(`${summaryMarkdown(r)}\nlogs: ${r.logsDir}\n`);

  expect({ seed: SEED, problems: r.problems }).toEqual({ seed: SEED, problems: [] });
  expect(r.checks).toEqual({
    convergedInTime: true,
    duplicates: 0,
    leaks: 0,
    missing: 0,
    mismatched: 0,
    stuckInDeletion: 0,
    notReady: 0,
    keysWithoutBooking: 0,
    sweptByOrphanSweep: 0,
  });
  expect(r.bookings.created).toBe(r.bookings.idempotencyKeysUsed - r.bookings.idempotencyKeysOfDeletedTickets);
  // Every fault happened, and hit a controller at work.
  expect(r.faults.leaderKills).toBeGreaterThanOrEqual(MIN_LEADER_KILLS);
  expect(r.faults.kubeApiserverRestarts).toBeGreaterThanOrEqual(1);
  expect(r.faults.etcdRestarts).toBe(1);
  expect(r.faults.bookingServiceRestarts).toBe(1);
  expect(r.faults.bookingRequests.status5xx).toBeGreaterThan(0);
  expect(r.faults.booking.hang ?? 0).toBeGreaterThan(0);
  expect(r.faults.booking.rate_limited ?? 0).toBeGreaterThan(0);
  expect(r.faults.bookingRequests.total).toBeGreaterThan(TICKETS);
  expect(r.bookings.createdUnderFire).toBeGreaterThan(TICKETS / 4);
}, 300_000);
