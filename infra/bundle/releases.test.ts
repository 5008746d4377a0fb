import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { bundleImages, defaultSettings } from '../defaults';
import { LATEST_RELEASE, RELEASES, versionAtLeast } from '../releases';
import { generateBundle, generateBundleManifests } from './generate';
import { readRecordedRelease, recordedVersions, RELEASES_DIR, sha256 } from './recorded';

const recorded = recordedVersions().sort();
const catalogOf = (flavour: 'catalog' | 'catalog-image') =>
  parseAllDocuments(generateBundle(defaultSettings()).get(`${flavour}/flight-operator/catalog.yaml`)!).map((d) => d.toJS() as Record<string, any>);

describe('recorded releases (olm-bundle/releases/)', () => {
  test('every release before the head is recorded, and nothing else is', () => {
    // The head may be recorded too, once cut (npm run release).
    expect(recorded.filter((v) => v !== LATEST_RELEASE.version)).toEqual(RELEASES.slice(0, -1).map((r) => r.version));
  });

  test.each(recorded)('%s: every recorded file is what release.json hashed when it was recorded, no file added or missing', (version) => {
    const r = readRecordedRelease(version)!;
    expect(r.record.version).toBe(version);
    expect(r.record.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(r.record.controllerImage.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.record.bundleImage).toMatch(/^sha256:[0-9a-f]{64}$/);
    const onDisk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? onDisk(join(d, f)) : [join(d, f)]));
    expect(onDisk(join(RELEASES_DIR, version)).map((p) => relative(join(RELEASES_DIR, version), p)).filter((p) => p !== 'release.json').sort()).toEqual(Object.keys(r.record.files).sort());
    for (const [path, content] of r.files) expect({ path, hash: sha256(content) }).toEqual({ path, hash: r.record.files[path] });
    // Its CSV deploys the controller image it names
    expect(r.objects[0].kind).toBe('ClusterServiceVersion');
    expect(r.objects[0].metadata.annotations.containerImage).toBe(`${r.record.controllerImage.repository}@${r.record.controllerImage.digest}`);
  });

  test('both catalogs take each recorded release as recorded (objects inline; the recorded bundle image by digest), whatever the constructs generate today', () => {
    const inline = catalogOf('catalog');
    const published = catalogOf('catalog-image');
    for (const version of recorded) {
      const r = readRecordedRelease(version)!;
      const bundle = inline.find((b) => b.schema === 'olm.bundle' && b.name === `flight-operator.v${version}`)!;
      const objects = bundle.properties.filter((p: any) => p.type === 'olm.bundle.object').map((p: any) => JSON.parse(Buffer.from(p.value.data, 'base64').toString()));
      expect({ version, objects }).toEqual({ version, objects: r.objects });
      expect(published.find((b) => b.schema === 'olm.bundle' && b.name === `flight-operator.v${version}`)!.image).toBe(`ghcr.io/flight-operator/bundle@${r.record.bundleImage}`);
    }
  });

  test('infra/bundle-image.json, which `npm run image -- bundle` writes from the recorded files, names each recorded bundle image: rebuilt today, they are what was released', () => {
    // image/bundle-image-lock.test.ts fails while the lock differs from what the build produces now.
    const lock = bundleImages();
    for (const version of recorded) expect({ version, digest: lock.digests[version] }).toEqual({ version, digest: readRecordedRelease(version)!.record.bundleImage });
  });

  test('a recorded head is what the constructs generate now: changing a released version needs a new version', () => {
    const r = readRecordedRelease(LATEST_RELEASE.version);
    if (!r) {
      // Not cut yet: the head is generated, and free to change.
      expect(recorded).not.toContain(LATEST_RELEASE.version);
      return;
    }
    expect(new Map(generateBundleManifests(defaultSettings()))).toEqual(r.files);
  });
});

/** `>=a <b` (the only form our skipRanges take) contains v. */
function inRange(range: string | undefined, v: string): boolean {
  const m = /^>=(\S+) <(\S+)$/.exec(range ?? '');
  return !!m && versionAtLeast(v, m[1]) && !versionAtLeast(v, m[2]);
}

describe('the upgrade graph of the stable channel', () => {
  const channel = catalogOf('catalog').find((b) => b.schema === 'olm.channel' && b.name === 'stable')!;
  const entries = channel.entries as Array<{ name: string; replaces?: string; skipRange?: string }>;
  const version = (name: string) => name.replace(/^flight-operator\.v/, '');

  /** What OLM offers a Subscription at `from`: the entries that replace it or whose skipRange covers it, the newest (OLM takes the channel head among them). */
  const next = (from: string) =>
    entries
      .filter((e) => e.replaces === `flight-operator.v${from}` || inRange(e.skipRange, from))
      .map((e) => version(e.name))
      .sort((a, b) => (versionAtLeast(a, b) ? -1 : 1))[0];

  test('holds every release, each replacing the one before it', () => {
    expect(entries.map((e) => version(e.name))).toEqual(RELEASES.map((r) => r.version));
    entries.slice(1).forEach((e, i) => expect(e.replaces).toBe(entries[i].name));
  });

  test('walked from every release, each step goes to a newer release and the walk ends at the head; the head is offered nothing', () => {
    const paths: Record<string, string[]> = {};
    for (const r of RELEASES) {
      const path = [r.version];
      for (let v = next(r.version); v !== undefined; v = next(v)) {
        expect(versionAtLeast(v, path[path.length - 1]) && v !== path[path.length - 1]).toBe(true);
        path.push(v);
        expect(path.length).toBeLessThanOrEqual(RELEASES.length);
      }
      paths[r.version] = path;
    }
    for (const p of Object.values(paths)) expect(p[p.length - 1]).toBe(LATEST_RELEASE.version);
    // Today: one step from every earlier release, so 0.1.0 and 0.2.0 never pass through 0.3.0 (which needs prometheus-operator's CRDs).
    expect(paths).toEqual({ '0.1.0': ['0.1.0', '0.4.0'], '0.2.0': ['0.2.0', '0.4.0'], '0.3.0': ['0.3.0', '0.4.0'], '0.4.0': ['0.4.0'] });
  });
});
