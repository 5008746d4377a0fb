/**
 * Two controller processes, one Lease: only the leader books; SIGKILL the
 * leader and the standby takes over within 15 s and books what was created
 * meanwhile. The standby's own metrics show it made no booking call.
 */
import { waitFor } from '../../testenv/kube';
import { k8s } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import type { Child } from '../support/child-process';
import { applyCrd, createTicket, metricsPort, startBookings, startController, waitForReady, type BookingEnv } from '../support/operator-env';

const ns = useNamespace('leader');
let bookings: BookingEnv;
const controllers = new Map<string, Child>();

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings();
});
afterAll(async () => {
  for (const c of controllers.values()) await c.stop();
  await bookings?.service.stop();
});

/** Sum of booking_api_requests_total on a controller's /metrics. */
async function bookingCalls(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('booking_api_requests_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function holder(): Promise<string | undefined> {
  const kc = ns.kc;
  const lease = await kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'flight-operator-controller', namespace: ns.name });
  return lease.spec?.holderIdentity ?? undefined;
}

test('the standby makes no booking call, and takes over within 15 s after the leader is SIGKILLed', async () => {
  // GIVEN two replicas campaigning for the same Lease
  for (const id of ['replica-a', 'replica-b']) {
    controllers.set(
      id,
      startController({
        namespace: ns.name,
        bookingUrl: bookings.service.url,
        tokenFile: bookings.tokenFile,
        args: ['--leader-elect', `--leader-election-namespace=${ns.name}`, `--identity=${id}`, '--metrics-bind-address=127.0.0.1:0'],
      }),
    );
  }
  const leaderId = await waitFor('a leader', () => holder().catch(() => undefined), { timeoutMs: 30_000 });
  const standbyId = leaderId === 'replica-a' ? 'replica-b' : 'replica-a';
  const leader = controllers.get(leaderId)!;
  const standby = controllers.get(standbyId)!;
  const standbyMetrics = await metricsPort(standby);

  // WHEN tickets are booked by the leader
  await createTicket(ns.name, 'before', { from: 'Cairo', to: 'London', number: 2 });
  await waitForReady(ns.name, 'before', 30_000, leader);
  // THEN the standby made no booking call
  expect(await bookingCalls(standbyMetrics)).toBe(0);
  expect(await bookingCalls(await metricsPort(leader))).toBeGreaterThan(0);

  // WHEN the leader dies without releasing the Lease
  await leader.kill9();
  const killedAt = Date.now();
  await createTicket(ns.name, 'after', { from: 'Paris', to: 'Rome', number: 1 });
  // THEN the standby takes the Lease and books the new ticket
  await waitFor('the standby to hold the Lease', async () => (await holder()) === standbyId, { timeoutMs: 30_000, intervalMs: 100 });
  const handoverMs = Date.now() - killedAt;
  await waitForReady(ns.name, 'after', 30_000, standby);
  process.stdout.write(`leader-election: handover after SIGKILL took ${handoverMs} ms\n`);
  expect(handoverMs).toBeLessThan(15_000);
  expect(await bookingCalls(standbyMetrics)).toBeGreaterThan(0);
}, 120_000);
