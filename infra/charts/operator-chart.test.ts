import { App, Testing } from 'cdk8s';
import { defaultSettings } from '../defaults';
import { OperatorSettings, SettingsError } from '../settings';
import { OperatorChart } from './operator-chart';
import { plainInstall } from './plain-install';

const DIGEST = `sha256:${'b'.repeat(64)}`;

/** The plain install's objects for these settings, as `npm run synth` writes them. */
function synth(overrides: Partial<OperatorSettings> = {}) {
  const objects = Testing.synth(new OperatorChart(Testing.app(), 'op', { settings: defaultSettings({ image: `ghcr.io/flight-operator/controller@${DIGEST}`, ...overrides }) }));
  const deployment = objects.find((o) => o.kind === 'Deployment');
  return { objects, deployment, pod: deployment.spec.template.spec, manager: deployment.spec.template.spec.containers[0] };
}

describe('OperatorChart knobs', () => {
  test('GIVEN imageRepository (a mirror) WHEN synthesized THEN the pods pull from the mirror by the same digest', () => {
    const { manager } = synth({ imageRepository: 'mirror.corp:5000/flight/controller' });
    expect(manager.image).toBe(`mirror.corp:5000/flight/controller@${DIGEST}`);
  });

  test('GIVEN an imageRepository with its own tag THEN settings are refused (the digest comes from `image`)', () => {
    expect(() => synth({ imageRepository: 'mirror.corp/flight/controller:v1' })).toThrow(SettingsError);
  });

  test('GIVEN imagePullSecrets, nodeSelector, tolerations, affinity and priorityClassName THEN the pod spec carries each', () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['ops'] }] }] } } };
    const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'ops', effect: 'NoSchedule' }];
    const { pod } = synth({ imagePullSecrets: ['mirror-pull'], nodeSelector: { pool: 'ops' }, tolerations, affinity, priorityClassName: 'platform-critical' });
    expect(pod).toMatchObject({ imagePullSecrets: [{ name: 'mirror-pull' }], nodeSelector: { pool: 'ops' }, tolerations, affinity, priorityClassName: 'platform-critical' });
  });

  test('GIVEN nothing of those THEN the pod spec has none of them', () => {
    const { pod } = synth();
    for (const field of ['imagePullSecrets', 'nodeSelector', 'tolerations', 'affinity', 'priorityClassName']) expect(pod).not.toHaveProperty(field);
  });

  test('GIVEN resources THEN they are merged per resource over the container defaults (as Helm merges values)', () => {
    const resources = { requests: { cpu: '200m', memory: '128Mi' }, limits: { memory: '512Mi' } };
    expect(synth({ resources }).manager.resources).toEqual({
      requests: { cpu: '200m', memory: '128Mi', 'ephemeral-storage': '32Mi' },
      limits: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '128Mi' },
    });
    expect(synth().manager.resources.limits).toEqual({ cpu: '500m', memory: '256Mi', 'ephemeral-storage': '128Mi' });
  });

  test('GIVEN replicas 3 THEN the Deployment runs three', () => {
    expect(synth({ replicas: 3 }).deployment.spec.replicas).toBe(3);
  });

  test('GIVEN extra labels and annotations THEN every object and the pods carry them, the own labels win and the selector is unchanged', () => {
    const { objects, deployment } = synth({ labels: { team: 'payments', 'app.kubernetes.io/name': 'mine' }, annotations: { 'owner.example/contact': 'ops@example.com' } });
    for (const o of objects) {
      expect(o.metadata.labels.team).toBe('payments');
      expect(o.metadata.annotations['owner.example/contact']).toBe('ops@example.com');
    }
    expect(deployment.metadata.labels['app.kubernetes.io/name']).toBe('flight-operator-controller');
    expect(deployment.spec.template.metadata.labels.team).toBe('payments');
    expect(deployment.spec.template.metadata.annotations['owner.example/contact']).toBe('ops@example.com');
    expect(deployment.spec.selector.matchLabels).toEqual(synth().deployment.spec.selector.matchLabels);
  });

  test('GIVEN releaseName "team-b" THEN the cluster-scoped objects are team-b-controller and bind the right role; by default flight-operator-controller', () => {
    const clusterScoped = (objects: any[]) => objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding');
    const b = clusterScoped(synth({ releaseName: 'team-b' }).objects);
    expect(b.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ClusterRole/team-b-controller', 'ClusterRoleBinding/team-b-controller']);
    expect(b.find((o) => o.kind === 'ClusterRoleBinding').roleRef.name).toBe('team-b-controller');
    expect(clusterScoped(synth().objects).map((o) => o.metadata.name)).toEqual(['flight-operator-controller', 'flight-operator-controller']);
  });

  test('GIVEN networkPolicy false THEN no NetworkPolicy; GIVEN the API server address and the booking API CIDR THEN egress goes only there', () => {
    expect(synth({ networkPolicy: false }).objects.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
    const egress = {
      ...defaultSettings().egress,
      apiServer: { to: [{ ipBlock: { cidr: '10.96.0.1/32' } }], ports: [6443] },
      bookingApi: { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [443] },
    };
    const policy = synth({ egress }).objects.find((o) => o.kind === 'NetworkPolicy');
    expect(policy.spec.egress.slice(1)).toEqual([
      { to: [{ ipBlock: { cidr: '10.96.0.1/32' } }], ports: [{ protocol: 'TCP', port: 6443 }] },
      { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }] },
    ]);
  });

  test('GIVEN logLevel debug THEN the controller runs with --log-level=debug; unset, with its default', () => {
    expect(synth({ logLevel: 'debug' }).manager.args).toContain('--log-level=debug');
    expect(synth().manager.args.some((a: string) => a.startsWith('--log-level'))).toBe(false);
    expect(() => synth({ logLevel: 'loud' as never })).toThrow(SettingsError);
  });

  test('GIVEN a booking API proxy THEN the controller gets HTTP_PROXY, HTTPS_PROXY and NO_PROXY', () => {
    const { manager } = synth({ bookingApiProxy: { httpProxy: 'http://proxy.corp:3128', httpsProxy: 'http://proxy.corp:3128', noProxy: '.svc,10.0.0.0/8' } });
    expect(manager.env.slice(-3)).toEqual([
      { name: 'HTTP_PROXY', value: 'http://proxy.corp:3128' },
      { name: 'HTTPS_PROXY', value: 'http://proxy.corp:3128' },
      { name: 'NO_PROXY', value: '.svc,10.0.0.0/8' },
    ]);
    expect(() => synth({ bookingApiProxy: { httpsProxy: 'proxy.corp:3128' } })).toThrow(SettingsError);
  });

  test('GIVEN bookingApiCaConfigMap THEN its ca.crt is mounted read-only and named by BOOKING_API_CA_FILE', () => {
    const { pod, manager } = synth({ bookingApiCaConfigMap: 'corp-ca' });
    expect(pod.volumes).toContainEqual({ name: 'booking-ca', configMap: { name: 'corp-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    expect(manager.volumeMounts).toContainEqual({ mountPath: '/etc/flight-operator/booking-ca', name: 'booking-ca', readOnly: true });
    expect(manager.env).toContainEqual({ name: 'BOOKING_API_CA_FILE', value: '/etc/flight-operator/booking-ca/ca.crt' });
  });
});

test('GIVEN watchNamespaces THEN WATCH_NAMESPACE lists them and the ticket and Event rights are Roles there; the ClusterRole keeps only the kube-system read', () => {
  const { objects, manager } = synth({ watchNamespaces: ['team-a', 'team-b'], releaseName: 'fo' });
  expect(manager.env).toContainEqual({ name: 'WATCH_NAMESPACE', value: 'team-a,team-b' });
  const roles = objects.filter((o) => o.kind === 'Role' && o.metadata.name === 'fo-controller');
  expect(roles.map((r) => r.metadata.namespace)).toEqual(['team-a', 'team-b']);
  expect(roles[0].rules.map((r: any) => r.resources).flat()).toEqual(['flighttickets', 'flighttickets/status', 'flighttickets/finalizers', 'events']);
  const bindings = objects.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'fo-controller');
  expect(bindings.map((b) => [b.metadata.namespace, b.roleRef.name, b.subjects[0].namespace])).toEqual([
    ['team-a', 'fo-controller', 'flight-operator-system'],
    ['team-b', 'fo-controller', 'flight-operator-system'],
  ]);
  expect(objects.find((o) => o.kind === 'ClusterRole').rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], resourceNames: ['kube-system'], verbs: ['get'] }]);
  // Unset: every namespace, through the ClusterRole.
  expect(synth().objects.find((o) => o.kind === 'ClusterRole').rules.map((r: any) => r.resources).flat()).toContain('flighttickets');
});

describe('plainInstall', () => {
  test('GIVEN monitoring false THEN no monitoring chart; by default one, with the extra labels', () => {
    expect(plainInstall(new App(), defaultSettings({ monitoring: false })).monitoring).toBeUndefined();
    const monitoring = plainInstall(new App(), defaultSettings({ labels: { team: 'payments' } })).monitoring!;
    const objects = Testing.synth(monitoring);
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'ServiceMonitor']);
    for (const o of objects) expect(o.metadata.labels.team).toBe('payments');
  });
});
