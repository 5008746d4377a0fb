/**
 * The OLM lifecycle after install, on a real OLM (olm-env.ts) with the
 * controller pods actually running (pod-runner.ts runs a bundled controller
 * for each pod kwok schedules, as the pod's ServiceAccount: pods of a
 * recorded release (olm-bundle/releases/<v>/) the controller of the commit
 * its release.json names, pods of the channel head (the latest release in
 * infra/releases.ts) the current build) against a real booking service. The cluster has prometheus-operator's CRDs (startOlm
 * installs them), so the head's leader creates its ServiceMonitor and
 * PrometheusRule (without the CRDs: test/olm/no-prometheus-operator.test.ts).
 *
 *   1. Automatic approval, once per edge of the channel to the head (every
 *      recorded release: 0.1.0, 0.2.0 and 0.3.0 -> the head), one after the
 *      other in a namespace of its own: catalog ending at the old release
 *      (its recorded bundle, as released) -> Subscription -> old release
 *      Succeeded; tickets in every state under the old controller (Ready,
 *      sold out, a route change whose booking is being made, a deletion
 *      whose cancel keeps failing); the catalog is updated (opm restarted
 *      with every release up to the head, as a registry pod restart delivers
 *      it) -> OLM upgrades to the head on its own, in one step (the head's
 *      olm.skipRange covers every older release).
 *   2. Manual approval: Subscription starting at 0.1.0; every InstallPlan is
 *      approved by the test; the head is not installed before its plan is.
 *   3. Uninstall: Subscription and CSV deleted -> the Deployment, its RBAC
 *      and ServiceAccount, and the head's monitoring objects go; the CRD, the
 *      tickets and their bookings stay.
 *
 * Asserted for each upgrade: no booking created or cancelled but those the
 * tickets asked for (Ready tickets keep their booking unchanged, the new
 * leader's first orphan sweep included; the route change ends with one
 * booking on the new route and the old one cancelled; the deleted ticket's
 * booking is cancelled and the ticket gone; the sold-out ticket stays
 * SoldOut without a booking, until it asks for the one seat its route has:
 * then the head books it once (and its deletion cancels that); no ticket ever holds two active bookings),
 * every Ready ticket reconciled by a controller of the
 * head (its reconcile counter, then a seat change per ticket:
 * observedGeneration, the Booked column, the event's reporting pod), never
 * two controllers leading at once (every process's leader gauge sampled
 * every 100 ms), and the head's ServiceMonitor and PrometheusRule in the
 * namespace. The time from the catalog update (Automatic) or the approval
 * (Manual) to the head's CSV Succeeded, per edge, goes to .bench/results/olm-upgrade.json (npm test leaves bench/results/ alone).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateBundle } from '../../infra/bundle/generate';
import { defaultSettings } from '../../infra/defaults';
import { LATEST_RELEASE, MONITORING_SINCE, RELEASES, versionAtLeast } from '../../infra/releases';
import { bundleController } from '../../image/controller-image';
import { k8s, kubectl, loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { readRecordedRelease, recordedVersions } from '../../infra/bundle/recorded';
import { condition, createTicket, getTicket, patchSpec, startBookings, type BookingEnv, type Ticket, TICKETS } from '../support/operator-env';
import { bundleControllerAt } from '../support/controller-at';
import { startPodRunner, type PodRunner } from '../support/pod-runner';
import { catalogBundleObjects, createCatalogSource, getOlmObject, listOlmObjects, startOlm, waitSubscriptionAt, waitWithOlm, type OlmEnv } from './olm-env';
import { testResultsFile } from '../support/results';

const PACKAGE = 'flight-operator';
const OLD_VERSION = '0.1.0';
const OLD = `flight-operator.v${OLD_VERSION}`;
/** The head of the channel: what an upgrade ends at. */
const NEW_VERSION = LATEST_RELEASE.version;
const NEW = `flight-operator.v${NEW_VERSION}`;
const SELECTOR = 'app.kubernetes.io/name=flight-operator-controller';
const STEP_TIMEOUT_MS = 6 * 60_000; // OLM's own install check gives up after 5 min
/** Ready tickets t0..t2 per namespace (besides the sold-out, route-change and deleted ones of an edge). */
const TICKETS_PER_NAMESPACE = 3;
/**
 * Every edge of the channel to the head: each recorded release (as it was
 * released, olm-bundle/releases/<v>/) upgrades to the head in one step.
 */
const EDGES = recordedVersions()
  .filter((v) => v !== NEW_VERSION)
  .sort((a, b) => (versionAtLeast(a, b) ? 1 : -1));
/** A route of one seat: a ticket for two is sold out, before and after the upgrade. */
const SOLD_OUT_ROUTE = { from: 'Reykjavik', to: 'Nuuk' };
/**
 * How long the booking service holds a create before it commits, while the
 * route change is in flight: longer than the catalog update takes to stop
 * the old pods (13 to 19 s measured), so the old controller's create is still
 * open when they stop and the head's controller finishes the route change
 * (request_in_flight, then the replay of the same key).
 */
const CREATE_HOLD_MS = 40_000;

type Obj = Record<string, any>;

const edgeNamespaces = Object.fromEntries(EDGES.map((v) => [v, useNamespace(`olm-upgrade-from-${v.replace(/\./g, '-')}`)]));
const auto = edgeNamespaces[OLD_VERSION];
const manual = useNamespace('olm-upgrade-manual');
let olm: OlmEnv;
let bookings: BookingEnv;
let work: string;
let bundle: string;
/** The recorded releases' controllers, by version: each the build of the commit its release.json names. */
const oldBundles: Record<string, string> = {};
/** Recorded releases by controller image (repository@digest), for pods without a version label. */
const oldImages: Record<string, string> = {};
let catalogName: string;
/** The release the catalog's channel ends at now. */
let servedCatalog: string;
const runners: PodRunner[] = [];
const result: Record<string, unknown> = {};
/** Per edge (old version): its timings. */
const edges: Record<string, Record<string, unknown>> = {};

function writeCatalog(version: string): string {
  const dir = path.join(work, `catalog-${version}`);
  const files = generateBundle(defaultSettings({ version }));
  const file = path.join(dir, PACKAGE, 'catalog.yaml');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, files.get(`catalog/${PACKAGE}/catalog.yaml`)!);
  return dir;
}

const getCustom = getOlmObject;
const listCustom = listOlmObjects;

async function diagnose(namespace: string, runner?: PodRunner): Promise<string> {
  const out: string[] = [];
  for (const c of await listCustom('clusterserviceversions', namespace).catch(() => [])) {
    out.push(`CSV ${c.metadata.name}: phase=${c.status?.phase} reason=${c.status?.reason} message=${c.status?.message}`);
  }
  const sub = await getCustom('subscriptions', namespace, PACKAGE).catch(() => undefined);
  out.push(`Subscription: ${JSON.stringify({ state: sub?.status?.state, currentCSV: sub?.status?.currentCSV, installedCSV: sub?.status?.installedCSV, conditions: sub?.status?.conditions })}`);
  for (const ip of await listCustom('installplans', namespace).catch(() => [])) {
    out.push(`InstallPlan ${ip.metadata.name}: ${ip.spec.clusterServiceVersionNames} approved=${ip.spec.approved} phase=${ip.status?.phase}`);
  }
  out.push((await kubectl(['get', 'pods', '-n', namespace, '-L', 'app.kubernetes.io/version'], { check: false })).stdout);
  if (runner) out.push(runner.logs(15));
  return out.join('\n');
}

const csvPhase = async (namespace: string, name: string) => (await getCustom('clusterserviceversions', namespace, name))?.status?.phase as string | undefined;

async function waitCsvSucceeded(namespace: string, name: string, runner?: PodRunner): Promise<void> {
  await waitWithOlm(
    olm,
    `CSV ${namespace}/${name} Succeeded`,
    async () => {
      const c = await getCustom('clusterserviceversions', namespace, name);
      if (c?.status?.phase === 'Failed') throw new Error(`CSV ${name} Failed: ${c.status.reason}: ${c.status.message}`);
      return c?.status?.phase === 'Succeeded';
    },
    { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 250, diagnose: () => diagnose(namespace, runner) },
  );
}

/** Every CSV of the channel, for the cleanup. */
const ALL_CSVS = RELEASES.map((r) => `flight-operator.v${r.version}`);
/** The head's monitoring objects (MONITORING_SINCE on), as `kubectl get -o name` names them. */
const MONITORING_OBJECTS = [
  'configmap/flight-operator-dashboard',
  'prometheusrule.monitoring.coreos.com/flight-operator-controller',
  'servicemonitor.monitoring.coreos.com/flight-operator-controller',
];

/**
 * The CSVs of the namespace's InstallPlans, in the order they were created:
 * the upgrade path OLM took. Any phase: the catalog operator may write the
 * last plan's Complete a moment after its CSV succeeded.
 */
async function installedByPlans(namespace: string): Promise<string[]> {
  const plans = await listCustom('installplans', namespace);
  plans.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || a.metadata.name.localeCompare(b.metadata.name));
  return plans.flatMap((ip) => ip.spec.clusterServiceVersionNames as string[]);
}

/**
 * After the upgrade the head's monitoring objects are in the namespace: the dashboard ConfigMap from the
 * bundle, the ServiceMonitor and PrometheusRule applied by the head's leader (OPTIONAL_MONITORING_SINCE on:
 * the cluster serves monitoring.coreos.com, startOlm installed the CRDs).
 */
async function assertMonitoringObjects(namespace: string): Promise<void> {
  if (!versionAtLeast(NEW_VERSION, MONITORING_SINCE)) return;
  await waitWithOlm(
    olm,
    `the head's monitoring objects in ${namespace}`,
    async () => (await kubectl(['get', ...MONITORING_OBJECTS, '-n', namespace, '--ignore-not-found', '-o', 'name'])).stdout.trim().split('\n').filter(Boolean).length === MONITORING_OBJECTS.length,
    { timeoutMs: 60_000, diagnose: () => diagnose(namespace) },
  );
  const names = (await kubectl(['get', ...MONITORING_OBJECTS, '-n', namespace, '-o', 'name'])).stdout.trim().split('\n').sort();
  expect(names).toEqual(MONITORING_OBJECTS);
}

/** Every booking the service holds, as what a user would notice: id, owner, seats, state, version. */
async function bookingLedger(keep: (b: { owner: string }) => boolean = () => true): Promise<string[]> {
  return (await bookings.client.listBookings({})).filter(keep).map((b) => `${b.id} owner=${b.owner} ${b.from}->${b.to} seats=${b.seats} ${b.state} v${b.version}`).sort();
}

async function installSubscription(namespace: string, approval: 'Automatic' | 'Manual', startingCSV?: string): Promise<number> {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: PACKAGE, namespace }, spec: { targetNamespaces: [namespace] } }),
  });
  const token = readFileSync(bookings.tokenFile, 'utf8').trim();
  await kubectl(['create', 'secret', 'generic', 'flight-operator-booking-credentials', '-n', namespace, `--from-literal=token=${token}`]);
  const t0 = Date.now();
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'Subscription',
      metadata: { name: PACKAGE, namespace },
      spec: {
        name: PACKAGE,
        channel: 'stable',
        source: catalogName,
        sourceNamespace: olm.namespace,
        installPlanApproval: approval,
        ...(startingCSV ? { startingCSV } : {}),
        config: { env: [{ name: 'BOOKING_API_URL', value: bookings.service.url }] },
      },
    }),
  });
  return t0;
}

/** Approves the (single) unapproved InstallPlan that installs `csv`, after `beforeApproval` (assertions on the waiting state); returns when it was approved. */
async function approvePlanFor(namespace: string, csv: string, beforeApproval: () => Promise<void> = async () => undefined): Promise<{ plan: string; at: number }> {
  const plan = await waitWithOlm(
    olm,
    `an InstallPlan for ${csv} waiting for approval`,
    async () => (await listCustom('installplans', namespace)).find((ip) => ip.spec.clusterServiceVersionNames.includes(csv) && ip.spec.approved === false && ip.status?.phase === 'RequiresApproval'),
    { timeoutMs: STEP_TIMEOUT_MS, diagnose: () => diagnose(namespace) },
  );
  expect(plan.spec.approval).toBe('Manual');
  await beforeApproval();
  const at = Date.now();
  await kubectl(['patch', 'installplan', plan.metadata.name, '-n', namespace, '--type=merge', '-p', '{"spec":{"approved":true}}']);
  return { plan: plan.metadata.name, at };
}

/** Waits until exactly `replicas` controller processes of `version` run, nothing else, and one of them leads. */
async function waitForControllers(runner: PodRunner, namespace: string, version: string, replicas = 2): Promise<string> {
  return waitWithOlm(
    olm,
    `${replicas} controller pods of ${version} running (and nothing else) with one leader`,
    async () => {
      const running = runner.running();
      if (running.length !== replicas || running.some((p) => p.version !== version)) return undefined;
      const last = runner.samples[runner.samples.length - 1];
      return last?.leaders.length === 1 && running.some((p) => p.pod === last.leaders[0]) ? last.leaders[0] : undefined;
    },
    { timeoutMs: 120_000, diagnose: () => diagnose(namespace, runner) },
  );
}

/**
 * Milestones (seconds since t0, as first seen by 250 ms polls) of an upgrade to
 * `csv`, until stop() is called: where the time to Succeeded goes.
 */
function upgradeTimeline(namespace: string, csv: string, runner: PodRunner, t0: number, from: string): { stop: () => Promise<Record<string, number>> } {
  const seen: Record<string, number> = {};
  const at = (k: string) => (seen[k] ??= Math.round((Date.now() - t0) / 10) / 100);
  let running = true;
  const loop = (async () => {
    while (running) {
      const [cat, plans, c] = await Promise.all([
        getCustom('catalogsources', olm.namespace, catalogName).catch(() => undefined),
        listCustom('installplans', namespace).catch(() => []),
        getCustom('clusterserviceversions', namespace, csv).catch(() => undefined),
      ]);
      if (cat?.status?.connectionState?.lastObservedState !== 'READY') at('catalogNotReady');
      else if (seen.catalogNotReady !== undefined) at('catalogReadyAgain');
      if (plans.some((ip) => ip.spec.clusterServiceVersionNames.includes(csv))) at('installPlanCreated');
      if (c) at('csvCreated');
      if (c?.status?.phase) at(`csv${c.status.phase}`);
      if (runner.processes.some((p) => p.version === NEW_VERSION)) at('newPodStarted');
      if (runner.processes.some((p) => p.version === NEW_VERSION) && runner.processes.every((p) => p.version !== from || p.stoppedAt !== undefined)) at('oldPodsStopped');
      const last = runner.samples[runner.samples.length - 1];
      if (last?.leaders.some((l) => runner.processes.find((p) => p.pod === l)?.version === NEW_VERSION)) at('newLeader');
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** Longest stretch (ms) in which no process reported itself leader, after the first leader was seen. */
function longestLeaderlessMs(runner: PodRunner): number {
  let longest = 0;
  let since: number | undefined;
  let seenLeader = false;
  for (const s of runner.samples) {
    if (s.leaders.length) {
      if (since !== undefined) longest = Math.max(longest, s.t - since);
      since = undefined;
      seenLeader = true;
    } else if (seenLeader && since === undefined) since = s.t;
  }
  return longest;
}

const reconciles = (metrics: string) =>
  [...metrics.matchAll(/^controller_runtime_reconcile_total\{[^}]*result="(?:success|requeue|requeue_after)"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);

async function bookTickets(namespace: string): Promise<Obj[]> {
  const api = loadKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const routes = [
    ['Cairo', 'London'],
    ['Frankfurt', 'Paris'],
    ['Madrid', 'Rome'],
  ];
  for (let i = 0; i < TICKETS_PER_NAMESPACE; i++) {
    const [from, to] = routes[i % routes.length];
    await api.createNamespacedCustomObject({ ...TICKETS, namespace, body: { apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: `t${i}` }, spec: { from, to, number: 1 + i } } });
  }
  return waitWithOlm(
    olm,
    `${TICKETS_PER_NAMESPACE} tickets in ${namespace} Ready with a booking`,
    async () => {
      const items = ((await api.listNamespacedCustomObject({ ...TICKETS, namespace })) as { items: Obj[] }).items;
      const ready = items.filter((t) => t.status?.bookingRef && t.status?.observedGeneration === t.metadata.generation && t.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === TICKETS_PER_NAMESPACE ? ready : undefined;
    },
    { timeoutMs: 120_000, diagnose: () => diagnose(namespace, runners[runners.length - 1]) },
  );
}

/**
 * After an upgrade: the leader of the head reconciled every ticket on its own
 * (its reconcile counter), then each ticket's seat change is carried out by a
 * pod of the head (observedGeneration, Booked column, the event's reporting
 * pod).
 */
/**
 * The pod that leads now, if it runs `version`. OLM can roll the new
 * Deployment once more after the CSV succeeded (a second ReplicaSet), so the
 * leader seen first may be gone by the time its metrics are read.
 */
function leaderNow(runner: PodRunner, first: string, version = NEW_VERSION): string | undefined {
  const running = runner.running();
  if (running.some((p) => p.pod === first)) return first;
  const last = runner.samples[runner.samples.length - 1];
  return last?.leaders.find((l) => running.some((p) => p.pod === l && p.version === version));
}

/** The tickets bookTickets makes (t0, t1, ...), Ready before and after every upgrade. */
const READY_TICKET = /^t\d+\b/;

async function assertReconciledByNew(namespace: string, runner: PodRunner, leader: string): Promise<void> {
  await waitWithOlm(olm, `the ${NEW_VERSION} leader ${leader} to reconcile all ${TICKETS_PER_NAMESPACE} tickets`, async () => {
    const pod = leaderNow(runner, leader);
    return pod !== undefined && reconciles(await runner.metrics(pod)) >= TICKETS_PER_NAMESPACE;
  }, {
    timeoutMs: 60_000,
    diagnose: () => diagnose(namespace, runner),
  });
  const newPods = new Set(runner.processes.filter((p) => p.version === NEW_VERSION).map((p) => p.pod));
  for (let i = 0; i < TICKETS_PER_NAMESPACE; i++) await kubectl(['patch', 'ft', `t${i}`, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec: { number: 5 + i } })]);
  const api = loadKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  await waitWithOlm(
    olm,
    'every ticket Ready for its new generation with the new seats booked',
    async () => {
      const items = ((await api.listNamespacedCustomObject({ ...TICKETS, namespace })) as { items: Obj[] }).items.filter((t) => READY_TICKET.test(t.metadata.name));
      return items.length === TICKETS_PER_NAMESPACE && items.every((t) => t.status?.observedGeneration === t.metadata.generation && t.status?.seats === t.spec.number && t.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True'));
    },
    { timeoutMs: 60_000, diagnose: () => diagnose(namespace, runner) },
  );
  const events = (await loadKubeConfig().makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: 'reason=SeatsChanged' })).items;
  for (let i = 0; i < TICKETS_PER_NAMESPACE; i++) {
    const by = events.filter((e) => e.involvedObject.name === `t${i}`).map((e) => e.reportingInstance ?? e.source?.host ?? '');
    expect({ ticket: `t${i}`, reportedByNewPod: by.some((p) => newPods.has(p)) }).toEqual({ ticket: `t${i}`, reportedByNewPod: true });
  }
  // What the user sees: the Booked column (CRD since 0.2.0), equal to the seats asked for.
  const table = (await kubectl(['get', 'ft', '-n', namespace])).stdout.trim().split('\n');
  expect(table[0].split(/\s+/)).toEqual(['NAME', 'FROM', 'TO', 'SEATS', 'BOOKED', 'READY', 'STATUS', 'BOOKING', 'AGE']);
  for (const row of table.slice(1).filter((r) => READY_TICKET.test(r))) {
    const cols = row.split(/\s+/);
    expect(cols[4]).toBe(cols[3]);
  }
}

/**
 * Serves the catalog whose channel ends at `version` (opm restarted, as a
 * registry pod restart delivers it) and waits until the catalog operator is
 * connected to the new one: a Subscription made before that would resolve
 * against what it knew of the previous catalog.
 */
async function serveCatalog(version: string): Promise<void> {
  if (servedCatalog === version) return;
  const since = Date.now();
  await olm.updateCatalog(writeCatalog(version));
  servedCatalog = version;
  await waitWithOlm(
    olm,
    `the catalog operator connected to the catalog ending at ${version}`,
    async () => {
      const c = (await getCustom('catalogsources', olm.namespace, catalogName))?.status?.connectionState;
      return c?.lastObservedState === 'READY' && Date.parse(c.lastConnect) >= since - 1000;
    },
    { timeoutMs: 120_000, diagnose: async () => JSON.stringify((await getCustom('catalogsources', olm.namespace, catalogName))?.status) },
  );
}

/** The tickets of an edge besides the Ready ones, as they were when the catalog was updated. */
interface EdgeTickets {
  /** Asks for two seats on SOLD_OUT_ROUTE: Ready=False SoldOut, no booking. */
  soldOut: Ticket;
  /** Booked on Cairo->London, then moved to Madrid->Rome: the new booking's create held by the service. */
  moving: Ticket;
  /** Booked, then deleted: its cancel refused (503) until the head runs, so its finalizer stays. */
  deleting: Ticket;
}

const MOVED_TO = { from: 'Madrid', to: 'Rome' };

/** Makes the sold-out, route-change and deletion-pending tickets under the running (old) controller. */
async function ticketsInEveryState(namespace: string, runner: PodRunner): Promise<EdgeTickets> {
  const diagnosis = () => diagnose(namespace, runner);
  await createTicket(namespace, 'sold-out', { ...SOLD_OUT_ROUTE, number: 2 });
  await createTicket(namespace, 'moving', { from: 'Cairo', to: 'London', number: 1 });
  await createTicket(namespace, 'deleting', { from: 'Frankfurt', to: 'Paris', number: 1 });
  const current = async (name: string, reason: string) => {
    const t = await getTicket(namespace, name);
    const ready = condition(t, 'Ready');
    return ready?.reason === reason && t!.status?.observedGeneration === t!.metadata.generation ? t : undefined;
  };
  const soldOut = await waitWithOlm(olm, `${namespace}/sold-out SoldOut`, () => current('sold-out', 'SoldOut'), { timeoutMs: 120_000, diagnose: diagnosis });
  expect(condition(soldOut, 'Ready')?.status).toBe('False');
  const booked = (name: string) =>
    waitWithOlm(olm, `${namespace}/${name} Ready with a booking`, async () => {
      const t = await getTicket(namespace, name);
      return condition(t, 'Ready')?.status === 'True' && t!.status?.bookingRef && t!.status.observedGeneration === t!.metadata.generation ? t : undefined;
    }, { timeoutMs: 120_000, diagnose: diagnosis });
  const moving = await booked('moving');
  const deleting = await booked('deleting');
  bookings.service.setFaults({
    createLatencyMs: CREATE_HOLD_MS,
    failNext: { kind: 'unavailable', count: 1_000_000, method: 'DELETE', path: `/v1/bookings/${encodeURIComponent(deleting.status!.bookingRef!)}` },
  });
  const refused = bookings.service.faults.injected.unavailable;
  await kubectl(['delete', 'ft', 'deleting', '-n', namespace, '--wait=false']);
  await patchSpec(namespace, 'moving', MOVED_TO);
  await waitWithOlm(olm, `${namespace}/deleting's cancel refused by the booking service`, async () => bookings.service.faults.injected.unavailable > refused, { timeoutMs: 60_000, diagnose: diagnosis });
  const pending = (await getTicket(namespace, 'deleting')) as (Ticket & { metadata: { deletionTimestamp?: string } }) | undefined;
  expect(pending?.metadata.deletionTimestamp).toBeDefined();
  return { soldOut, moving, deleting };
}

/** What each ticket of an edge shows once the head runs: see EdgeTickets. */
async function assertEveryStateAfterUpgrade(namespace: string, runner: PodRunner, before: EdgeTickets): Promise<void> {
  const diagnosis = () => diagnose(namespace, runner);
  await waitWithOlm(olm, `${namespace}/deleting gone`, async () => (await getTicket(namespace, 'deleting')) === undefined, { timeoutMs: 120_000, diagnose: diagnosis });
  const moved = await waitWithOlm(olm, `${namespace}/moving Ready on its new route`, async () => {
    const t = await getTicket(namespace, 'moving');
    return condition(t, 'Ready')?.status === 'True' && t!.status?.observedGeneration === t!.metadata.generation && t!.status?.bookingRef !== before.moving.status!.bookingRef ? t : undefined;
  }, { timeoutMs: 120_000, diagnose: diagnosis });
  const of = async (t: Ticket) => (await bookings.client.listBookings({ owner: t.metadata.uid })).map((b) => `${b.id} ${b.from}->${b.to} ${b.state}`).sort();
  // The route change: finished by a pod of the head (the old pods stopped while its create was held), with
  // one booking on the new route and the old one cancelled, nothing else
  const headPods = new Set(runner.processes.filter((p) => p.version === NEW_VERSION).map((p) => p.pod));
  const routeChanged = (await loadKubeConfig().makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: 'reason=RouteChanged' })).items.filter((e) => e.involvedObject.name === 'moving');
  expect(routeChanged.map((e) => ({ reportedByHeadPod: headPods.has(e.reportingInstance ?? e.source?.host ?? '') }))).toEqual([{ reportedByHeadPod: true }]);
  expect(await of(before.moving)).toEqual([`${before.moving.status!.bookingRef} Cairo->London cancelled`, `${moved.status!.bookingRef} ${MOVED_TO.from}->${MOVED_TO.to} active`].sort());
  // The deletion: its one booking cancelled
  expect(await of(before.deleting)).toEqual([`${before.deleting.status!.bookingRef} Frankfurt->Paris cancelled`]);
  // Sold out: still, and never booked
  expect(await of(before.soldOut)).toEqual([]);
  const soldOut = await getTicket(namespace, 'sold-out');
  expect({ ready: condition(soldOut, 'Ready')?.status, reason: condition(soldOut, 'Ready')?.reason, observed: soldOut?.status?.observedGeneration }).toEqual({ ready: 'False', reason: 'SoldOut', observed: soldOut?.metadata.generation });
  // AND once it asks for what the route has (its one seat), the head books it, once; deleting it
  // cancels that booking (which frees the seat for the next edge's sold-out ticket)
  await kubectl(['patch', 'ft', 'sold-out', '-n', namespace, '--type=merge', '-p', '{"spec":{"number":1}}']);
  const booked = await waitWithOlm(olm, `${namespace}/sold-out Ready with the route's one seat`, async () => {
    const t = await getTicket(namespace, 'sold-out');
    return condition(t, 'Ready')?.status === 'True' && t!.status?.observedGeneration === t!.metadata.generation ? t : undefined;
  }, { timeoutMs: 120_000, diagnose: diagnosis });
  const route = `${SOLD_OUT_ROUTE.from}->${SOLD_OUT_ROUTE.to}`;
  expect(await of(before.soldOut)).toEqual([`${booked.status!.bookingRef} ${route} active`]);
  await kubectl(['delete', 'ft', 'sold-out', '-n', namespace, '--timeout=120s'], { timeoutMs: 130_000 });
  expect(await of(before.soldOut)).toEqual([`${booked.status!.bookingRef} ${route} cancelled`]);
  // No ticket anywhere holds two active bookings
  const owners = (await bookings.client.listBookings({})).filter((b) => b.state === 'active').map((b) => b.owner);
  expect(owners.filter((o, i) => owners.indexOf(o) !== i)).toEqual([]);
}

beforeAll(async () => {
  // A real upgrade: the head is a later release than 0.1.0, reachable from it in one step (olm.skipRange).
  expect(RELEASES[0].version).toBe(OLD_VERSION);
  expect(RELEASES.length).toBeGreaterThan(1);
  expect(LATEST_RELEASE.skipRange).toMatch(new RegExp(`^>=${OLD_VERSION.replace(/\./g, '\\.')} <${NEW_VERSION.replace(/\./g, '\\.')}$`));
  work = mkdtempSync(path.join(os.tmpdir(), 'olm-upgrade-'));
  // Every release before the head is recorded: each is an edge the test takes.
  expect(EDGES).toEqual(RELEASES.slice(0, -1).map((r) => r.version));
  bookings = await startBookings({ routes: { includeDefaults: true, routes: [{ ...SOLD_OUT_ROUTE, capacity: 1 }] } });
  bundle = path.join(work, 'controller.js');
  writeFileSync(bundle, (await bundleController()).js);
  // Each recorded release's pods run the controller of its recorded commit (git archive of that commit's
  // controller/ and booking-api/), the commit test/image/release-rebuild.test.ts rebuilds the recorded
  // image from; the recorded CSV runs that image.
  const byCommit = new Map<string, string>();
  for (const v of EDGES) {
    const rec = readRecordedRelease(v)!;
    const csv = rec.objects[0];
    expect(csv.spec.install.spec.deployments[0].spec.template.spec.containers[0].image).toBe(`${rec.record.controllerImage.repository}@${rec.record.controllerImage.digest}`);
    if (!byCommit.has(rec.record.commit)) byCommit.set(rec.record.commit, await bundleControllerAt(rec.record.commit, path.join(work, `controller-${rec.record.commit}.js`)));
    oldBundles[v] = byCommit.get(rec.record.commit)!;
    oldImages[`${rec.record.controllerImage.repository}@${rec.record.controllerImage.digest}`] = v;
  }
  // The catalog as it was when the oldest release was the head: its channel ends there, every bundle as recorded.
  servedCatalog = EDGES[0];
  olm = await startOlm({ catalogDir: writeCatalog(servedCatalog) });
  catalogName = `flight-operator-${auto.name}`;
  await createCatalogSource(olm, catalogName, { displayName: 'Flight Operator (upgrade test)' });
}, 45 * 60_000);

let started = 0;
let finished = 0;
beforeEach(() => void started++);
const done = () => void finished++;

afterAll(async () => {
  for (const r of runners) await r.stop().catch(() => undefined);
  if (olm) {
    try {
      for (const ns of [...Object.values(edgeNamespaces).map((n) => n.name), manual.name]) {
        // Tickets keep their finalizer once no controller runs; let the namespace go.
        const names = (await kubectl(['get', 'ft', '-n', ns, '-o', 'name'], { check: false })).stdout.split('\n').filter(Boolean);
        for (const n of names) await kubectl(['patch', n, '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], { check: false });
        await kubectl(['delete', 'subscription', PACKAGE, '-n', ns, '--ignore-not-found', '--wait=false'], { check: false });
        for (const csv of ALL_CSVS) await kubectl(['delete', 'csv', csv, '-n', ns, '--ignore-not-found', '--timeout=60s'], { check: false, timeoutMs: 70_000 });
        for (const csv of ALL_CSVS) await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `olm.owner=${csv},olm.owner.namespace=${ns}`, '--ignore-not-found'], { check: false });
      }
      await kubectl(['delete', 'catalogsource', catalogName, '-n', olm.namespace, '--ignore-not-found', '--wait=false'], { check: false });
    } finally {
      await olm.stop({ keepLogs: finished < started });
    }
  }
  await bookings?.service.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe(`upgrading flight-operator ${EDGES.join(', ')} -> ${NEW_VERSION} (the channel head) through OLM`, () => {
  test.each(EDGES)(
    `Automatic, %s -> ${NEW_VERSION}: the recorded release installed and its controller holding tickets in every state; catalog update -> ${NEW_VERSION} Succeeded in one step; no booking made twice or lost, one leader at a time`,
    async (from) => {
      const ns = edgeNamespaces[from].name;
      const old = `flight-operator.v${from}`;
      const edge: Record<string, unknown> = (edges[from] = { from: old, commit: readRecordedRelease(from)!.record.commit });
      const runner = await startPodRunner({ namespace: ns, selector: SELECTOR, bundle, bundleFor: oldBundles, versionOfImage: oldImages });
      runners.push(runner);
      // GIVEN a catalog whose channel ends at the old release (its recorded bundle), and the release installed from it
      await serveCatalog(from);
      expect(catalogBundleObjects(path.join(work, `catalog-${from}`), PACKAGE, old)).toEqual(readRecordedRelease(from)!.objects);
      const t0 = await installSubscription(ns, 'Automatic');
      await waitCsvSucceeded(ns, old, runner);
      edge.subscriptionToCsvSucceeded_s = (Date.now() - t0) / 1000;
      await waitSubscriptionAt(olm, ns, PACKAGE, old, { diagnose: () => diagnose(ns, runner) });
      await waitForControllers(runner, ns, from);
      // AND tickets in every state, under the old release's controller
      await bookTickets(ns);
      const states = await ticketsInEveryState(ns, runner);
      // (the route change's booking is not made yet: the service holds its create)
      expect((await bookings.client.listBookings({ owner: states.moving.metadata.uid })).map((b) => `${b.from}->${b.to} ${b.state}`)).toEqual(['Cairo->London active']);
      const untouched = (b: { owner: string }) => b.owner !== states.moving.metadata.uid && b.owner !== states.deleting.metadata.uid;
      const ledger = await bookingLedger(untouched);

      // WHEN the catalog is updated to one that has every release up to the head
      const t1 = Date.now();
      const timeline = upgradeTimeline(ns, NEW, runner, t1, from);
      await serveCatalog(NEW_VERSION);
      // THEN OLM installs the head on its own, replacing the old release
      await waitCsvSucceeded(ns, NEW, runner);
      const seconds = (Date.now() - t1) / 1000;
      edge.catalogUpdateToCsvSucceeded_s = seconds;
      const leader = await waitForControllers(runner, ns, NEW_VERSION);
      edge.milestonesSeconds = await timeline.stop();
      edge.longestLeaderlessMs = longestLeaderlessMs(runner);
      process.stderr.write(
        `\nOLM upgrade ${from} -> ${NEW_VERSION} (Automatic): catalog update -> CSV ${NEW_VERSION} Succeeded in ${seconds}s; milestones (s): ${JSON.stringify(edge.milestonesSeconds)}; longest time without a leader ${edge.longestLeaderlessMs} ms\n`,
      );
      // Only the head's pods run now: the deletion's cancel may go through (the held create commits on its own)
      bookings.service.clearFaults();
      await waitWithOlm(olm, `CSV ${old} removed after the upgrade`, async () => (await csvPhase(ns, old)) === undefined, { timeoutMs: 120_000 });
      await waitSubscriptionAt(olm, ns, PACKAGE, NEW, { diagnose: () => diagnose(ns, runner) });
      // In one step: the plans installed the old release, then the head, and no release in between
      expect(await installedByPlans(ns)).toEqual([old, NEW]);
      // No booking created or cancelled but those the tickets asked for, once the head has looked at every ticket
      await assertLedgerUnchangedAfterReconcile(runner, leader, ledger, ns, untouched);
      await assertEveryStateAfterUpgrade(ns, runner, states);
      // Never two leaders at once, while both versions ran
      expect(runner.maxConcurrentLeaders()).toBe(1);
      await assertReconciledByNew(ns, runner, leader);
      await assertMonitoringObjects(ns);
      done();
    },
    4 * STEP_TIMEOUT_MS,
  );

  test(`Manual: nothing is installed or upgraded before its InstallPlan is approved; approving the ${NEW_VERSION} plan upgrades without touching a booking`, async () => {
    const runner = await startPodRunner({ namespace: manual.name, selector: SELECTOR, bundle, bundleFor: oldBundles, versionOfImage: oldImages });
    runners.push(runner);
    await serveCatalog(NEW_VERSION);
    // GIVEN a Manual Subscription starting at 0.1.0 (the catalog now has every release up to the head)
    await installSubscription(manual.name, 'Manual', OLD);
    await approvePlanFor(manual.name, OLD, async () => {
      // Not approved yet: no CSV, no Deployment
      expect(await listCustom('clusterserviceversions', manual.name)).toEqual([]);
      expect((await kubectl(['get', 'deployment', '-n', manual.name, '-o', 'name'])).stdout.trim()).toBe('');
    });
    await waitCsvSucceeded(manual.name, OLD, runner);
    await waitForControllers(runner, manual.name, OLD_VERSION);
    await bookTickets(manual.name);
    const ledger = await bookingLedger();

    // WHEN OLM has found the upgrade: a plan for the head waits, and 0.1.0 stays installed meanwhile
    const pending = await waitWithOlm(
      olm,
      'the Subscription to report UpgradePending',
      async () => {
        const s = await getCustom('subscriptions', manual.name, PACKAGE);
        return s?.status?.state === 'UpgradePending' ? s : undefined;
      },
      { timeoutMs: STEP_TIMEOUT_MS, diagnose: () => diagnose(manual.name, runner) },
    );
    expect(pending.status.currentCSV).toBe(NEW);
    expect(pending.status.installedCSV).toBe(OLD);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await csvPhase(manual.name, NEW)).toBeUndefined();
    expect(runner.running().every((p) => p.version === OLD_VERSION)).toBe(true);

    // AND the test approves it
    const { at } = await approvePlanFor(manual.name, NEW);
    // THEN the head is installed, and nothing about the bookings changed
    await waitCsvSucceeded(manual.name, NEW, runner);
    result.approvalToCsvSucceeded_s = (Date.now() - at) / 1000;
    const leader = await waitForControllers(runner, manual.name, NEW_VERSION);
    result.manualLongestLeaderlessMs = longestLeaderlessMs(runner);
    process.stderr.write(
      `\nOLM upgrade (Manual): InstallPlan approved -> CSV ${NEW_VERSION} Succeeded in ${result.approvalToCsvSucceeded_s}s; longest time without a leader ${result.manualLongestLeaderlessMs} ms\n`,
    );
    await assertLedgerUnchangedAfterReconcile(runner, leader, ledger, manual.name);
    expect(runner.maxConcurrentLeaders()).toBe(1);
    await assertReconciledByNew(manual.name, runner, leader);
    expect(await installedByPlans(manual.name)).toEqual([OLD, NEW]);
    await assertMonitoringObjects(manual.name);
    done();
  }, 3 * STEP_TIMEOUT_MS);

  test('Uninstall: deleting the Subscription and the CSV removes the Deployment, RBAC, ServiceAccount and monitoring objects; the CRD, tickets and bookings stay', async () => {
    const ns = auto.name;
    const before = await bookingLedger();
    // WHEN the user uninstalls as OLM documents it
    await kubectl(['delete', 'subscription', PACKAGE, '-n', ns]);
    await kubectl(['delete', 'csv', NEW, '-n', ns, '--timeout=120s'], { timeoutMs: 130_000 });
    // THEN what OLM made from the CSV goes
    await waitWithOlm(
      olm,
      'the Deployment, ServiceAccount and RBAC of the CSV to be gone',
      async () => {
        const left = await kubectl(['get', 'deployment,serviceaccount,role,rolebinding', '-n', ns, '-l', `olm.owner=${NEW}`, '-o', 'name'], { check: false });
        const dep = await kubectl(['get', 'deployment', 'flight-operator-controller', '-n', ns, '--ignore-not-found', '-o', 'name'], { check: false });
        const sa = await kubectl(['get', 'serviceaccount', 'flight-operator-controller', '-n', ns, '--ignore-not-found', '-o', 'name'], { check: false });
        const cluster = await kubectl(['get', 'clusterrole,clusterrolebinding', '-l', `olm.owner=${NEW},olm.owner.namespace=${ns}`, '-o', 'name'], { check: false });
        // The bundle's own objects carry an owner reference to the CSV, the ServiceMonitor and PrometheusRule one
        // to the Deployment: the garbage collector removes them all.
        const monitoring = await kubectl(['get', ...MONITORING_OBJECTS, '-n', ns, '--ignore-not-found', '-o', 'name'], { check: false });
        return !left.stdout.trim() && !dep.stdout.trim() && !sa.stdout.trim() && !cluster.stdout.trim() && !monitoring.stdout.trim();
      },
      { timeoutMs: 120_000, diagnose: () => diagnose(ns) },
    );
    // AND the controllers stop (their pods went), while the CRD, the tickets and the bookings stay
    await waitWithOlm(olm, 'the controller processes to stop', async () => runners[0].running().length === 0, { timeoutMs: 60_000 });
    expect((await kubectl(['get', 'crd', 'flighttickets.flights.com', '-o', 'name'])).stdout.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/flighttickets.flights.com');
    const tickets = (await kubectl(['get', 'ft', '-n', ns, '-o', 'name'])).stdout.trim().split('\n');
    expect(tickets).toHaveLength(TICKETS_PER_NAMESPACE + 1); // and moving (sold-out was booked, then deleted, in its edge)
    expect(await bookingLedger()).toEqual(before);
    done();
  }, 5 * 60_000);
});

afterAll(() => {
  const out = testResultsFile('olm-upgrade.json');
  if (!Object.values(edges).some((e) => e.catalogUpdateToCsvSucceeded_s !== undefined)) return;
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        what: `OLM v0 upgrades of flight-operator ${EDGES.join(', ')} -> ${NEW_VERSION} (the channel head, each in one step from its recorded bundle; OwnNamespace, inline FBC served by opm on the host, controller pods run on the host by test/support/pod-runner.ts; Manual from ${OLD_VERSION})`,
        to: NEW,
        edges,
        ...result,
        ticketsPerNamespace: TICKETS_PER_NAMESPACE,
        machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
        versions: olm?.versions,
        test: 'test/olm/upgrade.test.ts',
      },
      null,
      2,
    )}\n`,
  );
});

const sweeps = (metrics: string) => Number(/^flightticket_orphan_sweeps_total\{result="success"\} (\d+)/m.exec(metrics)?.[1] ?? 0);

/**
 * Waits until the leader of the head has reconciled every ticket and finished its
 * first orphan sweep (it sweeps as soon as it leads: the bookings the old
 * release made must not look orphaned to it), then compares the booking
 * service's ledger (the bookings `keep` selects, when given).
 */
async function assertLedgerUnchangedAfterReconcile(runner: PodRunner, leader: string, before: string[], namespace: string, keep?: (b: { owner: string }) => boolean): Promise<void> {
  await waitWithOlm(
    olm,
    `the new leader ${leader} to reconcile every ticket and finish an orphan sweep`,
    async () => {
      const pod = leaderNow(runner, leader);
      if (pod === undefined) return false;
      const m = await runner.metrics(pod);
      return reconciles(m) >= TICKETS_PER_NAMESPACE && sweeps(m) >= 1;
    },
    { timeoutMs: 60_000, diagnose: () => diagnose(namespace, runner) },
  );
  expect(await bookingLedger(keep)).toEqual(before);
}
