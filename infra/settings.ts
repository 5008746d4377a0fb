/**
 * What an installation of the operator can be told. Every construct takes its
 * values from here, so the plain manifests, the OLM bundle and the Pulumi
 * stacks cannot disagree. `validateSettings` turns bad input into a clear
 * error at synth time instead of a manifest the cluster rejects later.
 */
export interface OperatorSettings {
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
export const METRICS_PORT = 8080;
export const HEALTH_PORT = 8081;
/** Where the booking token file appears in the controller's container. */
export const BOOKING_TOKEN_DIR = '/var/run/secrets/flights.com/booking';

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const IMAGE = /^(?<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

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
