/**
 * The synthesized controller Deployment and RBAC on a real control plane:
 * admitted by Pod Security "restricted", Available on a kwok node, and the
 * ServiceAccount can do exactly what the controller needs.
 */
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { CrdChart } from '../../infra/charts/crd-chart';
import { OperatorChart } from '../../infra/charts/operator-chart';
import { defaultSettings } from '../../infra/defaults';
import { kubectl } from '../../testenv/kube';

const ns = `op-${process.pid}`;
const other = `other-${process.pid}`;
const sa = `system:serviceaccount:${ns}:flight-operator-controller`;

beforeAll(async () => {
  // GIVEN the CRD, and the operator chart synthesized for namespace `ns`, which enforces "restricted"
  const crd = Testing.synth(new CrdChart(Testing.app(), 'crd'));
  await kubectl(['apply', '--server-side', '-f', '-'], { input: stringify(crd[0]) });
  const objects = Testing.synth(new OperatorChart(Testing.app(), 'op', { settings: defaultSettings({ namespace: ns }) }));
  await kubectl(['create', 'namespace', other]);
  // WHEN applied
  await kubectl(['apply', '--server-side', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
}, 120_000);
afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, other, '--wait=false'], { check: false });
  await kubectl(['delete', 'clusterrole,clusterrolebinding', 'flight-operator-controller', '--ignore-not-found'], { check: false });
});

describe('the controller Deployment', () => {
  test('is admitted in a namespace enforcing Pod Security "restricted" and becomes Available', async () => {
    // THEN
    const { stdout: labels } = await kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels}']);
    expect(JSON.parse(labels)).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    await kubectl(['wait', '-n', ns, '--for=condition=Available', '--timeout=90s', 'deployment/flight-operator-controller'], { timeoutMs: 100_000 });
    const { stdout } = await kubectl(['get', 'deployment', '-n', ns, 'flight-operator-controller', '-o', 'jsonpath={.status.readyReplicas}']);
    expect(stdout).toBe('2');
  }, 120_000);

  test('its NetworkPolicy is accepted by the API server and selects exactly the Deployment\'s pods', async () => {
    const np = JSON.parse((await kubectl(['get', 'networkpolicy', '-n', ns, 'flight-operator-controller', '-o', 'json'])).stdout);
    const dep = JSON.parse((await kubectl(['get', 'deployment', '-n', ns, 'flight-operator-controller', '-o', 'json'])).stdout);
    expect(np.spec.podSelector).toEqual(dep.spec.selector);
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    // The pods it selects are the controller's: both replicas, scheduled under the spread constraints.
    const pods = JSON.parse((await kubectl(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/name=flight-operator-controller', '-o', 'json'])).stdout).items;
    expect(pods).toHaveLength(2);
    expect(pods.every((p: any) => p.spec.nodeName && p.spec.topologySpreadConstraints?.length === 2)).toBe(true);
  });

  test('a pod that breaks "restricted" is refused in that namespace (the label is enforced)', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root', namespace: ns }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    const r = await kubectl(['create', '-f', '-'], { input: stringify(pod), check: false });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });
});

describe("the controller's ServiceAccount", () => {
  // [verb, resource, namespace, allowed]
  test.each<[string, string, string, boolean]>([
    ['list', 'flighttickets.flights.com', other, true],
    ['watch', 'flighttickets.flights.com', other, true],
    ['get', 'flighttickets.flights.com', other, true],
    ['update', 'flighttickets.flights.com', other, true],
    ['patch', 'flighttickets.flights.com', other, true],
    ['update', 'flighttickets.flights.com/status', other, true],
    ['update', 'flighttickets.flights.com/finalizers', other, true],
    ['create', 'events', other, true],
    ['patch', 'events', other, true],
    ['get', 'leases.coordination.k8s.io', ns, true],
    ['create', 'leases.coordination.k8s.io', ns, true],
    ['update', 'leases.coordination.k8s.io', ns, true],
    ['create', 'flighttickets.flights.com', other, false],
    ['delete', 'flighttickets.flights.com', other, false],
    ['deletecollection', 'flighttickets.flights.com', other, false],
    ['get', 'leases.coordination.k8s.io', other, false],
    ['delete', 'leases.coordination.k8s.io', ns, false],
    ['get', 'secrets', ns, false],
    ['list', 'secrets', other, false],
    ['list', 'pods', ns, false],
    ['create', 'deployments.apps', ns, false],
    ['update', 'customresourcedefinitions.apiextensions.k8s.io', '', false],
    ['list', 'events', other, false],
    ['escalate', 'clusterroles.rbac.authorization.k8s.io', '', false],
    // The cluster identity: the kube-system namespace only, read only.
    ['get', 'namespaces/kube-system', '', true],
    ['get', 'namespaces/default', '', false],
    ['list', 'namespaces', '', false],
  ])('%s %s in %s: allowed=%s', async (verb, resource, namespace, allowed) => {
    // WHEN the API server is asked (a SubjectAccessReview, through kubectl auth can-i)
    const args = ['auth', 'can-i', verb, resource, `--as=${sa}`, ...(namespace ? ['-n', namespace] : [])];
    const r = await kubectl(args, { check: false });
    // THEN
    expect(r.stdout.trim()).toBe(allowed ? 'yes' : 'no');
  });
});
