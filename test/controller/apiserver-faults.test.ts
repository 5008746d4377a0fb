/**
 * The API server going away and a watch going silent, as the controller
 * sees them: its traffic goes through a TCP proxy that can drop every
 * connection and refuse new ones (a restart), or freeze open connections (a
 * half-dead watch). A spec change made meanwhile must not be lost.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig, waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { kubeConfigVia } from '../runtime/helpers';
import { startTcpProxy, type TcpProxy } from '../runtime/tcp-proxy';
import type { Child } from '../support/child-process';
import { applyCrd, createTicket, patchSpec, startBookings, startController, waitForReady, type BookingEnv } from '../support/operator-env';

const ns = useNamespace('apiserver-faults');
let bookings: BookingEnv;
let proxy: TcpProxy;
let controller: Child;

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings();
  const kc = loadKubeConfig();
  const server = new URL(kc.getCurrentCluster()!.server);
  proxy = await startTcpProxy(server.hostname, Number(server.port));
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'via-proxy-')), 'kubeconfig');
  writeFileSync(kubeconfig, kubeConfigVia(kc, proxy.port).exportConfig());
  controller = startController({
    namespace: ns.name,
    bookingUrl: bookings.service.url,
    tokenFile: bookings.tokenFile,
    // A short watchdog so the silent-watch case takes seconds, not minutes; the
    // drift check is slow so that only the watch can bring the change in.
    args: ['--watch-inactivity-timeout=5', '--drift-interval=3600'],
    env: { KUBECONFIG: kubeconfig },
  });
});
afterAll(async () => {
  await controller?.stop();
  await proxy?.close();
  await bookings?.service.stop();
});

test('an API server outage (every connection dropped, new ones refused) loses no update', async () => {
  // GIVEN a booked ticket
  const t = await createTicket(ns.name, 'outage', { from: 'Cairo', to: 'London', number: 2 });
  await waitForReady(ns.name, 'outage', 30_000, controller);
  // WHEN the API server "restarts" for the controller, and the spec changes meanwhile
  proxy.refuse(true);
  proxy.kill();
  await patchSpec(ns.name, 'outage', { number: 4 }); // the test talks to the API server directly
  await new Promise((r) => setTimeout(r, 3000));
  proxy.refuse(false);
  // THEN the controller reconnects, sees the change and applies it
  const after = await waitForReady(ns.name, 'outage', 60_000, controller);
  expect(after.status!.seats).toBe(4);
  expect(await bookings.activeFor(t.metadata.uid)).toMatchObject([{ seats: 4 }]);
});

test('a watch that goes silent is replaced, and the update made meanwhile is not lost', async () => {
  const t = await createTicket(ns.name, 'silent', { from: 'Paris', to: 'Rome', number: 1 });
  await waitForReady(ns.name, 'silent', 30_000, controller);
  // WHEN the open connections stop carrying bytes (new ones still work), and the spec changes
  proxy.freeze();
  await patchSpec(ns.name, 'silent', { number: 3 });
  // THEN the inactivity watchdog relists over a fresh connection and the change is applied
  const after = await waitForReady(ns.name, 'silent', 60_000, controller);
  expect(after.status!.seats).toBe(3);
  expect(await bookings.activeFor(t.metadata.uid)).toMatchObject([{ seats: 3 }]);
  await waitFor('a log line about the stale watch', () => controller.lines.some((l) => /stale|inactiv|silent/i.test(l)), { timeoutMs: 1000 });
});
