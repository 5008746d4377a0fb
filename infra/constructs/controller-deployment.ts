import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { LATEST_RELEASE, versionAtLeast } from '../releases';
import { BOOKING_CA_DIR, BOOKING_TOKEN_DIR, CONTROLLER_NAME, HEALTH_PORT, LogLevel, METRICS_PORT, PodPlacement, ProxySettings } from '../settings';
import { OPTIONAL_OBJECTS_DIR } from './controller-optional-objects';

/**
 * How the controller's Node.js runs, by release (npm run bench measures the
 * controller with exactly these). V8 grows its heap lazily up to a limit set
 * from the machine's memory: the old space is capped well inside the 256Mi
 * container limit so it collects instead of being OOM-killed. From 0.3.0 the
 * young generation is capped at 1 MiB semi-spaces and glibc at 2 malloc
 * arenas: with 2,000 tickets held that took RSS from 196 to 130-136 MiB (heap
 * total from 100 to 36 MiB) for the same CPU (docs/scale.md). From 0.4.0
 * glibc serves blocks of 32 KiB and more with mmap and trims its heap above
 * 128 KiB free: both give freed memory back, so what V8's compilers and
 * nghttp2 allocate during a burst does not stay resident (holding 1,000
 * tickets: 92.6-92.9 against 84.0-84.6 MiB RSS, paired runs).
 */
export function controllerRuntimeEnv(version: string): Record<string, string> {
  if (!versionAtLeast(version, '0.3.0')) return { NODE_OPTIONS: '--max-old-space-size=160' };
  const env = { NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=1', MALLOC_ARENA_MAX: '2' };
  return versionAtLeast(version, '0.4.0') ? { ...env, MALLOC_MMAP_THRESHOLD_: '32768', MALLOC_TRIM_THRESHOLD_: '131072' } : env;
}

export interface ControllerDeploymentProps extends PodPlacement {
  readonly namespace: string;
  /** Image reference, ideally pinned by digest. */
  readonly image: string;
  readonly replicas: number;
  readonly serviceAccount: kplus.IServiceAccount;
  /** Base URL of the booking API. */
  readonly bookingApiUrl: string;
  /** Secret holding the booking API token under the key `token`. */
  readonly bookingCredentialsSecret: string;
  /** Operator version: label app.kubernetes.io/version on the Deployment and its pods (never in the selector). */
  readonly version?: string;
  /** Tickets reconciled at once (--concurrency); unset: the controller's default. */
  readonly workers?: number;
  /** --log-level; unset: the controller's default. */
  readonly logLevel?: LogLevel;
  /** Extra labels and annotations on the pods (the selector never changes). */
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly podAnnotations?: Readonly<Record<string, string>>;
  /** HTTP_PROXY, HTTPS_PROXY and NO_PROXY of the controller (its booking API client honours them). */
  readonly proxy?: ProxySettings;
  /** ConfigMap with `ca.crt`: mounted at BOOKING_CA_DIR and passed as BOOKING_API_CA_FILE. */
  readonly bookingApiCaConfigMap?: string;
  /** WATCH_NAMESPACE; unset or empty: OLM's olm.targetNamespaces annotation (absent in the plain install: all). */
  readonly watchNamespaces?: readonly string[];
  /** ConfigMap of objects the controller applies once their kind is served (ControllerOptionalObjects); mounted optional. */
  readonly optionalObjects?: kplus.IConfigMap;
}

/** Labels that select the controller's pods; fixed, because a Deployment selector is immutable. */
export const CONTROLLER_LABELS = {
  'app.kubernetes.io/name': CONTROLLER_NAME,
  'app.kubernetes.io/part-of': 'flight-operator',
  'app.kubernetes.io/component': 'controller',
};
const USER_ID = 65532;

/** The container's requests and limits unless settings.resources says otherwise (what the patches and cdk8s-plus write below). */
export const DEFAULT_RESOURCES = {
  requests: { cpu: '50m', memory: '96Mi', 'ephemeral-storage': '32Mi' },
  limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '128Mi' },
} as const;

/**
 * The controller workload: a ConfigMap with the booking API endpoint, the
 * Deployment (two replicas on different nodes, one leader), a metrics
 * Service and a PodDisruptionBudget. The pod passes Pod Security
 * "restricted" and has CPU, memory and ephemeral-storage requests and limits.
 */
export class ControllerDeployment extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly config: kplus.ConfigMap;
  public readonly metricsService: ApiObject;
  public readonly disruptionBudget: ApiObject;

  constructor(scope: Construct, id: string, props: ControllerDeploymentProps) {
    super(scope, id);
    const namespace = props.namespace;

    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { namespace, name: `${CONTROLLER_NAME}-config`, labels: CONTROLLER_LABELS },
      data: { BOOKING_API_URL: props.bookingApiUrl },
    });
    const credentials = kplus.Secret.fromSecretName(this, 'Credentials', props.bookingCredentialsSecret);

    // The version tells which release a pod runs (`kubectl get pods -L app.kubernetes.io/version`);
    // the selector stays CONTROLLER_LABELS, which never change (a selector is immutable).
    const labels = { ...CONTROLLER_LABELS, ...(props.version ? { 'app.kubernetes.io/version': props.version } : {}) };
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { namespace, name: CONTROLLER_NAME, labels },
      replicas: props.replicas,
      // Our own selector: the default one hashes the construct path, which would
      // change (and be rejected as immutable) if the construct tree moved.
      select: false,
      podMetadata: {
        labels: { ...props.podLabels, ...labels },
        annotations: { ...props.podAnnotations, 'kubectl.kubernetes.io/default-container': 'manager' },
      },
      serviceAccount: props.serviceAccount,
      automountServiceAccountToken: true,
      terminationGracePeriod: Duration.seconds(30),
      securityContext: { ensureNonRoot: true, user: USER_ID, group: USER_ID, fsGroup: USER_ID },
      spread: false,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: CONTROLLER_LABELS }));

    const tokenVolume = kplus.Volume.fromSecret(this, 'TokenVolume', credentials, {
      name: 'booking-credentials',
      // Optional: the controller starts without it and says so in every ticket's
      // status, instead of the pod hanging in ContainerCreating.
      optional: true,
      defaultMode: 0o440,
    });
    const tmp = kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(16) });

    const manager = this.deployment.addContainer({
      name: 'manager',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: [
        '--leader-elect',
        `--metrics-bind-address=:${METRICS_PORT}`,
        `--health-probe-bind-address=:${HEALTH_PORT}`,
        ...(props.workers !== undefined ? [`--concurrency=${props.workers}`] : []),
        ...(props.logLevel !== undefined ? [`--log-level=${props.logLevel}`] : []),
      ],
      ports: [
        { name: 'metrics', number: METRICS_PORT },
        { name: 'health', number: HEALTH_PORT },
      ],
      envVariables: {
        BOOKING_API_URL: kplus.EnvValue.fromConfigMap(this.config, 'BOOKING_API_URL'),
        BOOKING_API_TOKEN_FILE: kplus.EnvValue.fromValue(`${BOOKING_TOKEN_DIR}/token`),
        POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
        POD_NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
        // OLM writes the OperatorGroup's target namespaces here; absent (empty)
        // in the plain manifests, which means "watch every namespace".
        WATCH_NAMESPACE: props.watchNamespaces?.length
          ? kplus.EnvValue.fromValue(props.watchNamespaces.join(','))
          : kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_ANNOTATION, { key: 'olm.targetNamespaces' }),
        ...(props.optionalObjects
          ? { OPTIONAL_OBJECTS_DIR: kplus.EnvValue.fromValue(OPTIONAL_OBJECTS_DIR), OPTIONAL_OBJECTS_OWNER: kplus.EnvValue.fromValue(CONTROLLER_NAME) }
          : {}),
        ...Object.fromEntries(Object.entries(controllerRuntimeEnv(props.version ?? LATEST_RELEASE.version)).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
      },
      securityContext: {
        ensureNonRoot: true,
        user: USER_ID,
        group: USER_ID,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
      },
      resources: {
        cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
        memory: { request: Size.mebibytes(96), limit: Size.mebibytes(256) },
      },
      liveness: kplus.Probe.fromHttpGet('/healthz', { port: HEALTH_PORT, initialDelaySeconds: Duration.seconds(5), periodSeconds: Duration.seconds(10) }),
      readiness: kplus.Probe.fromHttpGet('/readyz', { port: HEALTH_PORT, periodSeconds: Duration.seconds(5) }),
      startup: kplus.Probe.fromHttpGet('/healthz', { port: HEALTH_PORT, periodSeconds: Duration.seconds(2), failureThreshold: 30 }),
    });
    manager.mount(BOOKING_TOKEN_DIR, tokenVolume, { readOnly: true });
    manager.mount('/tmp', tmp);
    if (props.optionalObjects) {
      // Optional, like the token: the pod starts without it (nothing to apply).
      manager.mount(OPTIONAL_OBJECTS_DIR, kplus.Volume.fromConfigMap(this, 'OptionalObjectsVolume', props.optionalObjects, { name: 'optional-objects', optional: true }), { readOnly: true });
    }

    // cdk8s-plus-27 cannot express these two; Pod Security "restricted" needs both.
    const deploymentObject = ApiObject.of(this.deployment);
    deploymentObject.addJsonPatch(
      JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }),
      JsonPatch.add('/spec/template/spec/containers/0/securityContext/capabilities', { drop: ['ALL'] }),
      // Logs and the 16Mi /tmp count against it; past the limit the kubelet evicts
      // the pod instead of letting it fill the node's disk. (cdk8s-plus writes
      // ephemeral storage in whole Gi only, hence the patch; a Quantity, because
      // the typed serializer runs after the patches and reads Quantity.value.)
      JsonPatch.add('/spec/template/spec/containers/0/resources/requests/ephemeral-storage', kplus.k8s.Quantity.fromString('32Mi')),
      JsonPatch.add('/spec/template/spec/containers/0/resources/limits/ephemeral-storage', kplus.k8s.Quantity.fromString('128Mi')),
      // A label derived from the construct path would change the pod template
      // (and roll the pods) whenever the construct tree is refactored.
      JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
      // The replicas are there for availability, so no two on one node while
      // there are nodes enough (one node still runs both: the skew stays 0),
      // and across zones where possible. pod-template-hash: during a rollout
      // the new ReplicaSet spreads on its own instead of around the old pods.
      JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [
        { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: CONTROLLER_LABELS }, matchLabelKeys: ['pod-template-hash'] },
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: CONTROLLER_LABELS }, matchLabelKeys: ['pod-template-hash'] },
      ]),
    );
    // Knobs for platform teams; each only when set, so the defaults stay as above.
    const pod = '/spec/template/spec';
    if (props.resources) {
      // Quantities, as for ephemeral storage above: the typed serializer reads Quantity.value.
      const quantities = (m?: Readonly<Record<string, string>>) => m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, kplus.k8s.Quantity.fromString(v)]));
      // Merged over the defaults per resource, as Helm merges values maps.
      const requests = { ...DEFAULT_RESOURCES.requests, ...props.resources.requests };
      const limits = { ...DEFAULT_RESOURCES.limits, ...props.resources.limits };
      deploymentObject.addJsonPatch(JsonPatch.replace(`${pod}/containers/0/resources`, { requests: quantities(requests), limits: quantities(limits) }));
    }
    if (props.imagePullSecrets?.length) deploymentObject.addJsonPatch(JsonPatch.add(`${pod}/imagePullSecrets`, props.imagePullSecrets.map((name) => ({ name }))));
    if (props.nodeSelector && Object.keys(props.nodeSelector).length) deploymentObject.addJsonPatch(JsonPatch.add(`${pod}/nodeSelector`, { ...props.nodeSelector }));
    if (props.tolerations?.length) deploymentObject.addJsonPatch(JsonPatch.add(`${pod}/tolerations`, structuredClone(props.tolerations)));
    if (props.affinity && Object.keys(props.affinity).length) deploymentObject.addJsonPatch(JsonPatch.add(`${pod}/affinity`, structuredClone(props.affinity)));
    if (props.priorityClassName) deploymentObject.addJsonPatch(JsonPatch.add(`${pod}/priorityClassName`, props.priorityClassName));
    // After the env cdk8s-plus writes, in this order (the Helm chart's templates append them the same way).
    const proxyEnv = [
      ['HTTP_PROXY', props.proxy?.httpProxy],
      ['HTTPS_PROXY', props.proxy?.httpsProxy],
      ['NO_PROXY', props.proxy?.noProxy],
    ] as const;
    for (const [name, value] of proxyEnv) if (value) deploymentObject.addJsonPatch(JsonPatch.add(`${pod}/containers/0/env/-`, { name, value }));
    if (props.bookingApiCaConfigMap) {
      deploymentObject.addJsonPatch(
        JsonPatch.add(`${pod}/containers/0/env/-`, { name: 'BOOKING_API_CA_FILE', value: `${BOOKING_CA_DIR}/ca.crt` }),
        JsonPatch.add(`${pod}/containers/0/volumeMounts/-`, { mountPath: BOOKING_CA_DIR, name: 'booking-ca', readOnly: true }),
        JsonPatch.add(`${pod}/volumes/-`, { name: 'booking-ca', configMap: { name: props.bookingApiCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }),
      );
    }

    this.metricsService = new kplus.k8s.KubeService(this, 'MetricsService', {
      metadata: { namespace, name: `${CONTROLLER_NAME}-metrics`, labels: CONTROLLER_LABELS },
      spec: {
        selector: CONTROLLER_LABELS,
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: kplus.k8s.IntOrString.fromString('metrics') }],
      },
    });

    this.disruptionBudget = new kplus.k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: { namespace, name: CONTROLLER_NAME, labels: CONTROLLER_LABELS },
      spec: { minAvailable: kplus.k8s.IntOrString.fromNumber(1), selector: { matchLabels: CONTROLLER_LABELS } },
    });
  }
}
