/**
 * The OLM lifecycle after install, on a real OLM (olm-env.ts) with the
 * controller pods actually running (pod-runner.ts runs a bundled controller
 * for each pod kwok schedules, as the pod's ServiceAccount: 0.1.0 pods the
 * controller of CONTROLLER_0_1_0, pods of the channel head (HEAD, the latest
 * release in infra/releases.ts, 0.3.0 now) the current build) against a real
 * booking service. The cluster has prometheus-operator's CRDs (startOlm
 * installs them): the head's bundle ships a ServiceMonitor and a
 * PrometheusRule, which OLM cannot create without them.
 *
 *   1. Automatic approval: catalog with 0.1.0 only -> Subscription -> 0.1.0
 *      Succeeded; tickets booked by 0.1.0; the catalog is updated (opm
 *      restarted with every release up to the head, as a registry pod restart
 *      delivers it) -> OLM upgrades to the head on its own, in one step (the
 *      head's olm.skipRange covers 0.1.0: no InstallPlan for a release in
 *      between).
 *   2. Manual approval: Subscription starting at 0.1.0; every InstallPlan is
 *      approved by the test; the head is not installed before its plan is.
 *   3. Uninstall: Subscription and CSV deleted -> the Deployment, its RBAC
 *      and ServiceAccount, and the head's monitoring objects go; the CRD, the
 *      tickets and their bookings stay.
 *
 * Asserted for each upgrade: no booking created or cancelled (the booking
 * service's full list is the same before and after, the new leader's first
 * orphan sweep included), every ticket reconciled by a controller of the
 * head (its reconcile counter, then a seat change per ticket:
 * observedGeneration, the Booked column, the event's reporting pod), never
 * two controllers leading at once (every process's leader gauge sampled
 * every 100 ms), and the head's ServiceMonitor and PrometheusRule in the
 * namespace. The time from the catalog update (Automatic) or the approval
 * (Manual) to the head's CSV Succeeded goes to .bench/results/olm-upgrade.json (npm test leaves bench/results/ alone).
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
import { startBookings, type BookingEnv, TICKETS } from '../support/operator-env';
import { bundleControllerAt } from '../support/controller-at';
import { startPodRunner, type PodRunner } from '../support/pod-runner';
import { createCatalogSource, getOlmObject, listOlmObjects, startOlm, waitWithOlm, type OlmEnv } from './olm-env';
import { testResultsFile } from '../support/results';

const PACKAGE = 'flight-operator';
const OLD_VERSION = '0.1.0';
const OLD = `flight-operator.v${OLD_VERSION}`;
/** The head of the channel: what an upgrade ends at. */
const NEW_VERSION = LATEST_RELEASE.version;
const NEW = `flight-operator.v${NEW_VERSION}`;
const SELECTOR = 'app.kubernetes.io/name=flight-operator-controller';
const STEP_TIMEOUT_MS = 6 * 60_000; // OLM's own install check gives up after 5 min
const TICKETS_PER_NAMESPACE = 3;
/**
 * The controller users ran as 0.1.0: the tree before release 0.2.0 and the
 * controller changes of issue 9 (the last commit before this work). 0.1.0
 * pods run it, pods of the head the current build, so the upgrade hands the
 * bookings from one controller build to another.
 */
const CONTROLLER_0_1_0 = '64f373cb6603cb8863ff3273dfd6d82ebf5a6577';

type Obj = Record<string, any>;

const auto = useNamespace('olm-upgrade-auto');
const manual = useNamespace('olm-upgrade-manual');
let olm: OlmEnv;
let bookings: BookingEnv;
let work: string;
let bundle: string;
let bundle010: string;
let catalogName: string;
const runners: PodRunner[] = [];
const result: Record<string, unknown> = {};

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

/** The head ships (MONITORING_SINCE on) a ServiceMonitor, a PrometheusRule and the dashboard ConfigMap: after the upgrade they are in the namespace. */
async function assertMonitoringObjects(namespace: string): Promise<void> {
  if (!versionAtLeast(NEW_VERSION, MONITORING_SINCE)) return;
  const names = (await kubectl(['get', ...MONITORING_OBJECTS, '-n', namespace, '-o', 'name'])).stdout.trim().split('\n').sort();
  expect(names).toEqual(MONITORING_OBJECTS);
}

/** Every booking the service holds, as what a user would notice: id, owner, seats, state, version. */
async function bookingLedger(): Promise<string[]> {
  return (await bookings.client.listBookings({})).map((b) => `${b.id} owner=${b.owner} ${b.from}->${b.to} seats=${b.seats} ${b.state} v${b.version}`).sort();
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
function upgradeTimeline(namespace: string, csv: string, runner: PodRunner, t0: number): { stop: () => Promise<Record<string, number>> } {
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
      if (runner.processes.some((p) => p.version === NEW_VERSION) && runner.processes.every((p) => p.version !== OLD_VERSION || p.stoppedAt !== undefined)) at('oldPodsStopped');
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
      const items = ((await api.listNamespacedCustomObject({ ...TICKETS, namespace })) as { items: Obj[] }).items;
      return items.every((t) => t.status?.observedGeneration === t.metadata.generation && t.status?.seats === t.spec.number && t.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True'));
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
  for (const row of table.slice(1)) {
    const cols = row.split(/\s+/);
    expect(cols[4]).toBe(cols[3]);
  }
}

beforeAll(async () => {
  // A real upgrade: the head is a later release than 0.1.0, reachable from it in one step (olm.skipRange).
  expect(RELEASES[0].version).toBe(OLD_VERSION);
  expect(RELEASES.length).toBeGreaterThan(1);
  expect(LATEST_RELEASE.skipRange).toMatch(new RegExp(`^>=${OLD_VERSION.replace(/\./g, '\\.')} <${NEW_VERSION.replace(/\./g, '\\.')}$`));
  work = mkdtempSync(path.join(os.tmpdir(), 'olm-upgrade-'));
  bookings = await startBookings();
  bundle = path.join(work, 'controller.js');
  writeFileSync(bundle, (await bundleController()).js);
  bundle010 = await bundleControllerAt(CONTROLLER_0_1_0, path.join(work, 'controller-0.1.0.js'));
  // The catalog as it was before 0.2.0: generated by the same constructs at version 0.1.0.
  const before = writeCatalog(OLD_VERSION);
  olm = await startOlm({ catalogDir: before });
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
      for (const ns of [auto.name, manual.name]) {
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

describe(`upgrading flight-operator ${OLD_VERSION} -> ${NEW_VERSION} (the channel head) through OLM`, () => {
  test(`Automatic: Subscription -> ${OLD_VERSION} Succeeded, tickets booked by ${OLD_VERSION}; catalog update -> ${NEW_VERSION} Succeeded in one step without touching a booking, one leader at a time`, async () => {
    const runner = await startPodRunner({ namespace: auto.name, selector: SELECTOR, bundle, bundleFor: { [OLD_VERSION]: bundle010 } });
    runners.push(runner);
    // GIVEN 0.1.0 installed through an Automatic Subscription, its pods running, and tickets it booked
    const t0 = await installSubscription(auto.name, 'Automatic');
    await waitCsvSucceeded(auto.name, OLD, runner);
    result.subscriptionToCsvSucceeded_0_1_0_s = (Date.now() - t0) / 1000;
    await waitForControllers(runner, auto.name, OLD_VERSION);
    await bookTickets(auto.name);
    const ledger = await bookingLedger();
    expect(ledger).toHaveLength(TICKETS_PER_NAMESPACE);

    // WHEN the catalog is updated to one that has every release up to the head
    const t1 = Date.now();
    const timeline = upgradeTimeline(auto.name, NEW, runner, t1);
    await olm.updateCatalog(writeCatalog(NEW_VERSION));
    // THEN OLM installs the head on its own, replacing 0.1.0
    await waitCsvSucceeded(auto.name, NEW, runner);
    const seconds = (Date.now() - t1) / 1000;
    result.catalogUpdateToCsvSucceeded_s = seconds;
    const leader = await waitForControllers(runner, auto.name, NEW_VERSION);
    result.automaticMilestonesSeconds = await timeline.stop();
    result.automaticLongestLeaderlessMs = longestLeaderlessMs(runner);
    process.stderr.write(
      `\nOLM upgrade (Automatic): catalog update -> CSV ${NEW_VERSION} Succeeded in ${seconds}s; milestones (s): ${JSON.stringify(result.automaticMilestonesSeconds)}; longest time without a leader ${result.automaticLongestLeaderlessMs} ms\n`,
    );
    await waitWithOlm(olm, `CSV ${OLD} removed after the upgrade`, async () => (await csvPhase(auto.name, OLD)) === undefined, { timeoutMs: 120_000 });
    const sub = await getCustom('subscriptions', auto.name, PACKAGE);
    expect(sub?.status).toMatchObject({ installedCSV: NEW, currentCSV: NEW, state: 'AtLatestKnown' });
    // In one step: the plans installed 0.1.0, then the head, and no release in between
    expect(await installedByPlans(auto.name)).toEqual([OLD, NEW]);
    // No booking created or cancelled by the upgrade, once the head has looked at every ticket
    await assertLedgerUnchangedAfterReconcile(runner, leader, ledger, auto.name);
    // Never two leaders at once, while both versions ran
    expect(runner.maxConcurrentLeaders()).toBe(1);
    result.automaticLeaderSamples = runner.samples.length;
    await assertReconciledByNew(auto.name, runner, leader);
    await assertMonitoringObjects(auto.name);
    done();
  }, 3 * STEP_TIMEOUT_MS);

  test(`Manual: nothing is installed or upgraded before its InstallPlan is approved; approving the ${NEW_VERSION} plan upgrades without touching a booking`, async () => {
    const runner = await startPodRunner({ namespace: manual.name, selector: SELECTOR, bundle, bundleFor: { [OLD_VERSION]: bundle010 } });
    runners.push(runner);
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
        // The bundle's own objects carry an owner reference to the CSV: the garbage collector removes them.
        const monitoring = await kubectl(['get', ...MONITORING_OBJECTS, '-n', ns, '--ignore-not-found', '-o', 'name'], { check: false });
        return !left.stdout.trim() && !dep.stdout.trim() && !sa.stdout.trim() && !cluster.stdout.trim() && !monitoring.stdout.trim();
      },
      { timeoutMs: 120_000, diagnose: () => diagnose(ns) },
    );
    // AND the controllers stop (their pods went), while the CRD, the tickets and the bookings stay
    await waitWithOlm(olm, 'the controller processes to stop', async () => runners[0].running().length === 0, { timeoutMs: 60_000 });
    expect((await kubectl(['get', 'crd', 'flighttickets.flights.com', '-o', 'name'])).stdout.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/flighttickets.flights.com');
    const tickets = (await kubectl(['get', 'ft', '-n', ns, '-o', 'name'])).stdout.trim().split('\n');
    expect(tickets).toHaveLength(TICKETS_PER_NAMESPACE);
    expect(await bookingLedger()).toEqual(before);
    done();
  }, 5 * 60_000);
});

afterAll(() => {
  const out = testResultsFile('olm-upgrade.json');
  if (result.catalogUpdateToCsvSucceeded_s === undefined) return;
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        what: `OLM v0 upgrade of flight-operator ${OLD_VERSION} -> ${NEW_VERSION} (the channel head, in one step; OwnNamespace, inline FBC served by opm on the host, controller pods run on the host by test/support/pod-runner.ts)`,
        from: OLD,
        to: NEW,
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
 * first orphan sweep (it sweeps as soon as it leads: the bookings 0.1.0 made
 * must not look orphaned to it), then compares the booking service's ledger.
 */
async function assertLedgerUnchangedAfterReconcile(runner: PodRunner, leader: string, before: string[], namespace: string): Promise<void> {
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
  expect(await bookingLedger()).toEqual(before);
}
