/**
 * "Installable through an OLM Subscription", with a real OLM (v0.46.0 olm and
 * catalog operators, built from upstream by tools/olm) and a real catalog
 * server (opm serve olm-bundle/catalog), on the test control plane:
 *
 *   CatalogSource (grpc, spec.address = opm serve on the host) -> READY
 *   OperatorGroup (OwnNamespace) + Subscription (flight-operator, stable, Automatic)
 *   -> InstallPlan Complete -> CSV flight-operator.v<latest release> Succeeded
 *
 * and then what OLM made of our bundle: the CRD, the Deployment (with
 * olm.targetNamespaces), the ServiceAccount and RBAC from the CSV, the
 * Service, PodDisruptionBudget, NetworkPolicy and ConfigMap shipped in
 * manifests/, and (from 0.4.0) the optional-objects ConfigMap (ServiceMonitor and PrometheusRule as data) and
 * dashboard ConfigMap. The cluster has prometheus-operator's CRDs (startOlm
 * installs them, as a cluster running prometheus-operator has them). kwok makes
 * the controller pods Ready without running them, so nothing here books
 * anything. The time from Subscription to CSV Succeeded is printed and
 * written to .bench/results/olm-install.json (npm test leaves bench/results/ alone).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LATEST_RELEASE } from '../../infra/releases';
import { k8s, kubectl, loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { CATALOG_LABEL, catalogBundleObjects, getOlmObject, listOlmObjects, startOlm, waitSubscriptionAt, waitWithOlm, type OlmEnv } from './olm-env';
import { testResultsFile } from '../support/results';

const PACKAGE = 'flight-operator';
const CHANNEL = 'stable';
// The Subscription names no startingCSV, so OLM installs the head of the channel: the latest release.
const CSV_NAME = `flight-operator.v${LATEST_RELEASE.version}`;
const DEPLOYMENT = 'flight-operator-controller';
const SERVICE_ACCOUNT = 'flight-operator-controller';
const CRD = 'flighttickets.flights.com';
const INSTALL_TIMEOUT_MS = 6 * 60_000; // OLM's own install check gives up after 5 min

type Obj = Record<string, any>;

/** The CSV as the served catalog carries it (read in beforeAll): what OLM must turn into objects. */
let bundleCsv: Obj;

const ns = useNamespace('olm-install');
let olm: OlmEnv;
let custom: k8s.CustomObjectsApi;
let catalogName: string;
const timeline: Record<string, number> = {};


const getCustom = getOlmObject;
const listCustom = listOlmObjects;

/** What a person debugging a stuck install looks at first. */
async function diagnose(): Promise<string> {
  const out: string[] = [];
  const csv = await getCustom('clusterserviceversions', ns.name, CSV_NAME).catch(() => undefined);
  if (csv) {
    out.push(`CSV ${CSV_NAME}: phase=${csv.status?.phase} reason=${csv.status?.reason} message=${csv.status?.message}`);
    for (const c of (csv.status?.conditions ?? []).slice(-6)) out.push(`  condition ${c.phase}/${c.reason}: ${c.message}`);
    for (const r of csv.status?.requirementStatus ?? []) {
      if (r.status !== 'Present') out.push(`  requirement ${r.kind} ${r.name}: ${r.status} ${r.message ?? ''} ${JSON.stringify(r.dependents ?? [])}`);
    }
  } else out.push(`CSV ${CSV_NAME}: not created`);
  const sub = await getCustom('subscriptions', ns.name, PACKAGE).catch(() => undefined);
  out.push(`Subscription: state=${sub?.status?.state} installPlanRef=${sub?.status?.installPlanRef?.name} conditions=${JSON.stringify(sub?.status?.conditions ?? [])}`);
  for (const ip of await listCustom('installplans', ns.name).catch(() => [])) {
    out.push(`InstallPlan ${ip.metadata.name}: phase=${ip.status?.phase} conditions=${JSON.stringify(ip.status?.conditions ?? [])}`);
    for (const s of ip.status?.plan ?? []) if (s.status !== 'Created' && s.status !== 'Present') out.push(`  step ${s.resource.kind} ${s.resource.name}: ${s.status}`);
  }
  const cat = olm ? await getCustom('catalogsources', olm.namespace, catalogName).catch(() => undefined) : undefined;
  out.push(`CatalogSource: ${JSON.stringify(cat?.status?.connectionState ?? null)}`);
  const dep = await kubectl(['get', 'deployment', DEPLOYMENT, '-n', ns.name, '-o', 'jsonpath={.status}'], { check: false });
  out.push(`Deployment status: ${dep.stdout || dep.stderr.trim()}`);
  const pods = await kubectl(['get', 'pods', '-n', ns.name, '-o', 'wide'], { check: false });
  out.push(pods.stdout.trim() || pods.stderr.trim());
  const node = await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} Ready={.status.conditions[?(@.type=="Ready")].status} taints={.spec.taints}{"\\n"}{end}'], {
    check: false,
  });
  out.push(`Nodes: ${node.stdout.trim()}`);
  return out.join('\n');
}

beforeAll(async () => {
  custom = loadKubeConfig().makeApiClient(k8s.CustomObjectsApi);
  // Cold builds of tools/olm and tools/opm take minutes each.
  olm = await startOlm();
  catalogName = `flight-operator-${ns.name}`;
  const csv = catalogBundleObjects(olm.catalogDir, PACKAGE).find((o) => o.kind === 'ClusterServiceVersion');
  if (csv?.metadata?.name !== CSV_NAME) throw new Error(`the channel head of ${PACKAGE} in ${olm.sourceCatalogDir} is ${csv?.metadata?.name}, expected ${CSV_NAME}`);
  bundleCsv = csv;
}, 45 * 60_000);

// Logs are kept (and their folder printed) unless every test got to its end.
let started = 0;
let finished = 0;
beforeEach(() => void started++);
const done = () => void finished++;

afterAll(async () => {
  if (!olm) return;
  try {
    // Uninstall while OLM still runs: the CSV carries OLM's finalizer, which deletes the cluster-scoped
    // RBAC it made (labelled olm.owner*); without OLM the CSV, and so the namespace, would never go away.
    await kubectl(['delete', 'subscription', PACKAGE, '-n', ns.name, '--ignore-not-found', '--wait=false'], { check: false });
    await kubectl(['delete', 'csv', CSV_NAME, '-n', ns.name, '--ignore-not-found', '--timeout=60s'], { check: false, timeoutMs: 70_000 });
    await kubectl(['delete', 'catalogsource', catalogName, '-n', olm.namespace, '--ignore-not-found', '--wait=false'], { check: false });
    const owned = `olm.owner=${CSV_NAME},olm.owner.namespace=${ns.name}`;
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', owned, '--ignore-not-found'], { check: false });
  } finally {
    await olm.stop({ keepLogs: finished < started });
  }
}, 120_000);

describe('installing flight-operator through an OLM Subscription', () => {
  test('the CatalogSource (grpc, address of opm serve on the host) becomes READY', async () => {
    // GIVEN opm serving olm-bundle/catalog, WHEN a grpc CatalogSource points at it (no image: no registry pod)
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'CatalogSource',
        metadata: { name: catalogName, namespace: olm.namespace, labels: { [CATALOG_LABEL]: 'true' } },
        spec: { sourceType: 'grpc', address: olm.catalogAddress, displayName: 'Flight Operator (test)', publisher: 'flight-operator tests' },
      }),
    });
    // THEN the catalog operator connects to it
    const cat = await waitWithOlm(
      olm,
      `CatalogSource ${olm.namespace}/${catalogName} READY`,
      async () => {
        const c = await getCustom('catalogsources', olm.namespace, catalogName);
        return c?.status?.connectionState?.lastObservedState === 'READY' ? c : undefined;
      },
      { timeoutMs: 120_000, diagnose },
    );
    expect(cat.status.connectionState.address).toBe(olm.catalogAddress);
    done();
  }, 150_000);

  test('an OperatorGroup (OwnNamespace) and a Subscription install the CSV: InstallPlan Complete, CSV Succeeded', async () => {
    // GIVEN an OperatorGroup targeting only its own namespace
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'operators.coreos.com/v1',
        kind: 'OperatorGroup',
        metadata: { name: 'flight-operator', namespace: ns.name },
        spec: { targetNamespaces: [ns.name] },
      }),
    });
    await waitWithOlm(olm, 'the OperatorGroup to list its namespace', async () => {
      const og = (await custom.getNamespacedCustomObject({ group: 'operators.coreos.com', version: 'v1', plural: 'operatorgroups', namespace: ns.name, name: 'flight-operator' })) as Obj;
      return (og.status?.namespaces ?? []).includes(ns.name);
    }, { timeoutMs: 60_000, diagnose });

    // AND the booking token Secret the user provides (not part of the bundle: OLM never touches it)
    await kubectl(['create', 'secret', 'generic', 'flight-operator-booking-credentials', '-n', ns.name, '--from-literal=token=test-token-0123456789']);

    // WHEN a Subscription asks for the package
    const t0 = Date.now();
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'Subscription',
        metadata: { name: PACKAGE, namespace: ns.name },
        spec: { name: PACKAGE, channel: CHANNEL, source: catalogName, sourceNamespace: olm.namespace, installPlanApproval: 'Automatic' },
      }),
    });
    const at = (k: string) => (timeline[k] ??= Math.round((Date.now() - t0) / 10) / 100);

    // THEN an InstallPlan appears and completes, and the CSV reaches Succeeded (milestones as first seen, 250 ms polls)
    const csv = await waitWithOlm(
      olm,
      `CSV ${ns.name}/${CSV_NAME} to reach phase Succeeded`,
      async () => {
        const [sub, ips, c] = await Promise.all([
          getCustom('subscriptions', ns.name, PACKAGE),
          listCustom('installplans', ns.name),
          getCustom('clusterserviceversions', ns.name, CSV_NAME),
        ]);
        if (sub?.status?.installPlanRef) at('installPlanRef');
        if (ips.length) at('installPlanCreated');
        if (ips.some((ip) => ip.status?.phase === 'Complete')) at('installPlanComplete');
        if (c) at('csvCreated');
        if (c?.status?.phase) at(`csv${c.status.phase}`);
        if (c?.status?.phase === 'Failed') throw new Error(`CSV failed: ${c.status.reason}: ${c.status.message}`);
        return c?.status?.phase === 'Succeeded' ? c : undefined;
      },
      { timeoutMs: INSTALL_TIMEOUT_MS, intervalMs: 250, diagnose },
    );
    const seconds = at('csvSucceeded');
    // The catalog operator may write the plan's Complete a moment after the CSV succeeds
    // (its status update conflicts with its own Subscription writes and is retried).
    await waitWithOlm(
      olm,
      'the InstallPlan to reach phase Complete',
      async () => (await listCustom('installplans', ns.name)).some((ip) => ip.status?.phase === 'Complete') && at('installPlanComplete'),
      { timeoutMs: 120_000, intervalMs: 250, diagnose },
    );
    process.stderr.write(`\nOLM install: Subscription -> CSV Succeeded in ${seconds}s; milestones (s): ${JSON.stringify(timeline)}\n`);

    expect(csv.status.reason).toBe('InstallSucceeded');
    const sub = await waitSubscriptionAt(olm, ns.name, PACKAGE, CSV_NAME, { diagnose });
    const ip = await getCustom('installplans', ns.name, sub!.status.installPlanRef.name);
    expect(ip?.spec).toMatchObject({ approval: 'Automatic', approved: true, clusterServiceVersionNames: [CSV_NAME] });
    expect(ip?.status?.phase).toBe('Complete');
    // The inline catalog needs no bundle unpacking: the plan carries the manifests itself.
    expect(ip?.status?.bundleLookups ?? []).toEqual([]);
    // Every step done (Created, or Present when it already existed), and the plan holds exactly
    // the bundle's objects plus the ServiceAccount and RBAC OLM derives from the CSV.
    const steps = (ip!.status.plan as Obj[]).map((s) => ({ kind: s.resource.kind as string, name: s.resource.name as string, status: s.status as string }));
    expect(steps.filter((s) => s.status !== 'Created' && s.status !== 'Present')).toEqual([]);
    const rbacName = (n: string) => (n.startsWith(`${CSV_NAME}-`) ? `${CSV_NAME}-*` : n);
    expect(steps.map((s) => `${s.kind}/${rbacName(s.name)}`).sort()).toEqual(
      [
        `ClusterRole/${CSV_NAME}-*`,
        `ClusterRoleBinding/${CSV_NAME}-*`,
        `ClusterServiceVersion/${CSV_NAME}`,
        'ConfigMap/flight-operator-controller-config',
        `CustomResourceDefinition/${CRD}`,
        'NetworkPolicy/flight-operator-controller',
        'PodDisruptionBudget/flight-operator-controller',
        `Role/${CSV_NAME}-*`,
        `RoleBinding/${CSV_NAME}-*`,
        'Service/flight-operator-controller-metrics',
        `ServiceAccount/${SERVICE_ACCOUNT}`,
        // OPTIONAL_MONITORING_SINCE (0.4.0): the ServiceMonitor and PrometheusRule as data, and the dashboard
        'ConfigMap/flight-operator-controller-optional-objects',
        'ConfigMap/flight-operator-dashboard',
      ].sort(),
    );

    writeResult(seconds);
    done();
  }, INSTALL_TIMEOUT_MS + 60_000);

  test('the CRD flighttickets.flights.com exists and is Established', async () => {
    const { stdout } = await kubectl(['get', 'crd', CRD, '-o', 'json']);
    const crd = JSON.parse(stdout);
    const established = crd.status.conditions.find((c: Obj) => c.type === 'Established');
    expect(established?.status).toBe('True');
    expect(crd.spec.names.kind).toBe('FlightTicket');
    expect(crd.spec.versions.map((v: Obj) => v.name)).toContain('v1');
    done();
  });

  test('OLM created the Deployment with olm.targetNamespaces = the test namespace, Available on the kwok node', async () => {
    const apps = loadKubeConfig().makeApiClient(k8s.AppsV1Api);
    const dep = await apps.readNamespacedDeployment({ name: DEPLOYMENT, namespace: ns.name });
    const annotations = dep.spec?.template.metadata?.annotations ?? {};
    expect(annotations['olm.targetNamespaces']).toBe(ns.name);
    expect(annotations['olm.operatorGroup']).toBe('flight-operator');
    expect(annotations['olm.operatorNamespace']).toBe(ns.name);
    expect(dep.metadata?.labels?.['olm.owner']).toBe(CSV_NAME);
    const want = bundleCsv.spec.install.spec.deployments[0].spec;
    expect(dep.spec?.replicas).toBe(want.replicas);
    expect(dep.spec?.selector.matchLabels).toEqual(want.selector.matchLabels);
    expect(dep.spec?.template.spec?.serviceAccountName).toBe(SERVICE_ACCOUNT);
    const manager = dep.spec?.template.spec?.containers.find((c) => c.name === 'manager');
    expect(manager?.image).toBe(want.template.spec.containers[0].image);
    // WATCH_NAMESPACE reads the annotation OLM set (Downward API), so the controller watches exactly the target namespaces.
    expect(manager?.env).toEqual(
      expect.arrayContaining([{ name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['olm.targetNamespaces']" } } }]),
    );
    // OLM adds the OperatorCondition name for operators that want to report upgradeability.
    expect(manager?.env?.map((e) => e.name)).toContain('OPERATOR_CONDITION_NAME');
    const available = dep.status?.conditions?.find((c) => c.type === 'Available');
    expect(available?.status).toBe('True');
    expect(dep.status?.availableReplicas).toBe(want.replicas);
    done();
  });

  test('OLM created the ServiceAccount and the RBAC of the CSV, bound to it', async () => {
    const kc = loadKubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const sa = await core.readNamespacedServiceAccount({ name: SERVICE_ACCOUNT, namespace: ns.name });
    expect(sa.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`)).toContain(`ClusterServiceVersion/${CSV_NAME}`);
    const subject = { kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: ns.name };
    const norm = (rules: Obj[]) =>
      rules
        .flatMap((r) => (r.apiGroups ?? ['']).flatMap((g: string) => (r.resources ?? []).flatMap((res: string) => (r.verbs ?? []).map((v: string) => `${g}/${res}:${v}`))))
        .sort();

    // permissions[] -> Role + RoleBinding in the install namespace
    const wantNs = norm(bundleCsv.spec.install.spec.permissions.flatMap((p: Obj) => p.rules));
    const roleBindings = (await rbac.listNamespacedRoleBinding({ namespace: ns.name })).items.filter((b) =>
      b.subjects?.some((s) => s.kind === subject.kind && s.name === subject.name && (s.namespace ?? ns.name) === ns.name),
    );
    const roles = await Promise.all(
      roleBindings.filter((b) => b.roleRef.kind === 'Role').map((b) => rbac.readNamespacedRole({ name: b.roleRef.name, namespace: ns.name })),
    );
    expect(roles.length).toBeGreaterThan(0);
    expect(norm(roles.flatMap((r) => r.rules ?? []))).toEqual(expect.arrayContaining(wantNs));

    // clusterPermissions[] -> ClusterRole + ClusterRoleBinding
    const wantCluster = norm(bundleCsv.spec.install.spec.clusterPermissions.flatMap((p: Obj) => p.rules));
    const crbs = (await rbac.listClusterRoleBinding({ labelSelector: `olm.owner=${CSV_NAME},olm.owner.namespace=${ns.name}` })).items.filter((b) =>
      b.subjects?.some((s) => s.kind === subject.kind && s.name === subject.name && s.namespace === ns.name),
    );
    const clusterRoles = await Promise.all(crbs.map((b) => rbac.readClusterRole({ name: b.roleRef.name })));
    expect(clusterRoles.length).toBeGreaterThan(0);
    expect(norm(clusterRoles.flatMap((r) => r.rules ?? []))).toEqual(expect.arrayContaining(wantCluster));

    // And the API server agrees (SubjectAccessReview through kubectl auth can-i).
    const as = `--as=system:serviceaccount:${ns.name}:${SERVICE_ACCOUNT}`;
    const can = async (verb: string, resource: string) => (await kubectl(['auth', 'can-i', verb, resource, '-n', ns.name, as], { check: false })).stdout.trim();
    expect(await can('watch', 'flighttickets.flights.com')).toBe('yes');
    expect(await can('update', 'flighttickets.flights.com/status')).toBe('yes');
    expect(await can('create', 'leases.coordination.k8s.io')).toBe('yes');
    expect(await can('delete', 'flighttickets.flights.com')).toBe('no');
    expect(await can('get', 'secrets')).toBe('no');
    done();
  });

  test('the Service, PodDisruptionBudget, NetworkPolicy and ConfigMap from the bundle exist in the namespace', async () => {
    const kc = loadKubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const policy = kc.makeApiClient(k8s.PolicyV1Api);
    const svc = await core.readNamespacedService({ name: 'flight-operator-controller-metrics', namespace: ns.name });
    expect(svc.spec?.ports?.map((p) => `${p.name}:${p.port}`)).toEqual(['metrics:8080']);
    expect(svc.spec?.selector).toEqual(bundleCsv.spec.install.spec.deployments[0].spec.selector.matchLabels);
    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: DEPLOYMENT, namespace: ns.name });
    expect(pdb.spec?.minAvailable).toBe(1);
    // kwok's pods are Ready, so the PDB counts them.
    expect(pdb.status?.currentHealthy).toBe(2);
    const np = await kc.makeApiClient(k8s.NetworkingV1Api).readNamespacedNetworkPolicy({ name: DEPLOYMENT, namespace: ns.name });
    expect(np.spec?.podSelector?.matchLabels).toEqual(bundleCsv.spec.install.spec.deployments[0].spec.selector.matchLabels);
    const cm = await core.readNamespacedConfigMap({ name: 'flight-operator-controller-config', namespace: ns.name });
    expect(Object.keys(cm.data ?? {})).toContain('BOOKING_API_URL');
    done();
  });

  test('the dashboard and optional-objects ConfigMaps of the bundle exist in the operator namespace, as the bundle has them, owned by the CSV; OLM itself creates no ServiceMonitor or PrometheusRule', async () => {
    // GIVEN the bundle's monitoring (0.4.0 on: the ServiceMonitor and PrometheusRule are data the controller applies,
    // test/olm/no-prometheus-operator.test.ts), WHEN OLM installed it, THEN both ConfigMaps are there as shipped
    const shipped = (name: string) => catalogBundleObjects(olm.catalogDir, PACKAGE).find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    const read = async (resource: string, name: string) => JSON.parse((await kubectl(['get', resource, name, '-n', ns.name, '-o', 'json'])).stdout) as Obj;
    const optional = await read('configmap', 'flight-operator-controller-optional-objects');
    expect(optional.data).toEqual(shipped('flight-operator-controller-optional-objects')!.data);
    const sm = JSON.parse(optional.data['servicemonitor-flight-operator-controller.json']) as Obj;
    // it selects the metrics Service OLM created from the same bundle
    const svc = await read('service', 'flight-operator-controller-metrics');
    expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(sm.spec.endpoints.map((e: Obj) => e.port)).toEqual(['metrics']);
    const rule = JSON.parse(optional.data['prometheusrule-flight-operator-controller.json']) as Obj;
    expect(rule.spec.groups.flatMap((g: Obj) => g.rules.map((r: Obj) => r.alert))).toHaveLength(7);
    const dashboard = await read('configmap', 'flight-operator-dashboard');
    expect(dashboard.data).toEqual(shipped('flight-operator-dashboard')!.data);
    for (const o of [optional, dashboard]) {
      expect({ name: o.metadata.name, owners: o.metadata.ownerReferences?.map((r: Obj) => `${r.kind}/${r.name}`) }).toEqual({ name: o.metadata.name, owners: [`ClusterServiceVersion/${CSV_NAME}`] });
    }
    // No controller runs in this file: nothing made them, and OLM did not.
    expect((await kubectl(['get', 'servicemonitor,prometheusrule', '-n', ns.name, '-o', 'name'])).stdout.trim()).toBe('');
    done();
  });

  test('the CSV is still Succeeded afterwards (no flapping back to Installing)', async () => {
    const csv = await getCustom('clusterserviceversions', ns.name, CSV_NAME);
    expect({ phase: csv?.status?.phase, reason: csv?.status?.reason }).toEqual({ phase: 'Succeeded', reason: 'InstallSucceeded' });
    const succeededAt = (csv!.status.conditions as Obj[]).findIndex((c) => c.phase === 'Succeeded');
    const after = (csv!.status.conditions as Obj[]).slice(succeededAt + 1).map((c) => `${c.phase}/${c.reason}: ${c.message}`);
    expect(after).toEqual([]);
    olm.assertRunning();
    done();
  });

  test('the booking API endpoint set in the Subscription (spec.config.env) reaches the Deployment, and the CSV stays Succeeded', async () => {
    // WHEN the user sets the endpoint the durable way: OLM re-applies the bundle's ConfigMap at
    // every install/upgrade, but Subscription config survives upgrades
    const url = 'https://booking.example.test';
    await kubectl(['patch', 'subscription', PACKAGE, '-n', ns.name, '--type=merge', '-p', JSON.stringify({ spec: { config: { env: [{ name: 'BOOKING_API_URL', value: url }] } } })]);
    // THEN OLM rolls the Deployment out with the value in place of the ConfigMap reference
    const apps = loadKubeConfig().makeApiClient(k8s.AppsV1Api);
    await waitWithOlm(
      olm,
      'BOOKING_API_URL from the Subscription in the rolled-out Deployment',
      async () => {
        const dep = await apps.readNamespacedDeployment({ name: DEPLOYMENT, namespace: ns.name });
        const env = dep.spec?.template.spec?.containers.find((c) => c.name === 'manager')?.env?.find((e) => e.name === 'BOOKING_API_URL');
        const st = dep.status;
        const rolledOut =
          (st?.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 1) &&
          st?.updatedReplicas === dep.spec?.replicas &&
          st?.availableReplicas === dep.spec?.replicas &&
          (st?.replicas ?? 0) === dep.spec?.replicas;
        return env?.value === url && !env.valueFrom && rolledOut;
      },
      { timeoutMs: 180_000, diagnose },
    );
    await waitWithOlm(olm, 'CSV Succeeded after the rollout', async () => (await getCustom('clusterserviceversions', ns.name, CSV_NAME))?.status?.phase === 'Succeeded', {
      timeoutMs: 120_000,
      diagnose,
    });
    done();
  }, 320_000);
});

function writeResult(seconds: number): void {
  const out = testResultsFile('olm-install.json');
  mkdirSync(path.dirname(out), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    what: `Subscription created -> CSV ${CSV_NAME} phase Succeeded (OwnNamespace OperatorGroup, Automatic approval, inline FBC served by opm serve on the host, kwok pods)`,
    seconds,
    milestonesSeconds: timeline,
    olmStartSeconds: olm.timings,
    machine: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    versions: { kubernetes: process.env.FLIGHT_EXPECT_K8S_VERSION ?? 'unknown', ...olm.versions },
    test: 'test/olm/subscription-install.test.ts',
  };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}
