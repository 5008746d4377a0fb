/**
 * The controller process: wires the generic runtime (informer, queue,
 * controller, leader election, health and metrics) to the FlightTicket
 * reconcile and the booking API client. Same binary in and out of cluster:
 * the kubeconfig comes from KUBECONFIG / ~/.kube/config or, in a pod, the
 * ServiceAccount.
 */
import { KubeConfig, type KubernetesObject } from './runtime/client-node';
import { existsSync } from 'node:fs';
import { BookingClient, type BookingRequestEvent } from './booking/client';
import { PermanentBookingError } from './booking/errors';
import { ConfigError, loadConfig, usage, type ControllerConfig } from './config';
import { sweepOrphans, type SweepBookings } from './flightticket/orphan-sweep';
import { reconcileTicket, type Bookings, type CallOptions } from './flightticket/reconcile';
import { KubeTickets, liveTicket } from './flightticket/kube-tickets';
import { ticketMetrics } from './flightticket/ticket-metrics';
import { needsReconcile, TICKET_API, routeOf, UNIQUE_VALUE_KEYS } from './flightticket/ticket';
import { sleep } from './runtime/backoff';
import { KubeClient, errorCode } from './runtime/client';
import { Controller } from './runtime/controller';
import { EventRecorder } from './runtime/events';
import { ProbeServer } from './runtime/health';
import { Informer, kubeListerWatcher, objectKey, stripManagedFields } from './runtime/informer';
import { LeaderElector } from './runtime/leader-election';
import { createLogger, type Logger } from './runtime/logger';
import { createRegistry, getOrCreateCounter, getOrCreateHistogram } from './runtime/metrics';
import { startIdleGc } from './runtime/idle-gc';
import { installShutdown } from './runtime/shutdown';
import { DEFAULT_SKIP_KEYS, StringPool } from './runtime/string-pool';
import { readObjectFiles, runOptionalObjects } from './runtime/optional-objects';
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

/** Thrown instead of making a booking call once this replica may no longer act as leader. */
export class NotLeadingError extends Error {
  override readonly name = 'NotLeadingError';
}

/**
 * The booking client, made on first use: the token Secret is optional in the
 * Deployment, so a missing token must show on each ticket (Ready=False,
 * CredentialsMissing) rather than crash-loop the pod.
 *
 * Every call first checks the caller's signal and `mayCall` (leadership):
 * the reconcile's signal aborts when the lease is lost, but a timer can fire
 * late, and no booking call may start after the renew deadline.
 */
function lazyBookings(config: ControllerConfig, onRequest: (e: BookingRequestEvent) => void, mayCall: () => void): Bookings & SweepBookings {
  let client: BookingClient | undefined;
  const get = (opts?: CallOptions): BookingClient => {
    opts?.signal?.throwIfAborted();
    mayCall();
    if (client) return client;
    if (!existsSync(config.bookingApiTokenFile)) {
      throw new PermanentBookingError(
        'credentials_missing',
        `booking API token file ${config.bookingApiTokenFile} is missing: create the Secret with the token under the key "token"`,
      );
    }
    client = new BookingClient({
      baseUrl: config.bookingApiUrl,
      tokenFile: config.bookingApiTokenFile,
      timeoutMs: config.bookingTimeoutMs,
      userAgent: `flight-operator/${config.identity}`,
      onRequest,
      // HTTP(S)_PROXY and NO_PROXY come from the process environment (the Deployment's env).
      ...(config.bookingApiCaFile ? { caFile: config.bookingApiCaFile } : {}),
    });
    return client;
  };
  return {
    listBookings: (f, o) => get(o).listBookings(f, o),
    createBooking: (key, req, o) => get(o).createBooking(key, req, o),
    updateSeats: (id, seats, o) => get(o).updateSeats(id, seats, o),
    markOrphaned: (id, o) => get(o).markOrphaned(id, o),
    findBooking: (id, o) => get(o).findBooking(id, o),
    reown: (id, req, o) => get(o).reown(id, req, o),
    cancelBooking: (id, o) => get(o).cancelBooking(id, o),
    closeOwner: (owner, o) => get(o).closeOwner(owner, o),
  };
}

const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', namespaced: false };

/**
 * This cluster's identity for bookings: --cluster-id, else the uid of the
 * kube-system namespace (stable for the life of the cluster, distinct
 * between clusters). Undefined when it cannot be read: bookings are then
 * created without one and the orphan sweep stays off.
 */
async function clusterIdentity(config: ControllerConfig, client: KubeClient, logger: Logger): Promise<string | undefined> {
  if (config.clusterId) return config.clusterId;
  try {
    const ns = await client.get(NAMESPACES, undefined, 'kube-system', AbortSignal.timeout(30_000));
    if (ns.metadata?.uid) return ns.metadata.uid;
  } catch (err) {
    logger.warn('cannot read the kube-system namespace for the cluster identity; bookings get none and the orphan sweep is off (set --cluster-id)', {
      err,
      code: errorCode(err),
    });
  }
  return undefined;
}

function sweepMetrics(registry: Registry) {
  const cancelled = getOrCreateCounter(registry, {
    name: 'flightticket_orphan_bookings_cancelled_total',
    help: 'Active bookings of this cluster cancelled by the orphan sweep because their ticket no longer exists.',
  });
  const kept = getOrCreateCounter(registry, {
    name: 'flightticket_orphan_bookings_kept_total',
    help: 'Bookings whose ticket no longer exists that the sweep kept because they were orphaned on purpose (deletion policy Orphan).',
  });
  const sweeps = getOrCreateCounter(registry, {
    name: 'flightticket_orphan_sweeps_total',
    help: 'Orphan sweeps by result.',
    labelNames: ['result'],
  });
  return { cancelled, kept, sweeps };
}

export async function run(config: ControllerConfig, logger: Logger): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const registry = createRegistry();
  const client = KubeClient.fromKubeConfig(kc, { registry });

  // One informer per watched namespace (OLM MultiNamespace), or one for all.
  const namespaces: (string | undefined)[] = config.watchNamespaces.length ? config.watchNamespaces : [undefined];
  // Cached tickets share one copy of each value they have in common (namespace,
  // finalizer, condition reasons and messages...) instead of one per ticket.
  const strings = new StringPool({ skipKeys: [...DEFAULT_SKIP_KEYS, ...UNIQUE_VALUE_KEYS] });
  const informers = namespaces.map(
    (ns) =>
      new Informer<KubernetesObject>({
        lw: kubeListerWatcher(client, TICKET_API, ns),
        name: `flighttickets.flights.com${ns ? `/${ns}` : ''}`,
        transform: (o) => strings.internValues(stripManagedFields(o)),
        inactivityTimeoutMs: config.watchInactivityTimeoutMs,
        logger,
        registry,
      }),
  );
  ticketMetrics(registry, () => informers.flatMap((i) => i.list()));
  const informerFor = (key: string) => (informers.length === 1 ? informers[0] : informers[namespaces.indexOf(key.split('/')[0])]);
  const events = new EventRecorder({ client, component: COMPONENT, instance: config.identity, logger });
  let elector: LeaderElector | undefined;
  const bookings = lazyBookings(config, bookingMetrics(registry), () => {
    if (elector && !elector.isLeader()) throw new NotLeadingError('not leading (the lease renew deadline has passed): no booking call');
  });
  // Read once, before the first reconcile (startWork), so every booking this process creates carries it.
  let cluster: string | undefined;
  let clusterKnown = false;

  const controller = new Controller({
    name: 'flightticket',
    concurrency: config.concurrency,
    registry,
    logger,
    reconcile: (key, ctx) => {
      const informer = informerFor(key);
      const tickets = new KubeTickets(client, informer);
      return reconcileTicket(key, {
        tickets,
        bookings,
        events: { normal: (t, r, m) => events.normal(t as never, r, m), warning: (t, r, m) => events.warning(t as never, r, m) },
        driftInterval: config.driftIntervalMs,
        signal: ctx.signal,
        ...(cluster ? { cluster } : {}),
      });
    },
  });
  // After a burst, give V8's grown heap back once the queue is quiet (needs --expose-gc; the image has it).
  const idleGcs = getOrCreateCounter(registry, { name: 'controller_runtime_idle_gc_total', help: 'Full garbage collections run because the heap had grown and the work queue went quiet.' });
  startIdleGc({ idle: () => controller.queue.len() + controller.queue.active() === 0, logger, onCollect: () => idleGcs.inc() });
  for (const informer of informers) {
    informer.onAdd((o) => controller.enqueue(objectKey(o)));
    informer.onUpdate((o, n) => needsReconcile(o as never, n as never) && controller.enqueue(objectKey(n)));
    informer.onDelete((o) => controller.enqueue(objectKey(o)));
    informer.start();
  }

  const probes = new ProbeServer({ healthAddr: config.healthProbeBindAddress ?? '0', metricsAddr: config.metricsBindAddress ?? '0', registry, logger });
  informers.forEach((informer, i) => probes.addReadyCheck(`informer-${namespaces[i] ?? 'all'}`, () => informer.hasSynced()));
  const bound = await probes.start();
  logger.info('serving probes and metrics', { health: bound.health?.port, metrics: bound.metrics?.port });

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
  const metrics = sweepMetrics(registry);
  const sweepLoop = async (signal: AbortSignal) => {
    if (!cluster || config.orphanSweepIntervalMs === 0) return;
    const watched = new Set(config.watchNamespaces);
    while (!signal.aborted) {
      try {
        const r = await sweepOrphans({
          cluster,
          bookings,
          signal,
          watches: (ns) => watched.size === 0 || watched.has(ns),
          cachedUids: () => new Set(informers.flatMap((i) => i.list().map((t) => t.metadata?.uid ?? ''))),
          liveUid: async (namespace, name, o) => (await liveTicket(client, namespace, name, o))?.metadata.uid,
          onCancelled: (b, ref) => {
            metrics.cancelled.inc();
            const message = `cancelled orphaned booking ${b.id} (${routeOf(b)}, ${b.seats} seats): its ticket ${ref.namespace}/${ref.name} (uid ${b.owner}) no longer exists`;
            logger.warn('orphan sweep cancelled a booking', { booking: b.id, owner: b.owner, ticket: `${ref.namespace}/${ref.name}` });
            // The ticket is gone; the Event still names it (kind, namespace, name, uid), so
            // `kubectl get events -n <ns>` shows what was swept.
            events.warning({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { namespace: ref.namespace, name: ref.name, uid: b.owner } }, 'OrphanCancelled', message);
          },
        });
        metrics.kept.inc(r.keptOrphaned);
        metrics.sweeps.inc({ result: 'success' });
        logger.info('orphan sweep', { checked: r.checked, cancelled: r.cancelled.length, keptOrphaned: r.keptOrphaned, changedSinceList: r.changed });
      } catch (err) {
        if (signal.aborted) return;
        metrics.sweeps.inc({ result: 'error' });
        logger.warn('orphan sweep failed; next one at the interval', { err });
      }
      await sleep(config.orphanSweepIntervalMs, signal);
    }
  };
  // The leader alone applies them: replicas of two versions during a rollout would otherwise take turns.
  const optionalObjectsLoop = async (signal: AbortSignal) => {
    if (!config.optionalObjectsDir) return;
    let objects;
    try {
      objects = readObjectFiles(config.optionalObjectsDir);
    } catch (err) {
      // The ConfigMap volume is optional: an absent folder means nothing to apply.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('optional objects: cannot read them; none applied', { dir: config.optionalObjectsDir, err });
      return;
    }
    await runOptionalObjects(
      {
        client,
        objects,
        namespace: config.leaderElectionNamespace,
        owner: { apiVersion: 'apps/v1', kind: 'Deployment', resource: { group: 'apps', version: 'v1', plural: 'deployments' }, name: config.optionalObjectsOwner },
        fieldManager: COMPONENT,
        logger,
        intervalMs: config.optionalObjectsIntervalMs,
      },
      signal,
    );
  };
  /** `signal` ends this term of work: leadership lost (or, without leader election, shutdown). */
  const startWork = async (signal: AbortSignal) => {
    for (const informer of informers) await informer.waitForSync({ signal });
    if (!clusterKnown) {
      cluster = await clusterIdentity(config, client, logger);
      clusterKnown = true;
      logger.info('cluster identity', { cluster: cluster ?? '(none)' });
    }
    if (signal.aborted) return;
    logger.info('caches synced; reconciling', { namespaces: config.watchNamespaces.length ? config.watchNamespaces : 'all' });
    controller.start();
    void sweepLoop(signal);
    void optionalObjectsLoop(signal);
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
      onStartedLeading: (signal) => {
        // The signal aborts at the renew deadline (or when someone else holds
        // the lease): abort every reconcile in flight right then, through the
        // signal each of them passes to every booking and Kubernetes call.
        // No drain here: a standby may take over once the lease expires.
        signal.addEventListener('abort', () => void controller.abortNow(signal.reason instanceof Error ? signal.reason : new Error('leadership ended')), {
          once: true,
        });
        return startWork(signal);
      },
      onNewLeader: (id) => logger.info('leader observed', { leader: id }),
      // Lost the lease (not released by our own SIGTERM shutdown): the work is
      // already aborted; exit, and the pod restarts and campaigns again. The
      // drain step finds nothing in flight.
      onStoppedLeading: () => {
        if (!shutdown.reason) void shutdown.shutdown('leadership lost', 1).then((code) => process.exit(code));
      },
    });
    void elector.run();
  } else {
    await startWork(shutdown.signal);
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
