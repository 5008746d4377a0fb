/**
 * The controller process: wires the generic runtime (informer, queue,
 * controller, leader election, health and metrics) to the FlightTicket
 * reconcile and the booking API client. Same binary in and out of cluster:
 * the kubeconfig comes from KUBECONFIG / ~/.kube/config or, in a pod, the
 * ServiceAccount.
 */
import * as k8s from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { BookingClient, type BookingRequestEvent } from './booking/client';
import { PermanentBookingError } from './booking/errors';
import { ConfigError, loadConfig, usage, type ControllerConfig } from './config';
import { reconcileTicket, type Bookings } from './flightticket/reconcile';
import { KubeTickets } from './flightticket/kube-tickets';
import { TICKET_API } from './flightticket/ticket';
import { KubeClient } from './runtime/client';
import { Controller } from './runtime/controller';
import { EventRecorder } from './runtime/events';
import { ProbeServer } from './runtime/health';
import { Informer, kubeListerWatcher, objectKey } from './runtime/informer';
import { LeaderElector } from './runtime/leader-election';
import { createLogger, type Logger } from './runtime/logger';
import { createRegistry, getOrCreateCounter, getOrCreateHistogram } from './runtime/metrics';
import { installShutdown } from './runtime/shutdown';
import type { Registry } from 'prom-client';

const COMPONENT = 'flight-operator';

/** Booking calls, counted like rest_client_requests_total but for the booking API. */
function bookingMetrics(registry: Registry): (e: BookingRequestEvent) => void {
  const total = getOrCreateCounter(registry, {
    name: 'booking_api_requests_total',
    help: 'Booking API requests by operation and outcome (success, permanent, transient) and HTTP code.',
    labelNames: ['operation', 'outcome', 'code'],
  });
  const seconds = getOrCreateHistogram(registry, {
    name: 'booking_api_request_duration_seconds',
    help: 'Booking API request latency by operation.',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  return (e) => {
    total.inc({ operation: e.operation, outcome: e.outcome, code: String(e.status ?? e.code ?? 'none') });
    seconds.observe({ operation: e.operation }, e.durationMs / 1000);
  };
}

/**
 * The booking client, made on first use: the token Secret is optional in the
 * Deployment, so a missing token must show on each ticket (Ready=False,
 * CredentialsMissing) rather than crash-loop the pod.
 */
function lazyBookings(config: ControllerConfig, onRequest: (e: BookingRequestEvent) => void): Bookings {
  let client: BookingClient | undefined;
  const get = (): BookingClient => {
    if (client) return client;
    if (!existsSync(config.bookingApiTokenFile)) {
      throw new PermanentBookingError(
        'credentials_missing',
        `booking API token file ${config.bookingApiTokenFile} is missing: create the Secret with the token under the key "token"`,
      );
    }
    client = new BookingClient({ baseUrl: config.bookingApiUrl, tokenFile: config.bookingApiTokenFile, timeoutMs: config.bookingTimeoutMs, onRequest });
    return client;
  };
  return {
    listBookings: (f) => get().listBookings(f),
    createBooking: (key, req) => get().createBooking(key, req),
    updateSeats: (id, seats) => get().updateSeats(id, seats),
    cancelBooking: (id) => get().cancelBooking(id),
  };
}

/**
 * Spec, deletion or annotation changes need work. Status and finalizer
 * updates are our own writes: reacting to them would run a second reconcile
 * at once, cutting short a Retry-After backoff.
 */
function needsReconcile(oldObj: k8s.KubernetesObject, newObj: k8s.KubernetesObject): boolean {
  const a = oldObj.metadata ?? {};
  const b = newObj.metadata ?? {};
  return (
    a.generation !== b.generation ||
    String(a.deletionTimestamp) !== String(b.deletionTimestamp) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {})
  );
}

export async function run(config: ControllerConfig, logger: Logger): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const registry = createRegistry();
  const client = KubeClient.fromKubeConfig(kc, { registry });

  // One informer per watched namespace (OLM MultiNamespace), or one for all.
  const namespaces: (string | undefined)[] = config.watchNamespaces.length ? config.watchNamespaces : [undefined];
  const informers = namespaces.map(
    (ns) =>
      new Informer<k8s.KubernetesObject>({
        lw: kubeListerWatcher(client, TICKET_API, ns),
        name: `flighttickets.flights.com${ns ? `/${ns}` : ''}`,
        inactivityTimeoutMs: config.watchInactivityTimeoutMs,
        logger,
        registry,
      }),
  );
  const informerFor = (key: string) => (informers.length === 1 ? informers[0] : informers[namespaces.indexOf(key.split('/')[0])]);
  const events = new EventRecorder({ client, component: COMPONENT, instance: config.identity, logger });
  const bookings = lazyBookings(config, bookingMetrics(registry));

  const controller = new Controller({
    name: 'flightticket',
    concurrency: config.concurrency,
    registry,
    logger,
    reconcile: (key) => {
      const informer = informerFor(key);
      const tickets = new KubeTickets(client, informer);
      return reconcileTicket(key, {
        tickets,
        bookings,
        events: { normal: (t, r, m) => events.normal(t as never, r, m), warning: (t, r, m) => events.warning(t as never, r, m) },
        driftInterval: config.driftIntervalMs,
      });
    },
  });
  for (const informer of informers) {
    informer.onAdd((o) => controller.enqueue(objectKey(o)));
    informer.onUpdate((o, n) => needsReconcile(o, n) && controller.enqueue(objectKey(n)));
    informer.onDelete((o) => controller.enqueue(objectKey(o)));
    informer.start();
  }

  const probes = new ProbeServer({ healthAddr: config.healthProbeBindAddress ?? '0', metricsAddr: config.metricsBindAddress ?? '0', registry, logger });
  informers.forEach((informer, i) => probes.addReadyCheck(`informer-${namespaces[i] ?? 'all'}`, () => informer.hasSynced()));
  const bound = await probes.start();
  logger.info('serving probes and metrics', { health: bound.health?.port, metrics: bound.metrics?.port });

  let elector: LeaderElector | undefined;
  const shutdown = installShutdown({
    logger,
    exitOnComplete: false,
    steps: [
      { name: 'drain reconciles', run: () => controller.stop({ timeoutMs: 20_000 }) },
      { name: 'release leadership', run: () => elector?.stop() },
      { name: 'stop informers', run: async () => void (await Promise.all(informers.map((i) => i.stop()))) },
      { name: 'stop probe server', run: () => probes.stop() },
    ],
  });
  const startWork = async () => {
    for (const informer of informers) await informer.waitForSync({ signal: shutdown.signal });
    if (shutdown.signal.aborted) return;
    logger.info('caches synced; reconciling', { namespaces: config.watchNamespaces.length ? config.watchNamespaces : 'all' });
    controller.start();
  };

  if (config.leaderElect) {
    elector = new LeaderElector({
      client,
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionId,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      registry,
      logger,
      onStartedLeading: () => startWork(),
      onNewLeader: (id) => logger.info('leader observed', { leader: id }),
      // Lost the lease (not released by our own shutdown): stop at once so two
      // leaders never book at the same time; the pod restarts and campaigns again.
      onStoppedLeading: () => {
        if (!shutdown.reason) void shutdown.shutdown('leadership lost', 1).then((code) => process.exit(code));
      },
    });
    void elector.run();
  } else {
    await startWork();
  }
  await new Promise<void>((resolve) => shutdown.signal.addEventListener('abort', () => resolve(), { once: true }));
  process.exitCode = await shutdown.shutdown(shutdown.reason ?? 'stopped');
}

if (require.main === module) {
  if (process.argv.includes('--help')) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  let config: ControllerConfig;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`flight-operator-controller: ${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, fields: { component: COMPONENT } });
  logger.info('starting', { version: process.env.npm_package_version, leaderElect: config.leaderElect, identity: config.identity, bookingApiUrl: config.bookingApiUrl });
  run(config, logger).then(
    () => process.exit(process.exitCode ?? 0),
    (err) => {
      logger.error('controller failed', { err });
      process.exit(1);
    },
  );
}
