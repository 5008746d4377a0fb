/**
 * Everything a controller integration test needs, all real: the synthesized
 * CRD on the test control plane, a booking service on loopback, and the
 * controller as a child process (tsx controller/main.ts) watching only this
 * test file's namespace.
 */
import { Testing } from 'cdk8s';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startBookingService, type BookingServiceHandle, type BookingServiceOptions } from '../../booking-service/server';
import { BookingClient, type Booking } from '../../controller/booking/client';
import { CrdChart } from '../../infra/charts/crd-chart';
import { k8s, kubeconfigPath, kubectl, loadKubeConfig, statusCode, waitFor } from '../../testenv/kube';
import { spawnTs, type Child } from './child-process';

export const TICKETS = { group: 'flights.com', version: 'v1', plural: 'flighttickets' } as const;

export async function applyCrd(): Promise<void> {
  const crd = Testing.synth(new CrdChart(Testing.app(), 'crd'))[0];
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: stringify(crd) });
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/flighttickets.flights.com']);
}

export interface BookingEnv {
  service: BookingServiceHandle;
  tokenFile: string;
  dataDir: string;
  /** A client of our own, to look at the booking service the way an auditor would. */
  client: BookingClient;
  /** Active bookings of a ticket (by its uid). */
  activeFor(uid: string): Promise<Booking[]>;
  /** Idempotency keys of every POST /v1/bookings the service received, in order. */
  keysSent: string[];
}

export async function startBookings(opts: Partial<BookingServiceOptions> = {}): Promise<BookingEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'bookings-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'test-token-0123456789\n', { mode: 0o600 });
  const dataDir = join(dir, 'data');
  const keysSent: string[] = [];
  const userLog = opts.log;
  const log = (e: Record<string, unknown>) => {
    if (e.msg === 'request' && e.method === 'POST' && e.path === '/v1/bookings' && typeof e.idempotencyKey === 'string') keysSent.push(e.idempotencyKey);
    if (typeof userLog === 'function') userLog(e);
    else if (userLog) process.stdout.write(`${JSON.stringify(e)}\n`);
  };
  const started = await startBookingService({ dataDir, tokenFile, ...opts, log });
  // Stopping it also removes its token and data (one folder per test file was left in /tmp).
  const service: BookingServiceHandle = {
    ...started,
    stop: async (o) => {
      await started.stop(o);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const client = new BookingClient({ baseUrl: service.url, tokenFile });
  return { service, tokenFile, dataDir, client, activeFor: (uid) => client.listBookings({ owner: uid, state: 'active' }), keysSent };
}

export interface ControllerOptions {
  namespace: string;
  bookingUrl: string;
  tokenFile: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Run this bundled controller (image/controller-image.ts bundleController) instead of the TypeScript sources. */
  bundle?: string;
  /** Node's command-line flags (the image's: CONTROLLER_NODE_FLAGS). */
  nodeFlags?: readonly string[];
}

/** The controller as a user runs it out of cluster: same binary, a kubeconfig instead of a ServiceAccount. */
export function startController(o: ControllerOptions): Child {
  return spawnTs(
    o.bundle ?? 'controller/main.ts',
    [
      `--booking-api-url=${o.bookingUrl}`,
      `--booking-api-token-file=${o.tokenFile}`,
      `--watch-namespace=${o.namespace}`,
      '--metrics-bind-address=0',
      '--health-probe-bind-address=0',
      '--drift-interval=5',
      ...(o.args ?? []),
    ],
    { KUBECONFIG: kubeconfigPath(), LOG_LEVEL: 'debug', ...o.env },
    o.nodeFlags,
  );
}

export interface Ticket {
  metadata: { name: string; namespace: string; uid: string; generation: number; finalizers?: string[]; annotations?: Record<string, string> };
  spec: { from: string; to: string; number: number };
  status?: {
    bookingRef?: string;
    seats?: number;
    route?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration?: number }>;
  };
}

export function ticketsApi(): k8s.CustomObjectsApi {
  return loadKubeConfig().makeApiClient(k8s.CustomObjectsApi);
}

export async function createTicket(namespace: string, name: string, spec: Ticket['spec'], annotations?: Record<string, string>): Promise<Ticket> {
  return (await ticketsApi().createNamespacedCustomObject({
    ...TICKETS,
    namespace,
    body: { apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name, annotations }, spec },
  })) as Ticket;
}

export async function getTicket(namespace: string, name: string): Promise<Ticket | undefined> {
  try {
    return (await ticketsApi().getNamespacedCustomObject({ ...TICKETS, namespace, name })) as Ticket;
  } catch (e) {
    if (statusCode(e) === 404) return undefined;
    throw e;
  }
}

export async function patchSpec(namespace: string, name: string, spec: Partial<Ticket['spec']>): Promise<void> {
  await kubectl(['patch', 'ft', name, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec })]);
}

export const condition = (t: Ticket | undefined, type: string) => t?.status?.conditions?.find((c) => c.type === type);

/** Waits until the ticket's current generation is Ready=True, and returns it. */
export function waitForReady(namespace: string, name: string, timeoutMs = 30_000, controller?: Child): Promise<Ticket> {
  return waitFor(
    `${namespace}/${name} Ready for its current generation`,
    async () => {
      const t = await getTicket(namespace, name);
      const ready = condition(t, 'Ready');
      return ready?.status === 'True' && ready.observedGeneration === t!.metadata.generation && t!.status?.observedGeneration === t!.metadata.generation ? t : undefined;
    },
    { timeoutMs },
  ).catch((e: Error) => {
    throw new Error(`${e.message}${controller ? `\ncontroller log:\n${controller.tail()}` : ''}`);
  });
}

/** Events about one ticket, oldest first, as "Type Reason: message". */
export async function ticketEvents(namespace: string, name: string): Promise<string[]> {
  const core = loadKubeConfig().makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=FlightTicket` });
  return list.items
    .sort((a, b) => String(a.lastTimestamp ?? a.eventTime).localeCompare(String(b.lastTimestamp ?? b.eventTime)))
    .map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

/** The port a controller child serves /metrics on (its "listening" log line). */
export function metricsPort(c: Child): Promise<number> {
  return waitFor('the metrics listener', () => {
    for (const line of c.lines) {
      if (!line.includes('"listening"')) continue;
      const e = JSON.parse(line) as { metrics?: boolean; port?: number };
      if (e.metrics) return e.port;
    }
    return undefined;
  });
}
