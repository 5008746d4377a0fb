import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { ControllerDeployment, controllerRuntimeEnv } from './controller-deployment';

const DIGEST_IMAGE = `registry.example/flight/controller@sha256:${'a'.repeat(64)}`;

function synth(extra: { workers?: number } = {}) {
  // GIVEN a controller deployment with two replicas and a digest-pinned image
  const chart = new Chart(Testing.app(), 'test');
  const serviceAccount = new kplus.ServiceAccount(chart, 'sa', { metadata: { name: 'ctrl', namespace: 'ops' } });
  new ControllerDeployment(chart, 'ctrl', {
    namespace: 'ops',
    image: DIGEST_IMAGE,
    replicas: 2,
    serviceAccount,
    bookingApiUrl: 'https://booking.example/v1',
    bookingCredentialsSecret: 'booking-creds',
    version: '1.2.3',
    ...extra,
  });
  // WHEN synthesized
  const objects = Testing.synth(chart);
  const deployment = objects.find((o) => o.kind === 'Deployment');
  return { objects, deployment, pod: deployment.spec.template.spec, manager: deployment.spec.template.spec.containers[0] };
}

describe('ControllerDeployment', () => {
  test('the pod meets Pod Security "restricted": non-root, read-only root, no capabilities, no escalation, RuntimeDefault seccomp', () => {
    const { pod, manager } = synth();
    // THEN
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(manager.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 65532,
      runAsNonRoot: true,
      runAsUser: 65532,
    });
    expect(pod.hostNetwork).toBe(false);
  });

  test('runs two replicas of the digest-pinned image under its ServiceAccount, selected by stable labels', () => {
    const { deployment, pod, manager } = synth();
    expect(deployment.spec.replicas).toBe(2);
    expect(manager).toMatchObject({ name: 'manager', image: DIGEST_IMAGE, imagePullPolicy: 'IfNotPresent' });
    expect(pod).toMatchObject({ serviceAccountName: 'ctrl', automountServiceAccountToken: true });
    expect(deployment.spec.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'flight-operator-controller',
      'app.kubernetes.io/part-of': 'flight-operator',
      'app.kubernetes.io/component': 'controller',
    });
    // The pods also say which release they run; the selector, immutable, does not.
    expect(deployment.spec.template.metadata.labels).toEqual({ ...deployment.spec.selector.matchLabels, 'app.kubernetes.io/version': '1.2.3' });
    expect(deployment.metadata.labels['app.kubernetes.io/version']).toBe('1.2.3');
    expect(manager.args).toEqual(['--leader-elect', '--metrics-bind-address=:8080', '--health-probe-bind-address=:8081']);
  });

  test('GIVEN workers THEN the controller runs with that --concurrency; without, with its own default', () => {
    expect(synth({ workers: 8 }).manager.args).toEqual(['--leader-elect', '--metrics-bind-address=:8080', '--health-probe-bind-address=:8081', '--concurrency=8']);
    expect(synth().manager.args).not.toContainEqual(expect.stringMatching(/^--concurrency/));
  });

  test('has CPU, memory and ephemeral-storage requests and limits, and probes on the health port', () => {
    const { manager } = synth();
    expect(manager.resources).toEqual({
      requests: { cpu: '50m', memory: '96Mi', 'ephemeral-storage': '32Mi' },
      limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '128Mi' },
    });
    expect(manager.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8081, scheme: 'HTTP' });
    expect(manager.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 8081, scheme: 'HTTP' });
    expect(manager.ports).toEqual([
      { containerPort: 8080, name: 'metrics' },
      { containerPort: 8081, name: 'health' },
    ]);
  });

  test('reads the endpoint from a ConfigMap and the token from a Secret mounted as a file, never an env var', () => {
    const { objects, pod, manager } = synth();
    const env = Object.fromEntries(manager.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env.BOOKING_API_URL).toEqual({ configMapKeyRef: { key: 'BOOKING_API_URL', name: 'flight-operator-controller-config' } });
    expect(env.BOOKING_API_TOKEN_FILE).toBe('/var/run/secrets/flights.com/booking/token');
    expect(env.WATCH_NAMESPACE).toEqual({ fieldRef: { fieldPath: "metadata.annotations['olm.targetNamespaces']" } });
    expect(env.NODE_OPTIONS).toBe('--max-old-space-size=160 --max-semi-space-size=1');
    expect(env.MALLOC_ARENA_MAX).toBe('2');
    expect(JSON.stringify(manager.env)).not.toContain('secretKeyRef');
    expect(pod.volumes).toContainEqual({ name: 'booking-credentials', secret: { secretName: 'booking-creds', optional: true, defaultMode: 0o440 } });
    expect(manager.volumeMounts).toContainEqual({ mountPath: '/var/run/secrets/flights.com/booking', name: 'booking-credentials', readOnly: true });
    expect(objects.find((o) => o.kind === 'ConfigMap').data).toEqual({ BOOKING_API_URL: 'https://booking.example/v1' });
  });

  test('spreads its replicas over nodes (required) and zones (preferred), counting only pods of the same rollout', () => {
    const { deployment, pod } = synth();
    const selector = deployment.spec.selector;
    expect(pod.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: selector, matchLabelKeys: ['pod-template-hash'] },
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: selector, matchLabelKeys: ['pod-template-hash'] },
    ]);
  });

  test('a metrics Service and a PodDisruptionBudget select the same pods', () => {
    const { objects, deployment } = synth();
    const service = objects.find((o) => o.kind === 'Service');
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics' }]);
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: deployment.spec.selector });
  });

  test('GIVEN releases before and from 0.3.0 and 0.4.0 THEN each runs with the Node and glibc settings of its release (released bundles never change)', () => {
    expect(controllerRuntimeEnv('0.2.0')).toEqual({ NODE_OPTIONS: '--max-old-space-size=160' });
    expect(controllerRuntimeEnv('0.3.0')).toEqual({ NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=1', MALLOC_ARENA_MAX: '2' });
    expect(controllerRuntimeEnv('0.4.0')).toEqual({
      NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=1',
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '32768',
      MALLOC_TRIM_THRESHOLD_: '131072',
    });
  });
});
