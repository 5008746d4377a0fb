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
  /** Namespace of the controller in the plain manifests. */
  readonly namespace: string;
  /** OLM package and channel. */
  readonly packageName: string;
  readonly channel: string;
  /** Base URL of any implementation of booking-api/openapi.yaml. */
  readonly bookingApiUrl: string;
  /** Secret (key `token`) with the booking API bearer token, mounted as a file. */
  readonly bookingCredentialsSecret: string;
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
  return s;
}

/** True when the image is pinned by digest (what OLM relatedImages and the good-practice validators want). */
export function isDigestPinned(image: string): boolean {
  return /@sha256:[a-f0-9]{64}$/.test(image);
}
