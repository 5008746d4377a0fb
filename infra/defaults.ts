import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST_RELEASE } from './releases';
import { EgressSettings, NetworkPeer, OperatorSettings, validateSettings } from './settings';

// The locks and the icon sit beside this module: in infra/ of the repo, and
// copied beside the compiled module in lib/ of the package (scripts/build.ts).
const here = __dirname;

/**
 * The controller image this release ships. Written by the image build
 * (npm run image) with the digest it produced; never edited by hand.
 */
export function controllerImage(): string {
  const lock = JSON.parse(readFileSync(join(here, 'controller-image.json'), 'utf8')) as {
    repository: string;
    tag?: string;
    digest?: string;
  };
  return lock.digest ? `${lock.repository}@${lock.digest}` : `${lock.repository}:${lock.tag}`;
}

export const BUNDLE_IMAGE_LOCK = join(here, 'bundle-image.json');

/**
 * The bundle image of each release, by digest: written by the image build
 * (npm run image -- bundle) from the bundles infra generates; never edited by
 * hand. Read here for the published catalog (olm-bundle/catalog-image/), so
 * infra never builds an image itself.
 */
export function bundleImages(): { repository: string; digests: Record<string, string> } {
  return JSON.parse(readFileSync(BUNDLE_IMAGE_LOCK, 'utf8')) as { repository: string; digests: Record<string, string> };
}

const ANYWHERE: NetworkPeer[] = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];

/**
 * Egress that works on any cluster, limited by port: DNS only to the cluster
 * DNS pods (upstream's kube-dns labels), the API server and the booking API
 * to any address on their ports. Narrow `apiServer.to` to the addresses of
 * `kubectl get endpointslices -l kubernetes.io/service-name=kubernetes` and
 * `bookingApi.to` to the booking service where they are known: how a CNI
 * matches ipBlocks against in-cluster and host-network addresses varies.
 */
export const DEFAULT_EGRESS: EgressSettings = {
  dns: { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [53] },
  apiServer: { to: ANYWHERE, ports: [443, 6443] },
  // An in-cluster booking service is a pod (a namespaceSelector matches it), an external one an address.
  bookingApi: { to: [...ANYWHERE, { namespaceSelector: {} }], ports: [] },
};

/** Settings of the latest release (infra/releases.ts) built from this tree; callers may override any field. */
export function defaultSettings(overrides: Partial<OperatorSettings> = {}): OperatorSettings {
  return validateSettings({
    version: LATEST_RELEASE.version,
    image: controllerImage(),
    replicas: 2,
    namespace: 'flight-operator-system',
    packageName: 'flight-operator',
    channel: 'stable',
    bookingApiUrl: 'http://booking-api.flight-operator-system.svc:8080',
    bookingCredentialsSecret: 'flight-operator-booking-credentials',
    egress: DEFAULT_EGRESS,
    ...overrides,
  });
}

/** Release facts the CSV carries that do not change per version (createdAt does: infra/releases.ts). */
export const RELEASE = {
  minKubeVersion: '1.30.0',
  repository: 'https://github.com/flight-operator/flight-operator',
};

export const ICON_SVG = readFileSync(join(here, 'icon.svg'), 'utf8');
