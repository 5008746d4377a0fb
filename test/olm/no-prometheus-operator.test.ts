/**
 * The operator through OLM on a cluster WITHOUT prometheus-operator's CRDs
 * (monitoring.coreos.com), on a control plane and an OLM of its own (CRDs
 * are cluster-wide, and the shared test cluster has them). The committed
 * catalog (olm-bundle/catalog, every release), with the controller pods run
 * by pod-runner as the pod's ServiceAccount (the RBAC OLM made from the CSV).
 *
 *   1. 0.2.0 installed from a catalog that ends there; the catalog updated
 *      to the committed one (opm restarted, as a registry pod restart
 *      delivers it): an Automatic upgrade goes to the head, past 0.3.0, and
 *      succeeds.
 *   2. 0.3.0, which shipped the ServiceMonitor and PrometheusRule as bundle
 *      objects, still fails its InstallPlan there (what OLM says, word for word).
 *   3. Its recovery: delete the failed plan, the Subscription and the CSV,
 *      subscribe to the channel: the head installs, no CRDs needed.
 *   4. prometheus-operator's CRDs installed afterwards: the controllers
 *      create the ServiceMonitor and PrometheusRule in both namespaces,
 *      owned by their Deployment, with no reinstall and no pod restarted.
 *   5. Uninstall (Subscription and CSV deleted): they are gone.
 *
 * Timings go to .bench/results/olm-no-prometheus-operator.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { REPO_ROOT } from '../../infra/validate/operator-framework';
import os from 'node:os';
import path from 'node:path';
import { generateBundle } from '../../infra/bundle/generate';
import { defaultSettings } from '../../infra/defaults';
import { LATEST_RELEASE, OPTIONAL_MONITORING_SINCE, versionAtLeast } from '../../infra/releases';
import { bundleController } from '../../image/controller-image';
import { startCluster, type Cluster } from '../../testenv/cluster';
import { kubectl } from '../../testenv/kube';
import { installMonitoringCrds } from '../monitoring/tools';
import { startPodRunner, type PodRunner } from '../support/pod-runner';
import { testResultsFile } from '../support/results';
import { catalogBundleObjects, createCatalogSource, getOlmObject as getCustom, listOlmObjects, startOlm, waitSubscriptionAt, waitWithOlm, type OlmEnv } from './olm-env';

const PACKAGE = 'flight-operator';
const STATUS_TIMEOUT_MS = 4 * 60_000;
const SELECTOR = 'app.kubernetes.io/name=flight-operator-controller';
const HEAD = `flight-operator.v${LATEST_RELEASE.version}`;
const V030 = 'flight-operator.v0.3.0';
const V020 = 'flight-operator.v0.2.0';
const MONITORING = ['prometheusrule.monitoring.coreos.com/flight-operator-controller', 'servicemonitor.monitoring.coreos.com/flight-operator-controller'];
/** Seconds between the controller's checks for the monitoring kinds, set through the Subscription (default 60). */
const RECHECK_SECONDS = 5;
type Obj = Record<string, any>;

/** What OLM v0.46 says, word for word, when the cluster does not serve the bundle's ServiceMonitor. */
const MISSING_SERVICE_MONITOR =
  'api-server resource not found installing ServiceMonitor flight-operator-controller: GroupVersionKind monitoring.coreos.com/v1, Kind=ServiceMonitor not found on the cluster. ' +
  'This API may have been deprecated and removed, see https://kubernetes.io/docs/reference/using-api/deprecation-guide/ for more information.';

const fresh = 'flight-operator-system';
const upgraded = 'flight-operator-upgraded';
let cluster: Cluster | undefined;
let olm: OlmEnv;
let sharedKubeconfig: string | undefined;
let work: string;
let bundle: string;
let failedPlan: string | undefined;
const runners = new Map<string, PodRunner>();
const result: Record<string, number | string> = {};

async function planDiagnosis(namespace: string): Promise<string> {
  const out: string[] = [];
  for (const ip of await listOlmObjects('installplans', namespace)) {
    out.push(`InstallPlan ${ip.metadata.name} generation=${ip.spec.generation} ${ip.spec.clusterServiceVersionNames} phase=${ip.status?.phase} message=${ip.status?.message ?? ''}`);
  }
  const sub = await getCustom('subscriptions', namespace, PACKAGE);
  out.push(`Subscription: ${JSON.stringify({ state: sub?.status?.state, installPlanRef: sub?.status?.installPlanRef?.name, conditions: sub?.status?.conditions })}`);
  for (const c of await listOlmObjects('clusterserviceversions', namespace)) out.push(`CSV ${c.metadata.name}: ${c.status?.phase} ${c.status?.reason} ${c.status?.message}`);
  const runner = runners.get(namespace);
  if (runner) out.push(runner.logs(15));
  return out.join('\n');
}

async function subscribe(namespace: string, startingCSV?: string): Promise<number> {
  const t0 = Date.now();
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'Subscription',
      metadata: { name: PACKAGE, namespace },
      spec: {
        name: PACKAGE,
        channel: 'stable',
        source: 'flight-operator',
        sourceNamespace: olm.namespace,
        installPlanApproval: 'Automatic',
        ...(startingCSV ? { startingCSV } : {}),
        config: { env: [{ name: 'OPTIONAL_OBJECTS_INTERVAL_SECONDS', value: String(RECHECK_SECONDS) }] },
      },
    }),
  });
  return t0;
}

async function operatorGroup(namespace: string): Promise<void> {
  await kubectl(['create', 'namespace', namespace]);
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: PACKAGE, namespace }, spec: { targetNamespaces: [namespace] } }),
  });
  runners.set(namespace, await startPodRunner({ namespace, selector: SELECTOR, bundle }));
}

async function csvSucceeded(namespace: string, name: string): Promise<Obj> {
  return waitWithOlm(
    olm,
    `CSV ${namespace}/${name} Succeeded`,
    async () => {
      const c = await getCustom('clusterserviceversions', namespace, name);
      if (c?.status?.phase === 'Failed') throw new Error(`CSV ${name} Failed: ${c.status.reason}: ${c.status.message}`);
      return c?.status?.phase === 'Succeeded' ? c : undefined;
    },
    { timeoutMs: STATUS_TIMEOUT_MS, diagnose: () => planDiagnosis(namespace) },
  );
}

/**
 * The InstallPlan that installs csvName is Complete. A CSV can succeed before its plan has
 * applied every step (a step that failed once under load is retried): what the plan owns is
 * only settled when the plan is.
 */
async function planComplete(namespace: string, csvName: string): Promise<void> {
  await waitWithOlm(
    olm,
    `InstallPlan for ${namespace}/${csvName} Complete`,
    async () => (await listOlmObjects('installplans', namespace)).some((ip) => ip.spec.clusterServiceVersionNames.includes(csvName) && ip.status?.phase === 'Complete'),
    { timeoutMs: STATUS_TIMEOUT_MS, diagnose: () => planDiagnosis(namespace) },
  );
}

/** The head's controller runs (a leader among processes of its version) and, with no monitoring API, has said it waits. */
async function headControllerWaiting(namespace: string): Promise<void> {
  const runner = runners.get(namespace)!;
  await waitWithOlm(
    olm,
    `a ${LATEST_RELEASE.version} controller in ${namespace} saying the cluster does not serve the ServiceMonitor kind`,
    async () => runner.running().some((p) => p.version === LATEST_RELEASE.version && /optional object waits: the cluster does not serve its kind.*ServiceMonitor/.test(p.child.tail(400))),
    { timeoutMs: 120_000, diagnose: () => planDiagnosis(namespace) },
  );
}

/** The controller Deployment's ReplicaSets, newest revision first. */
async function replicaSets(namespace: string): Promise<Obj[]> {
  const list = JSON.parse((await kubectl(['get', 'replicasets', '-n', namespace, '-l', SELECTOR, '-o', 'json'])).stdout).items as Obj[];
  const revision = (rs: Obj) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  return list.sort((a, b) => revision(b) - revision(a));
}

/**
 * The controller Deployment has rolled out: the Deployment controller has seen its last change and
 * every pod the runner runs is of its newest ReplicaSet (OLM can update a Deployment it created
 * once more after the CSV succeeded, and that rollout must not be taken for one the test caused).
 */
async function rolledOut(namespace: string): Promise<void> {
  await waitWithOlm(
    olm,
    `the controller Deployment in ${namespace} rolled out`,
    async () => {
      const d = JSON.parse((await kubectl(['get', 'deployment', 'flight-operator-controller', '-n', namespace, '-o', 'json'])).stdout) as Obj;
      if (d.status?.observedGeneration !== d.metadata.generation || d.status?.updatedReplicas !== d.spec.replicas || d.status?.replicas !== d.spec.replicas) return false;
      const hash = (await replicaSets(namespace))[0]?.metadata.labels?.['pod-template-hash'];
      const pods = runners.get(namespace)!.running().map((p) => p.pod);
      return pods.length === d.spec.replicas && pods.every((pod) => pod.startsWith(`flight-operator-controller-${hash}-`));
    },
    { timeoutMs: 120_000, diagnose: () => planDiagnosis(namespace) },
  );
}

/** What differs between the pod templates of the two newest ReplicaSets (why the Deployment rolled). */
async function lastTemplateChange(namespace: string): Promise<string> {
  const [now, before] = await replicaSets(namespace);
  if (!now || !before) return `ReplicaSets in ${namespace}: ${now ? 1 : 0}`;
  const flat = (o: unknown, at = '', out: Record<string, string> = {}) => {
    if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) flat(v, `${at}.${k}`, out);
    else out[at] = JSON.stringify(o);
    return out;
  };
  const [a, b] = [flat(before.spec.template), flat(now.spec.template)];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k] && !k.includes('pod-template-hash'));
  return `${before.metadata.name} (${before.metadata.creationTimestamp}) -> ${now.metadata.name} (${now.metadata.creationTimestamp}): ${keys.map((k) => `${k}: ${a[k]} -> ${b[k]}`).join('; ')}`;
}

const monitoringIn = async (namespace: string) => (await kubectl(['get', 'servicemonitor,prometheusrule', '-n', namespace, '-o', 'name'], { check: false })).stdout.trim().split('\n').filter(Boolean).sort();

beforeAll(async () => {
  expect(versionAtLeast(LATEST_RELEASE.version, OPTIONAL_MONITORING_SINCE)).toBe(true);
  work = mkdtempSync(path.join(os.tmpdir(), 'olm-no-prom-'));
  bundle = path.join(work, 'controller.js');
  writeFileSync(bundle, (await bundleController()).js);
  const t0 = Date.now();
  cluster = await startCluster({ log: (m) => process.stderr.write(`no-monitoring-crds cluster: ${m}\n`) });
  // testenv/kube and olm-env read FLIGHT_KUBECONFIG at each call: everything in this file goes to the new cluster.
  sharedKubeconfig = process.env.FLIGHT_KUBECONFIG;
  process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
  // The catalog as it was at 0.2.0: generated by the same constructs at that version.
  const before = path.join(work, 'catalog-0.2.0');
  mkdirSync(path.join(before, PACKAGE), { recursive: true });
  writeFileSync(path.join(before, PACKAGE, 'catalog.yaml'), generateBundle(defaultSettings({ version: '0.2.0' })).get(`catalog/${PACKAGE}/catalog.yaml`)!);
  olm = await startOlm({ monitoringCrds: false, catalogDir: before });
  await createCatalogSource(olm, 'flight-operator', { displayName: 'Flight Operator (no monitoring CRDs)' });
  result.clusterAndOlmStart_s = (Date.now() - t0) / 1000;
  await operatorGroup(fresh);
  await operatorGroup(upgraded);
}, 45 * 60_000);

afterAll(async () => {
  try {
    for (const r of runners.values()) await r.stop().catch(() => undefined);
    await olm?.stop();
    await cluster?.stop();
  } finally {
    if (cluster) process.env.FLIGHT_KUBECONFIG = sharedKubeconfig;
    if (work) rmSync(work, { recursive: true, force: true });
  }
  if (result.headInstall_s === undefined) return;
  const out = testResultsFile('olm-no-prometheus-operator.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), what: 'flight-operator through OLM on a cluster without monitoring.coreos.com', head: HEAD, ...result, machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) }, versions: olm?.versions, test: 'test/olm/no-prometheus-operator.test.ts' }, null, 2)}\n`,
  );
}, 180_000);

describe('a cluster without the prometheus-operator CRDs (monitoring.coreos.com)', () => {
  test(`an Automatic upgrade from 0.2.0, once the catalog offers the head, goes to ${HEAD} (past 0.3.0) and succeeds`, async () => {
    // GIVEN 0.2.0 installed while the catalog ended there
    await subscribe(upgraded);
    await csvSucceeded(upgraded, V020);
    await planComplete(upgraded, V020);
    // WHEN the catalog is updated to the committed one (every release up to the head)
    const t1 = Date.now();
    await olm.updateCatalog(path.join(REPO_ROOT, 'olm-bundle', 'catalog'));
    // THEN OLM upgrades on its own to the head, in one step, and the head succeeds
    await csvSucceeded(upgraded, HEAD);
    result.catalogUpdateToHeadSucceeded_s = (Date.now() - t1) / 1000;
    const plans = (await listOlmObjects('installplans', upgraded)).sort((x, y) => String(x.metadata.creationTimestamp).localeCompare(String(y.metadata.creationTimestamp)));
    expect(plans.map((ip) => ip.spec.clusterServiceVersionNames)).toEqual([[V020], [HEAD]]);
    await waitSubscriptionAt(olm, upgraded, PACKAGE, HEAD);
    // AND what both bundles ship is still there, now the head's, once the head's plan is done
    // (CI once read the Service right after the CSV succeeded and found 0.2.0 still its owner)
    await planComplete(upgraded, HEAD);
    const objects = ['configmap/flight-operator-controller-config', 'service/flight-operator-controller-metrics', 'poddisruptionbudget/flight-operator-controller', 'networkpolicy/flight-operator-controller'];
    const owners = async () => {
      const out: Array<{ o: string; owners: string[] }> = [];
      for (const o of objects) {
        const obj = JSON.parse((await kubectl(['get', o, '-n', upgraded, '-o', 'json'])).stdout) as Obj;
        out.push({ o, owners: obj.metadata.ownerReferences.map((r: Obj) => r.name) });
      }
      return out;
    };
    const want = objects.map((o) => ({ o, owners: [HEAD] }));
    // (the wait is the assertion: it fails with the owners it last saw)
    await waitWithOlm(olm, `the bundle objects in ${upgraded} owned by ${HEAD} alone`, async () => JSON.stringify(await owners()) === JSON.stringify(want), {
      timeoutMs: 60_000,
      diagnose: async () => `owners now: ${JSON.stringify(await owners())}\n${await planDiagnosis(upgraded)}`,
    });
    await headControllerWaiting(upgraded);
  }, 2 * STATUS_TIMEOUT_MS + 120_000);

  test('0.3.0 (ServiceMonitor and PrometheusRule as bundle objects): its InstallPlan fails naming the missing kind, the CSV stays Pending, no Deployment', async () => {
    // GIVEN no monitoring.coreos.com API in the cluster
    expect((await kubectl(['api-resources', '--api-group=monitoring.coreos.com', '-o', 'name'])).stdout.trim()).toBe('');
    // WHEN a user subscribes starting at 0.3.0
    const t0 = await subscribe(fresh, V030);
    // THEN OLM retries the plan for --install-plan-retry-timeout (1 min by default), then fails it
    const failed = await waitWithOlm(
      olm,
      'the 0.3.0 InstallPlan to fail',
      async () => (await listOlmObjects('installplans', fresh)).find((ip) => ip.status?.phase === 'Failed'),
      { timeoutMs: STATUS_TIMEOUT_MS, diagnose: () => planDiagnosis(fresh) },
    );
    result.v030PlanFailed_s = (Date.now() - t0) / 1000;
    const installed = (failed.status.conditions as Obj[]).find((c) => c.type === 'Installed');
    expect(failed.spec.clusterServiceVersionNames).toEqual([V030]);
    expect(installed).toMatchObject({ status: 'False', reason: 'InstallComponentFailed', message: MISSING_SERVICE_MONITOR });
    const csv = await getCustom('clusterserviceversions', fresh, V030);
    expect({ phase: csv?.status?.phase, reason: csv?.status?.reason }).toEqual({ phase: 'Pending', reason: 'RequirementsNotMet' });
    expect((await kubectl(['get', 'deployment', '-n', fresh, '-o', 'name'])).stdout.trim()).toBe('');
    failedPlan = failed.metadata.name;
  }, STATUS_TIMEOUT_MS + 30_000);

  test(`recovery without the CRDs: delete the failed InstallPlan, the Subscription and the CSV, subscribe to the channel -> ${HEAD} Succeeded, its controller running`, async () => {
    expect(failedPlan).toBeDefined();
    // Plan first: the catalog operator may reuse a cached plan of the same generation for the new Subscription otherwise.
    await kubectl(['delete', 'installplan', failedPlan!, '-n', fresh, '--ignore-not-found', '--timeout=60s'], { timeoutMs: 70_000 });
    await kubectl(['delete', 'subscription', PACKAGE, '-n', fresh]);
    await kubectl(['delete', 'csv', V030, '-n', fresh, '--timeout=60s'], { timeoutMs: 70_000 });
    // WHEN subscribing to the channel (its head)
    const t0 = await subscribe(fresh);
    // THEN the head installs although the cluster still has no monitoring API
    const csv = await csvSucceeded(fresh, HEAD);
    result.headInstall_s = (Date.now() - t0) / 1000;
    expect(csv.status.reason).toBe('InstallSucceeded');
    // AND it carries the monitoring objects as data, which its controller reads and waits with
    const shipped = catalogBundleObjects(olm.catalogDir, PACKAGE).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'flight-operator-controller-optional-objects');
    const cm = JSON.parse((await kubectl(['get', 'configmap', 'flight-operator-controller-optional-objects', '-n', fresh, '-o', 'json'])).stdout) as Obj;
    expect(cm.data).toEqual(shipped!.data);
    await headControllerWaiting(fresh);
    expect(await monitoringIn(fresh)).toEqual([]);
  }, STATUS_TIMEOUT_MS + 180_000);

  test('prometheus-operator\'s CRDs installed later: the ServiceMonitor and PrometheusRule appear, owned by the Deployment, without a reinstall or a pod restart', async () => {
    for (const ns of [fresh, upgraded]) {
      await rolledOut(ns);
      process.stderr.write(`no-prometheus-operator: ${ns} rolled out; its last template change: ${await lastTemplateChange(ns)}\n`);
    }
    const podsBefore = new Map([fresh, upgraded].map((ns) => [ns, runners.get(ns)!.running().map((p) => p.pod).sort()]));
    const t = Date.now();
    await installMonitoringCrds();
    result.crdsInstalledAndEstablished_s = (Date.now() - t) / 1000;
    // From the CRDs Established: what the controllers' recheck (every RECHECK_SECONDS here) adds.
    const t0 = Date.now();
    // When the API server's discovery answers for the group, which is what the controllers read (figures only).
    void (async () => {
      while (Date.now() - t0 < 120_000 && (await kubectl(['get', '--raw', '/apis/monitoring.coreos.com/v1'], { check: false })).code !== 0) await new Promise((r) => setTimeout(r, 500));
      result.discoveryServedAfterEstablished_s = (Date.now() - t0) / 1000;
    })();
    for (const ns of [fresh, upgraded]) {
      await waitWithOlm(olm, `the ServiceMonitor and PrometheusRule in ${ns}`, async () => (await monitoringIn(ns)).length === 2, {
        timeoutMs: 60_000 + 3 * RECHECK_SECONDS * 1000,
        diagnose: () => planDiagnosis(ns),
      });
      result[`crdsToObjects_${ns}_s`] = (Date.now() - t0) / 1000;
      expect(await monitoringIn(ns)).toEqual(MONITORING);
      const deployment = JSON.parse((await kubectl(['get', 'deployment', 'flight-operator-controller', '-n', ns, '-o', 'json'])).stdout) as Obj;
      const cm = JSON.parse((await kubectl(['get', 'configmap', 'flight-operator-controller-optional-objects', '-n', ns, '-o', 'json'])).stdout) as Obj;
      for (const name of MONITORING) {
        const o = JSON.parse((await kubectl(['get', name, '-n', ns, '-o', 'json'])).stdout) as Obj;
        expect(o.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'flight-operator-controller', uid: deployment.metadata.uid }]);
        // The spec the bundle carries, as data
        const shipped = JSON.parse(cm.data[`${o.kind.toLowerCase()}-flight-operator-controller.json`]);
        expect(o.spec).toEqual(shipped.spec);
      }
      // No reinstall: the same CSV, still Succeeded, the same pods
      expect((await getCustom('clusterserviceversions', ns, HEAD))?.status?.phase).toBe('Succeeded');
      const podsNow = runners.get(ns)!.running().map((p) => p.pod).sort();
      if (JSON.stringify(podsNow) !== JSON.stringify(podsBefore.get(ns))) process.stderr.write(`no-prometheus-operator: the pods in ${ns} changed; ${await lastTemplateChange(ns)}\n`);
      expect(podsNow).toEqual(podsBefore.get(ns));
    }
  }, 5 * 60_000);

  test('uninstall (Subscription and CSV deleted): the ServiceMonitor and PrometheusRule go with the Deployment', async () => {
    const t0 = Date.now();
    await kubectl(['delete', 'subscription', PACKAGE, '-n', upgraded]);
    await kubectl(['delete', 'csv', HEAD, '-n', upgraded, '--timeout=120s'], { timeoutMs: 130_000 });
    await waitWithOlm(
      olm,
      'the Deployment and the monitoring objects to be gone',
      async () => (await kubectl(['get', 'deployment', '-n', upgraded, '-o', 'name'])).stdout.trim() === '' && (await monitoringIn(upgraded)).length === 0,
      { timeoutMs: 120_000, diagnose: () => planDiagnosis(upgraded) },
    );
    result.uninstallToObjectsGone_s = (Date.now() - t0) / 1000;
    // The other installation keeps its own
    expect(await monitoringIn(fresh)).toEqual(MONITORING);
    process.stderr.write(`\nno prometheus-operator: ${JSON.stringify(result)}\n`);
  }, 4 * 60_000);
});
