import { ApiObject, App, Chart, Testing } from 'cdk8s';
import { BundleChart } from '../charts/bundle-chart';
import { OperatorChart } from '../charts/operator-chart';
import { defaultSettings } from '../defaults';
import { MONITORING_SINCE, OPTIONAL_MONITORING_SINCE, RELEASES, versionAtLeast } from '../releases';

const settings = defaultSettings({ image: `registry.example/flight/controller@sha256:${'b'.repeat(64)}`, version: '1.2.3' });

function synthCsv() {
  // GIVEN the bundle chart for version 1.2.3 with a digest-pinned image
  const chart = new BundleChart(Testing.app(), 'bundle', { settings });
  // WHEN synthesized
  const objects = Testing.synth(chart);
  return { objects, csv: objects.find((o) => o.kind === 'ClusterServiceVersion') };
}

describe('ClusterServiceVersion', () => {
  test('is named <package>.v<version> and carries the annotations OperatorHub requires', () => {
    const { csv } = synthCsv();
    // THEN
    expect(csv.metadata.name).toBe('flight-operator.v1.2.3');
    expect(csv.spec.version).toBe('1.2.3');
    expect(Object.keys(csv.metadata.annotations).sort()).toEqual(
      [
        'alm-examples',
        'capabilities',
        'categories',
        'containerImage',
        'createdAt',
        'description',
        'operatorframework.io/suggested-namespace',
        'repository',
        'support',
      ].sort(),
    );
    expect(csv.metadata.annotations.containerImage).toBe(settings.image);
    // 1.2.3 is past MONITORING_SINCE: the bundle ships the alerts and dashboard (test/monitoring) on top of
    // install, upgrade and restore (test/olm, test/restore).
    expect(csv.metadata.annotations.capabilities).toBe('Deep Insights');
    expect(csv.metadata.annotations['operatorframework.io/suggested-namespace']).toBe('flight-operator-system');
  });

  test("alm-examples is the seed's ticket: two seats from Cairo to London", () => {
    const { csv } = synthCsv();
    expect(JSON.parse(csv.metadata.annotations['alm-examples'])).toEqual([
      { apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: 'my-flight-ticket' }, spec: { from: 'Cairo', to: 'London', number: 2 } },
    ]);
  });

  test('lists all four install modes as supported, a strict-semver minKubeVersion, one icon and the image by digest', () => {
    const { csv } = synthCsv();
    expect(csv.spec.installModes).toEqual(
      ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'].map((type) => ({ type, supported: true })),
    );
    expect(csv.spec.minKubeVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(csv.spec.icon).toHaveLength(1);
    expect(csv.spec.icon[0].mediatype).toBe('image/svg+xml');
    expect(Buffer.from(csv.spec.icon[0].base64data, 'base64').toString()).toContain('<svg');
    expect(csv.spec.relatedImages).toEqual([{ name: 'manager', image: settings.image }]);
    for (const field of ['displayName', 'description', 'maturity', 'provider', 'maintainers', 'links', 'keywords']) {
      expect(csv.spec[field]).toBeTruthy();
    }
  });

  test('describes every spec field of the example and the status conditions', () => {
    const owned = synthCsv().csv.spec.customresourcedefinitions.owned;
    expect(owned).toHaveLength(1);
    expect(owned[0]).toMatchObject({ name: 'flighttickets.flights.com', version: 'v1', kind: 'FlightTicket' });
    expect(owned[0].resources.length).toBeGreaterThan(0);
    expect(owned[0].specDescriptors.map((d: any) => d.path)).toEqual(['from', 'to', 'number']);
    expect(owned[0].statusDescriptors.find((d: any) => d.path === 'conditions')['x-descriptors']).toEqual([
      'urn:alm:descriptor:io.kubernetes.conditions',
    ]);
  });

  test('installs exactly the Deployment and RBAC of the plain manifests, written once', () => {
    const { csv, objects } = synthCsv();
    const plain = new OperatorChart(new App(), 'plain', { settings });
    const install = csv.spec.install;
    expect(install.strategy).toBe('deployment');
    expect(install.spec.deployments).toEqual([
      { name: 'flight-operator-controller', label: expect.any(Object), spec: ApiObject.of(plain.controller.deployment).toJson().spec },
    ]);
    // 1.2.3 is past OPTIONAL_MONITORING_SINCE: the rules of the plain ClusterRole are split by scope. Only the
    // cluster-scoped read of kube-system stays cluster-wide; the rest OLM grants in the target namespaces.
    const clusterRules = ApiObject.of(plain.rbac.clusterRole).toJson().rules;
    const clusterScoped = clusterRules.filter((r: any) => r.resources.includes('namespaces'));
    expect(clusterScoped).toEqual([{ apiGroups: [''], resourceNames: ['kube-system'], resources: ['namespaces'], verbs: ['get'] }]);
    expect(install.spec.clusterPermissions).toEqual([{ serviceAccountName: 'flight-operator-controller', rules: clusterScoped }]);
    expect(install.spec.permissions).toEqual([
      {
        serviceAccountName: 'flight-operator-controller',
        rules: [
          ...ApiObject.of(plain.rbac.leaderElectionRole).toJson().rules,
          ...clusterRules.filter((r: any) => !r.resources.includes('namespaces')),
          ...ApiObject.of(plain.rbac.optionalObjectsRole!).toJson().rules,
        ],
      },
    ]);
    expect(install.spec.permissions[0].rules.flatMap((r: any) => r.resources)).toEqual(
      expect.arrayContaining(['flighttickets', 'flighttickets/status', 'events', 'leases', 'servicemonitors', 'prometheusrules', 'deployments']),
    );
    // OLM creates the ServiceAccount, Deployment and RBAC itself: shipping them too is a validator error.
    // 1.2.3 is past OPTIONAL_MONITORING_SINCE: the ServiceMonitor and PrometheusRule ship as data in a ConfigMap, beside the dashboard's.
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ClusterServiceVersion', 'ConfigMap', 'ConfigMap', 'ConfigMap', 'CustomResourceDefinition', 'NetworkPolicy', 'PodDisruptionBudget', 'Service'].sort(),
    );
    expect(objects.filter((o) => o.metadata.namespace)).toEqual([]);
  });

  test('the deployment OLM creates spreads over nodes and limits ephemeral storage, and the bundle ships the NetworkPolicy of the plain manifests', () => {
    const { csv, objects } = synthCsv();
    const pod = csv.spec.install.spec.deployments[0].spec.template.spec;
    expect(pod.topologySpreadConstraints.map((c: any) => `${c.topologyKey}:${c.whenUnsatisfiable}`)).toEqual([
      'kubernetes.io/hostname:DoNotSchedule',
      'topology.kubernetes.io/zone:ScheduleAnyway',
    ]);
    expect(pod.containers[0].resources.limits['ephemeral-storage']).toBe('128Mi');
    const plain = Testing.synth(new OperatorChart(Testing.app(), 'plain', { settings })).find((o) => o.kind === 'NetworkPolicy');
    const { namespace, ...plainMetadata } = plain.metadata;
    expect(namespace).toBe('flight-operator-system');
    // OLM puts it in the operator's namespace, where the pods it selects run.
    expect(objects.find((o) => o.kind === 'NetworkPolicy')).toEqual({ ...plain, metadata: plainMetadata });
  });
});

test('GIVEN installModes [OwnNamespace] THEN the CSV supports only that mode (OLM fails it under any other OperatorGroup)', () => {
  const csv = Testing.synth(new BundleChart(Testing.app(), 'bundle', { settings: defaultSettings({ installModes: ['OwnNamespace'] }) })).find((o) => o.kind === 'ClusterServiceVersion');
  expect(csv.spec.installModes).toEqual([
    { type: 'OwnNamespace', supported: true },
    { type: 'SingleNamespace', supported: false },
    { type: 'MultiNamespace', supported: false },
    { type: 'AllNamespaces', supported: false },
  ]);
});

describe('ClusterServiceVersion upgrade edges', () => {
  const csvOf = (version: string) =>
    Testing.synth(new BundleChart(Testing.app(), 'bundle', { settings: defaultSettings({ version }) })).find((o) => o.kind === 'ClusterServiceVersion');

  test('GIVEN release 0.2.0 THEN it replaces 0.1.0 and may skip any 0.1.x', () => {
    const csv = csvOf('0.2.0');
    expect(csv.spec.replaces).toBe('flight-operator.v0.1.0');
    expect(csv.metadata.annotations['olm.skipRange']).toBe('>=0.1.0 <0.2.0');
    expect(csv.metadata.annotations.createdAt).toBe('2026-11-23T00:00:00Z');
  });

  test('GIVEN release 0.3.0 THEN it replaces 0.2.0 and may skip anything from 0.1.0 on', () => {
    const csv = csvOf('0.3.0');
    expect(csv.spec.replaces).toBe('flight-operator.v0.2.0');
    expect(csv.metadata.annotations['olm.skipRange']).toBe('>=0.1.0 <0.3.0');
    expect(csv.metadata.annotations.createdAt).toBe('2026-11-24T00:00:00Z');
  });

  test('GIVEN each release THEN its CSV says the capability level it reached: Deep Insights from 0.3.0 (monitoring in the bundle), Full Lifecycle before', () => {
    const levels = Object.fromEntries(RELEASES.map((r) => [r.version, csvOf(r.version).metadata.annotations.capabilities]));
    expect(levels).toEqual({ '0.1.0': 'Full Lifecycle', '0.2.0': 'Full Lifecycle', '0.3.0': 'Deep Insights', '0.4.0': 'Deep Insights' });
    const kinds = (version: string) =>
      Testing.synth(new BundleChart(Testing.app(), 'bundle', { settings: defaultSettings({ version }) })).flatMap((o) =>
        // the kinds inside the optional-objects ConfigMap count: the controller applies them
        o.metadata.name === 'flight-operator-controller-optional-objects' ? Object.values(o.data as Record<string, string>).map((d) => JSON.parse(d).kind) : [o.kind],
      );
    // Deep Insights exactly where the bundle ships the ServiceMonitor and PrometheusRule (as objects, or as data from 0.4.0)
    for (const r of RELEASES) {
      const monitoring = ['ServiceMonitor', 'PrometheusRule'].every((k) => kinds(r.version).includes(k));
      expect({ version: r.version, monitoring }).toEqual({ version: r.version, monitoring: versionAtLeast(r.version, MONITORING_SINCE) });
    }
  });

  test('GIVEN 0.3.0 THEN the description tells the user to have the prometheus-operator CRDs before subscribing; 0.2.0 keeps its description', () => {
    expect(csvOf('0.3.0').spec.description).toContain('`servicemonitors` and `prometheusrules` of `monitoring.coreos.com/v1`');
    expect(csvOf('0.2.0').spec.description).not.toContain('monitoring.coreos.com');
  });

  test('GIVEN 0.4.0 THEN it replaces 0.3.0 and 0.1.0 and 0.2.0 skip to it; no prometheus-operator requirement; maturity stable as its channel, cut releases keep alpha', () => {
    const csv = csvOf('0.4.0');
    expect(csv.spec.replaces).toBe('flight-operator.v0.3.0');
    expect(csv.metadata.annotations['olm.skipRange']).toBe('>=0.1.0 <0.4.0');
    expect(csv.spec.description).not.toContain('Before you subscribe');
    expect(csv.spec.description).toContain('Without it the operator installs and runs all the same.');
    expect(csv.spec.maturity).toBe('stable');
    expect(RELEASES.filter((r) => !versionAtLeast(r.version, OPTIONAL_MONITORING_SINCE)).map((r) => csvOf(r.version).spec.maturity)).toEqual(['alpha', 'alpha', 'alpha']);
  });

  test('GIVEN 0.3.0 and before THEN the FlightTicket rules stay in clusterPermissions as they were cut', () => {
    for (const v of ['0.1.0', '0.2.0', '0.3.0']) {
      const csv = csvOf(v);
      expect(csv.spec.install.spec.clusterPermissions[0].rules.flatMap((r: any) => r.resources)).toContain('flighttickets');
      expect(csv.spec.install.spec.permissions[0].rules.flatMap((r: any) => r.resources)).toEqual(['leases']);
    }
  });

  test('GIVEN the first release or a version that is not a release THEN it replaces nothing', () => {
    for (const version of ['0.1.0', '1.2.3']) {
      const csv = csvOf(version);
      expect({ version, replaces: csv.spec.replaces, skipRange: csv.metadata.annotations['olm.skipRange'] }).toEqual({ version, replaces: undefined, skipRange: undefined });
    }
  });

  test('the 0.2.0 bundle ships the CRD with the Booked column, the 0.1.0 bundle without', () => {
    const crdOf = (version: string) =>
      Testing.synth(new BundleChart(Testing.app(), 'bundle', { settings: defaultSettings({ version }) })).find((o) => o.kind === 'CustomResourceDefinition');
    const columns = (version: string) => crdOf(version).spec.versions[0].additionalPrinterColumns.map((c: any) => c.name);
    expect(columns('0.2.0')).toContain('Booked');
    expect(columns('0.1.0')).not.toContain('Booked');
  });
});

describe('OperatorChart', () => {
  test('puts the controller in a namespace that enforces Pod Security "restricted"', () => {
    // GIVEN / WHEN
    const objects = Testing.synth(new OperatorChart(Testing.app(), 'op', { settings }));
    // THEN
    const ns = objects.find((o) => o.kind === 'Namespace');
    expect(ns.metadata).toEqual({
      name: 'flight-operator-system',
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
    });
    const clusterScoped = objects.filter((o) => ['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    expect(clusterScoped.map((o) => o.metadata.namespace)).toEqual([undefined, undefined, undefined]);
    expect(objects.filter((o) => !clusterScoped.includes(o)).every((o) => o.metadata.namespace === 'flight-operator-system')).toBe(true);
  });

  test('without createNamespace leaves the namespace to OLM or Pulumi', () => {
    const objects = Testing.synth(new OperatorChart(Testing.app(), 'op', { settings, createNamespace: false }));
    expect(objects.some((o) => o.kind === 'Namespace')).toBe(false);
  });

  test('bad settings stop the synth with an error that names the field', () => {
    expect(() => new OperatorChart(new Chart(Testing.app(), 'x'), 'op', { settings: { ...settings, replicas: 0 } })).toThrow(
      'invalid operator setting "replicas": must be a whole number of at least 1, got 0',
    );
  });
});

describe('the workers setting', () => {
  test('GIVEN settings.workers THEN the plain manifests and the CSV run the controller with that --concurrency', () => {
    const withWorkers = defaultSettings({ image: settings.image, workers: 12 });
    const deployment = Testing.synth(new OperatorChart(Testing.app(), 'plain', { settings: withWorkers })).find((o) => o.kind === 'Deployment');
    expect(deployment.spec.template.spec.containers[0].args).toContain('--concurrency=12');
    const csv = Testing.synth(new BundleChart(Testing.app(), 'bundle', { settings: withWorkers })).find((o) => o.kind === 'ClusterServiceVersion');
    expect(csv.spec.install.spec.deployments[0].spec.template.spec.containers[0].args).toContain('--concurrency=12');
  });
});
