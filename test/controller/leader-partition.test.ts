/**
 * A leader cut off from the API server (its connection paused, nothing
 * closed: a partition) while it is busy booking. Its renewals cannot get
 * through, so it must stop making booking calls by its renew deadline, while
 * the standby waits out the lease and takes over. The overlap measured here
 * is the number of booking calls the old leader made after its renew
 * deadline (goal: 0).
 *
 * To keep the leader busy at the moment it loses the lease, the booking
 * service answers every call after 1.5 to 3 s and someone keeps changing seats
 * behind the operator's back, so each drift check of a ticket is two booking
 * calls in a row (read, then set the seats back) with no API server write in
 * between: exactly the work that, undisturbed, runs on past a lost lease.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { k8s, loadKubeConfig, waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import type { Child } from '../support/child-process';
import { applyCrd, createTicket, startBookings, startController, waitForReady, type BookingEnv } from '../support/operator-env';
import { kubeConfigVia } from '../runtime/helpers';
import { startTcpProxy, type TcpProxy } from '../runtime/tcp-proxy';

const ns = useNamespace('partition');
const RENEW_DEADLINE_MS = 6000; // the controller's default (--leader-election-renew-deadline=6)
let bookings: BookingEnv;
let apiProxy: TcpProxy;
const controllers: Child[] = [];
const servers: Server[] = [];

/** An HTTP hop in front of the booking service that records when each of one controller's calls arrived. */
async function countingHop(target: string): Promise<{ url: string; calls: Array<{ at: number; method: string; path: string }> }> {
  const calls: Array<{ at: number; method: string; path: string }> = [];
  const t = new URL(target);
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/')) calls.push({ at: Date.now(), method: req.method ?? '', path: req.url });
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

async function holder(): Promise<string | undefined> {
  const lease = await ns.kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'flight-operator-controller', namespace: ns.name });
  return lease.spec?.holderIdentity ?? undefined;
}

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings();
  const server = new URL(loadKubeConfig().getCurrentCluster()!.server);
  apiProxy = await startTcpProxy(server.hostname, Number(server.port));
});
afterAll(async () => {
  for (const c of controllers) await c.kill9();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await apiProxy?.close();
  await bookings?.service.stop();
});

test('a leader whose renewals are blocked makes no booking call after its renew deadline, while the new leader works', async () => {
  // GIVEN replica-a leading through a proxy to the API server, replica-b on standby
  const dir = mkdtempSync(join(tmpdir(), 'partition-'));
  const viaProxy = join(dir, 'kubeconfig');
  writeFileSync(viaProxy, kubeConfigVia(loadKubeConfig(), apiProxy.port).exportConfig());
  const hopA = await countingHop(bookings.service.url);
  const hopB = await countingHop(bookings.service.url);
  const common = ['--leader-elect', `--leader-election-namespace=${ns.name}`, '--drift-interval=1', '--metrics-bind-address=0'];
  const a = startController({ namespace: ns.name, bookingUrl: hopA.url, tokenFile: bookings.tokenFile, args: [...common, '--identity=replica-a'], env: { KUBECONFIG: viaProxy } });
  controllers.push(a);
  await waitFor('replica-a to lead', async () => (await holder().catch(() => undefined)) === 'replica-a', { timeoutMs: 30_000 });
  const b = startController({ namespace: ns.name, bookingUrl: hopB.url, tokenFile: bookings.tokenFile, args: [...common, '--identity=replica-b'] });
  controllers.push(b);
  const tickets = await Promise.all(Array.from({ length: 12 }, (_, i) => createTicket(ns.name, `t-${i}`, { from: 'Cairo', to: 'London', number: (i % 9) + 1 })));
  for (const t of tickets) await waitForReady(ns.name, t.metadata.name, 60_000, a);
  expect(hopB.calls).toHaveLength(0);

  // AND the leader busy: slow booking calls, seats changed outside all the time
  bookings.service.setFaults({ latencyMs: 1500, latencyJitterMs: 1500 }); // 1.5 to 3 s, so the workers fall out of step
  let drifting = true;
  const drift = (async () => {
    while (drifting) {
      const active = await bookings.client.listBookings({ state: 'active' }).catch(() => []);
      await Promise.all(active.map((x) => bookings.client.updateSeats(x.id, (x.seats % 10) + 1).catch(() => undefined)));
    }
  })();
  await waitFor('replica-a drift-checking', () => hopA.calls.filter((c) => c.method === 'PATCH').length >= 4, { timeoutMs: 30_000 });

  // WHEN replica-a's connection to the API server is paused (its last renewal started before this)
  const pausedAt = Date.now();
  apiProxy.pause();
  const deadline = pausedAt + RENEW_DEADLINE_MS;
  // THEN replica-b takes over and books
  await waitFor('replica-b to lead', async () => (await holder()) === 'replica-b', { timeoutMs: 30_000, intervalMs: 100 });
  const tookOverAt = Date.now();
  await waitFor('replica-b booking calls', () => hopB.calls.length > 0, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 5000)); // both at work, if the old leader were still working
  drifting = false;
  await drift;
  bookings.service.clearFaults();

  const afterDeadline = hopA.calls.filter((c) => c.at > deadline);
  const whileBLeads = hopA.calls.filter((c) => c.at >= hopB.calls[0]!.at);
  process.stdout.write(
    `leader-partition: old leader's booking calls after its renew deadline ${afterDeadline.length} ` +
      `(${afterDeadline.map((c) => `${c.method} +${c.at - deadline} ms`).join(', ') || 'none'}); ` +
      `while the new leader booked ${whileBLeads.length}; new leader took over ${tookOverAt - pausedAt} ms after the pause and made ${hopB.calls.length} calls\n`,
  );
  expect(afterDeadline).toEqual([]);
  expect(whileBLeads).toEqual([]);
  // AND the old leader aborted its work and exited (the pod would restart and campaign again)
  expect(await a.exited).toBe(1);
  expect(a.lines.some((l) => l.includes('"msg":"aborted"') && l.includes('renew the lease'))).toBe(true);
  // AND the new leader keeps every ticket booked exactly once
  for (const t of tickets) await waitForReady(ns.name, t.metadata.name, 60_000, b);
  for (const t of tickets) expect(await bookings.activeFor(t.metadata.uid)).toHaveLength(1);
}, 180_000);
