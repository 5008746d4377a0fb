import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorSettings, validateSettings } from './settings';

const root = join(__dirname, '..');

/**
 * The controller image this release ships. Written by the image build
 * (npm run image) with the digest it produced; never edited by hand.
 */
export function controllerImage(): string {
  const lock = JSON.parse(readFileSync(join(root, 'infra', 'controller-image.json'), 'utf8')) as {
    repository: string;
    tag?: string;
    digest?: string;
  };
  return lock.digest ? `${lock.repository}@${lock.digest}` : `${lock.repository}:${lock.tag}`;
}

/** Settings of the release built from this tree; callers may override any field. */
export function defaultSettings(overrides: Partial<OperatorSettings> = {}): OperatorSettings {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return validateSettings({
    version: pkg.version,
    image: controllerImage(),
    replicas: 2,
    namespace: 'flight-operator-system',
    packageName: 'flight-operator',
    channel: 'stable',
    bookingApiUrl: 'http://booking-api.flight-operator-system.svc:8080',
    bookingCredentialsSecret: 'flight-operator-booking-credentials',
    ...overrides,
  });
}

/** Release facts the CSV carries; fixed per version so the bundle is byte-for-byte reproducible. */
export const RELEASE = {
  createdAt: '2026-11-22T00:00:00Z',
  minKubeVersion: '1.30.0',
  repository: 'https://github.com/flight-operator/flight-operator',
};

export const ICON_SVG = readFileSync(join(root, 'infra', 'icon.svg'), 'utf8');
