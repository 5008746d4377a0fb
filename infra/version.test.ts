import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LATEST_RELEASE, RELEASES } from './releases';

const root = path.join(__dirname, '..');

describe('versions agree', () => {
  test('package.json (and its lock) name the channel head, LATEST_RELEASE', () => {
    expect(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version).toBe(LATEST_RELEASE.version);
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
    expect([lock.version, lock.packages[''].version]).toEqual([LATEST_RELEASE.version, LATEST_RELEASE.version]);
  });

  test('the controller image is tagged with it (infra/controller-image.json, which the CSVs pin by digest)', () => {
    expect(JSON.parse(readFileSync(path.join(root, 'infra', 'controller-image.json'), 'utf8')).tag).toBe(LATEST_RELEASE.version);
  });

  test('the CHANGELOG has one section per release, newest first, and the head is the section after Unreleased or is Unreleased itself', () => {
    const headings = [...readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8').matchAll(/^## \[([^\]]+)\]/gm)].map((m) => m[1]);
    const released = headings.filter((h) => h !== 'Unreleased');
    // Every release in infra/releases.ts has its section, and no section names a release that is not there.
    expect([...released].sort()).toEqual(RELEASES.map((r) => r.version).sort());
    expect(released).toEqual(RELEASES.map((r) => r.version).reverse());
  });
});
