/**
 * What an installation of the operator can be told. Every construct takes its
 * values from here, so the plain manifests, the OLM bundle and the Pulumi
 * stacks cannot disagree. `validateSettings` turns bad input into a clear
 * error at synth time instead of a manifest the cluster rejects later.
 */
/** Where and how the controller's pods run: the knobs the Deployment takes as they are. */
export interface PodPlacement {
  /** Secrets the kubelet uses to pull the image (the pod's imagePullSecrets). */
  readonly imagePullSecrets?: readonly string[];
  /** The controller container's requests and limits, merged per resource over the defaults (ControllerDeployment DEFAULT_RESOURCES). */
  readonly resources?: ResourceRequirements;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Pod tolerations, in the Kubernetes shape. */
  readonly tolerations?: readonly Readonly<Record<string, unknown>>[];
  /** Pod affinity, in the Kubernetes shape (added to the pods' own topology spread). */
  readonly affinity?: Readonly<Record<string, unknown>>;
  readonly priorityClassName?: string;
}

export interface OperatorSettings extends PodPlacement {
  /** Operator version, strict semver (e.g. 0.1.0): names the CSV and the bundle. */
  readonly version: string;
  /** Controller image: repository@sha256:<digest> (preferred) or repository:tag. */
  readonly image: string;
  /** Controller replicas; leader election keeps one active. */
  readonly replicas: number;
  /**
   * Tickets the active controller reconciles at once (its --concurrency).
   * Unset: the controller's own default (8, controller/config.ts), sized by
   * measurement (docs/scale.md, Workers).
   */
  readonly workers?: number;
  /** Namespace of the controller in the plain manifests. */
  readonly namespace: string;
  /** OLM package and channel. */
  readonly packageName: string;
  readonly channel: string;
  /** Base URL of any implementation of booking-api/openapi.yaml. */
  readonly bookingApiUrl: string;
  /** Secret (key `token`) with the booking API bearer token, mounted as a file. */
  readonly bookingCredentialsSecret: string;
  /** Where the controller's pods may connect to (their NetworkPolicy's egress rules). */
  readonly egress: EgressSettings;
  /** OLM install modes the CSV supports (default all four); an OperatorGroup asking for another fails the CSV. */
  readonly installModes?: readonly InstallMode[];

  // ---- knobs of the plain install (and of the Helm chart's values, infra/helm/) ----

  /**
   * Prefix of the names of cluster-scoped objects (`<releaseName>-controller`
   * for the ClusterRole and ClusterRoleBinding), so two installs with
   * different names do not collide. Default `flight-operator`. The CRD cannot
   * follow: its name is fixed by its group and plural (docs/install.md).
   */
  readonly releaseName?: string;
  /** Replaces the repository of `image` (a registry mirror), keeping its digest or tag. */
  readonly imageRepository?: string;
  /** Extra labels on every object and on the controller's pods (the operator's own labels win on a clash). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Extra annotations on every object and on the controller's pods. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Emit the controller's NetworkPolicy (default true); its rules come from `egress`. */
  readonly networkPolicy?: boolean;
  /** Emit the monitoring objects (ServiceMonitor, PrometheusRule, dashboard; default true). */
  readonly monitoring?: boolean;
  /** The controller's --log-level; unset: its default (info). */
  readonly logLevel?: LogLevel;
  /** Proxy for the booking API, as the controller's HTTP_PROXY, HTTPS_PROXY and NO_PROXY. */
  readonly bookingApiProxy?: ProxySettings;
  /** ConfigMap whose key `ca.crt` holds CA certificates trusted for the booking API besides the built-in roots. */
  readonly bookingApiCaConfigMap?: string;
  /**
   * Namespaces whose tickets the controller reconciles (its WATCH_NAMESPACE);
   * unset or empty: all. When set, its rights on tickets and Events are Roles
   * in these namespaces; only the read of the kube-system namespace (the
   * cluster identity) stays cluster-wide. Plain install only: OLM sets them
   * from the OperatorGroup.
   */
  readonly watchNamespaces?: readonly string[];
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Quantities by resource name, e.g. { cpu: '100m', memory: '128Mi' }. */
export interface ResourceRequirements {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

export interface ProxySettings {
  readonly httpProxy?: string;
  readonly httpsProxy?: string;
  /** Comma-separated hosts, domains (.svc) and CIDRs reached directly. */
  readonly noProxy?: string;
}

export const INSTALL_MODES = ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'] as const;
export type InstallMode = (typeof INSTALL_MODES)[number];

/** A NetworkPolicy peer, in the Kubernetes shape (networking.k8s.io/v1 NetworkPolicyPeer). */
export interface NetworkPeer {
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
  readonly namespaceSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly podSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
}

/** One egress destination: who (peers) and which TCP ports (UDP too for DNS). */
export interface EgressTarget {
  readonly to: readonly NetworkPeer[];
  readonly ports: readonly number[];
}

/**
 * The controller talks to exactly three things: cluster DNS, the API server
 * and the booking API. Policies are evaluated after Service address
 * translation, so ports are the endpoints' ports (the API server usually
 * listens on 6443 behind kubernetes.default:443).
 */
export interface EgressSettings {
  readonly dns: EgressTarget;
  readonly apiServer: EgressTarget;
  /** Ports default to the one in bookingApiUrl when empty. */
  readonly bookingApi: EgressTarget;
}

export const GROUP = 'flights.com';
export const KIND = 'FlightTicket';
export const PLURAL = 'flighttickets';
export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const CONTROLLER_NAME = 'flight-operator-controller';
/** The default release name: cluster-scoped objects are `<releaseName>-controller`, i.e. CONTROLLER_NAME. */
export const DEFAULT_RELEASE_NAME = 'flight-operator';
/** Where the extra CA bundle (bookingApiCaConfigMap) appears in the controller's container. */
export const BOOKING_CA_DIR = '/etc/flight-operator/booking-ca';
export const METRICS_PORT = 8080;
export const HEALTH_PORT = 8081;
/** Where the booking token file appears in the controller's container. */
export const BOOKING_TOKEN_DIR = '/var/run/secrets/flights.com/booking';

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const IMAGE = /^(?<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export class SettingsError extends Error {
  constructor(field: string, problem: string) {
    super(`invalid operator setting "${field}": ${problem}`);
    this.name = 'SettingsError';
  }
}

/** Throws a SettingsError naming the first bad field; returns the settings otherwise. */
export function validateSettings(s: OperatorSettings): OperatorSettings {
  if (!SEMVER.test(s.version)) throw new SettingsError('version', `"${s.version}" is not semver (expected e.g. 0.1.0)`);
  const image = IMAGE.exec(s.image);
  if (!image) throw new SettingsError('image', `"${s.image}" is not an image reference`);
  if (!image.groups?.tag && !image.groups?.digest) {
    throw new SettingsError('image', `"${s.image}" has neither a digest (@sha256:...) nor a tag (:v1)`);
  }
  if (!Number.isInteger(s.replicas) || s.replicas < 1) {
    throw new SettingsError('replicas', `must be a whole number of at least 1, got ${s.replicas}`);
  }
  if (s.workers !== undefined && (!Number.isInteger(s.workers) || s.workers < 1 || s.workers > 100)) {
    throw new SettingsError('workers', `must be a whole number from 1 to 100 (the controller's --concurrency), got ${s.workers}`);
  }
  if (!DNS_LABEL.test(s.namespace)) throw new SettingsError('namespace', `"${s.namespace}" is not a DNS label`);
  if (!DNS_LABEL.test(s.packageName)) throw new SettingsError('packageName', `"${s.packageName}" is not a DNS label`);
  if (!s.channel.trim()) throw new SettingsError('channel', 'must not be empty');
  if (!DNS_LABEL.test(s.channel)) throw new SettingsError('channel', `"${s.channel}" is not a DNS label`);
  let url: URL;
  try {
    url = new URL(s.bookingApiUrl);
  } catch {
    throw new SettingsError('bookingApiUrl', `"${s.bookingApiUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SettingsError('bookingApiUrl', `"${s.bookingApiUrl}" must be http(s)`);
  }
  if (!DNS_LABEL.test(s.bookingCredentialsSecret)) {
    throw new SettingsError('bookingCredentialsSecret', `"${s.bookingCredentialsSecret}" is not a valid Secret name`);
  }
  if (s.installModes !== undefined) {
    if (!s.installModes.length) throw new SettingsError('installModes', 'must list at least one install mode');
    const bad = s.installModes.filter((m) => !(INSTALL_MODES as readonly string[]).includes(m));
    if (bad.length) throw new SettingsError('installModes', `unknown ${bad.join(', ')} (known: ${INSTALL_MODES.join(', ')})`);
  }
  if (s.releaseName !== undefined && (!DNS_LABEL.test(s.releaseName) || s.releaseName.length > 52)) {
    throw new SettingsError('releaseName', `"${s.releaseName}" is not a DNS label of at most 52 characters (it prefixes "-controller")`);
  }
  if (s.imageRepository !== undefined && !IMAGE.exec(s.imageRepository)?.groups?.repo?.length) {
    throw new SettingsError('imageRepository', `"${s.imageRepository}" is not an image repository`);
  }
  if (s.imageRepository !== undefined && /[:@]/.test(s.imageRepository.replace(/^[^/]*\//, ''))) {
    throw new SettingsError('imageRepository', `"${s.imageRepository}" must not carry a tag or digest (they come from "image")`);
  }
  for (const [field, name] of [
    ...(s.imagePullSecrets ?? []).map((n) => ['imagePullSecrets', n] as const),
    ...(s.bookingApiCaConfigMap !== undefined ? [['bookingApiCaConfigMap', s.bookingApiCaConfigMap] as const] : []),
  ]) {
    if (!DNS_SUBDOMAIN.test(name)) throw new SettingsError(field, `"${name}" is not a valid object name`);
  }
  for (const ns of s.watchNamespaces ?? []) if (!DNS_LABEL.test(ns)) throw new SettingsError('watchNamespaces', `"${ns}" is not a namespace name`);
  if (s.priorityClassName !== undefined && !DNS_SUBDOMAIN.test(s.priorityClassName)) {
    throw new SettingsError('priorityClassName', `"${s.priorityClassName}" is not a valid PriorityClass name`);
  }
  if (s.logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(s.logLevel)) {
    throw new SettingsError('logLevel', `"${s.logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  for (const key of ['httpProxy', 'httpsProxy'] as const) {
    const v = s.bookingApiProxy?.[key];
    if (v !== undefined && v !== '' && !/^https?:\/\/[^\s]+$/.test(v)) throw new SettingsError(`bookingApiProxy.${key}`, `"${v}" is not an http(s) URL`);
  }
  for (const target of ['dns', 'apiServer', 'bookingApi'] as const) validateEgress(`egress.${target}`, s.egress?.[target], target !== 'bookingApi');
  return s;
}

const CIDR = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\/(?:3[0-2]|[12]?\d)$|^[0-9a-fA-F:]+\/(?:12[0-8]|1[01]\d|\d?\d)$/;

function validateEgress(field: string, t: EgressTarget | undefined, portsRequired: boolean): void {
  if (!t || !Array.isArray(t.to)) throw new SettingsError(field, 'must have `to` (NetworkPolicy peers) and `ports`');
  if (!t.to.length) throw new SettingsError(`${field}.to`, 'must list at least one peer (an empty list would allow every destination)');
  t.to.forEach((p, i) => {
    if (!p.ipBlock && !p.namespaceSelector && !p.podSelector) throw new SettingsError(`${field}.to[${i}]`, 'needs an ipBlock, a namespaceSelector or a podSelector');
    if (p.ipBlock && (p.namespaceSelector || p.podSelector)) throw new SettingsError(`${field}.to[${i}]`, 'ipBlock cannot be combined with selectors');
    for (const cidr of [p.ipBlock?.cidr, ...(p.ipBlock?.except ?? [])]) {
      if (p.ipBlock && (!cidr || !CIDR.test(cidr))) throw new SettingsError(`${field}.to[${i}].ipBlock`, `"${cidr}" is not a CIDR (e.g. 10.0.0.0/8)`);
    }
  });
  if (portsRequired && !t.ports.length) throw new SettingsError(`${field}.ports`, 'must list at least one port');
  for (const port of t.ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SettingsError(`${field}.ports`, `${port} is not a port (1-65535)`);
  }
}

/** The TCP port the booking API is reached on: egress.bookingApi.ports, or the URL's port. */
export function bookingApiPorts(s: OperatorSettings): number[] {
  if (s.egress.bookingApi.ports.length) return [...s.egress.bookingApi.ports];
  const url = new URL(s.bookingApiUrl);
  return [url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80];
}

/** True when the image is pinned by digest (what OLM relatedImages and the good-practice validators want). */
export function isDigestPinned(image: string): boolean {
  return /@sha256:[a-f0-9]{64}$/.test(image);
}

/** The image the pods run: `image`, with its repository replaced by `imageRepository` when set (digest or tag kept). */
export function resolvedImage(s: OperatorSettings): string {
  if (!s.imageRepository) return s.image;
  const m = IMAGE.exec(s.image);
  const tag = m?.groups?.tag ? `:${m.groups.tag}` : '';
  const digest = m?.groups?.digest ? `@${m.groups.digest}` : '';
  return `${s.imageRepository}${tag}${digest}`;
}

/** Name of the cluster-scoped objects of this install (ClusterRole, ClusterRoleBinding). */
export function clusterScopedName(s: OperatorSettings): string {
  return `${s.releaseName ?? DEFAULT_RELEASE_NAME}-controller`;
}
