/**
 * The ServiceMonitor and PrometheusRule the constructs synthesize (the same
 * chart as dist/flight-operator-monitoring.k8s.yaml) are accepted by a real
 * API server that serves prometheus-operator's own CRDs (their OpenAPI
 * schemas validate every field), taken from its Go module by
 * tools/prometheus-crds.
 */
import { App } from 'cdk8s';
import { MonitoringChart } from '../../infra/charts/monitoring-chart';
import { applyManifests, k8s } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { installMonitoringCrds } from './tools';

const ns = useNamespace('monitoring');
beforeAll(() => installMonitoringCrds(), 180_000);

function synth(namespace: string): k8s.KubernetesObject[] {
  return new MonitoringChart(new App(), 'monitoring', { namespace }).toJson() as k8s.KubernetesObject[];
}

test('GIVEN the prometheus-operator CRDs WHEN the monitoring chart is applied THEN the API server stores the ServiceMonitor, the PrometheusRule and the dashboard as synthesized', async () => {
  const objects = synth(ns.name);
  expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'ServiceMonitor']);
  const stored = await applyManifests(ns.kc, objects);
  for (const [i, o] of objects.entries()) {
    const s = stored[i] as k8s.KubernetesObject & { spec?: unknown; data?: unknown };
    expect({ kind: s.kind, namespace: s.metadata?.namespace, name: s.metadata?.name }).toEqual({ kind: o.kind, namespace: ns.name, name: o.metadata?.name });
    // The schema keeps unknown fields out (pruning): equal means every field we wrote is one it knows.
    const { spec, data } = o as typeof s;
    if (spec) expect(s.spec).toEqual(spec);
    if (data) expect(s.data).toEqual(data);
  }
});

test('GIVEN the prometheus-operator CRDs THEN they validate: a rule without expr is rejected with the field named', async () => {
  const rule = synth(ns.name).find((o) => o.kind === 'PrometheusRule') as k8s.KubernetesObject & { spec: { groups: { rules: Record<string, unknown>[] }[] } };
  const broken = structuredClone(rule);
  broken.metadata = { ...broken.metadata, name: 'broken' };
  delete broken.spec.groups[0].rules[0].expr;
  await expect(applyManifests(ns.kc, [broken])).rejects.toThrow(/expr: Required value/);
});
