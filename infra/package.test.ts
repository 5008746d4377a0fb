/**
 * The npm package is the release: its version is the head of the OLM channel
 * (infra/releases.ts), so `npm install flight-operator@0.3.0` gives the
 * constructs that built bundle 0.3.0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST_RELEASE } from './releases';

const root = join(__dirname, '..');
const read = (f: string) => JSON.parse(readFileSync(join(root, f), 'utf8'));

describe('package.json', () => {
  test('its version is the latest release, in package-lock.json too', () => {
    expect(read('package.json').version).toBe(LATEST_RELEASE.version);
    expect(read('package-lock.json').version).toBe(LATEST_RELEASE.version);
    expect(read('package-lock.json').packages[''].version).toBe(LATEST_RELEASE.version);
  });

  test('cdk8s and Pulumi are peers the repo itself installs at a version inside the peer range', () => {
    const pkg = read('package.json');
    for (const [name, range] of Object.entries(pkg.peerDependencies as Record<string, string>)) {
      // GIVEN a caret range ^x.y.z and the exact version the repo pins for itself
      const pinned = pkg.devDependencies[name] as string;
      expect({ name, dependency: pkg.dependencies?.[name] }).toEqual({ name, dependency: undefined });
      const [lo, hi] = [range.slice(1), pinned].map((v) => v.split('.').map(Number));
      // THEN same major, and the pinned one not below the range's lowest
      expect({ name, major: hi[0] }).toEqual({ name, major: lo[0] });
      expect({ name, atLeastLowest: hi[1] > lo[1] || (hi[1] === lo[1] && hi[2] >= lo[2]) }).toEqual({ name, atLeastLowest: true });
    }
  });
});
