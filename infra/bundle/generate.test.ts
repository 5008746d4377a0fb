import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { bundleImages, defaultSettings } from '../defaults';
import { generateBundle, GENERATED_HEADER } from './generate';
import { readRecordedRelease } from './recorded';

const root = join(__dirname, '..', '..');
const committed = join(root, 'olm-bundle');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

describe('olm-bundle/', () => {
  // GIVEN the generator and the committed folder
  let generated: ReturnType<typeof generateBundle>;
  beforeAll(() => {
    generated = generateBundle(defaultSettings());
  });

  test('is exactly what `npm run bundle` generates (no drift, no stale files)', () => {
    // WHEN compared file by file
    const onDisk = listFiles(committed)
      .map((p) => relative(committed, p))
      .filter((p) => generated.has(p) || /^(manifests|metadata|catalog|catalog-image)\//.test(p));
    // THEN
    expect(onDisk.sort()).toEqual([...generated.keys()].sort());
    for (const [path, content] of generated) {
      expect({ path, content: readFileSync(join(committed, path), 'utf8') }).toEqual({ path, content });
    }
  });

  test('holds one object per manifest file, each marked as generated', () => {
    const manifests = [...generated].filter(([p]) => p.startsWith('manifests/'));
    // 0.4.0: the six of 0.2.0, the optional-objects ConfigMap (ServiceMonitor and PrometheusRule as data) and the dashboard ConfigMap
    expect(manifests.length).toBe(8);
    for (const [path, content] of manifests) {
      expect(content.startsWith(GENERATED_HEADER)).toBe(true);
      expect({ path, docs: parseAllDocuments(content).length }).toEqual({ path, docs: 1 });
    }
  });

  test('metadata/annotations.yaml and bundle.Dockerfile labels agree', () => {
    const annotations = parse(generated.get('metadata/annotations.yaml')!).annotations;
    expect(annotations).toMatchObject({
      'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
      'operators.operatorframework.io.bundle.package.v1': 'flight-operator',
      'operators.operatorframework.io.bundle.channels.v1': 'stable',
      'operators.operatorframework.io.bundle.channel.default.v1': 'stable',
    });
    const labels = generated
      .get('bundle.Dockerfile')!
      .split('\n')
      .filter((l) => l.startsWith('LABEL '))
      .map((l) => l.slice(6).split('='));
    expect(Object.fromEntries(labels)).toEqual(annotations);
  });

  test('the offline catalog has one package, a stable channel 0.1.0 -> 0.2.0 -> 0.3.0 -> 0.4.0, and every bundle inline', () => {
    const blobs = parseAllDocuments(generated.get('catalog/flight-operator/catalog.yaml')!).map((d) => d.toJS());
    expect(blobs.map((b) => b.schema)).toEqual(['olm.package', 'olm.channel', 'olm.bundle', 'olm.bundle', 'olm.bundle', 'olm.bundle']);
    expect(blobs[0]).toMatchObject({ name: 'flight-operator', defaultChannel: 'stable' });
    expect(blobs[1]).toEqual({
      schema: 'olm.channel',
      package: 'flight-operator',
      name: 'stable',
      entries: [
        { name: 'flight-operator.v0.1.0' },
        { name: 'flight-operator.v0.2.0', replaces: 'flight-operator.v0.1.0', skipRange: '>=0.1.0 <0.2.0' },
        { name: 'flight-operator.v0.3.0', replaces: 'flight-operator.v0.2.0', skipRange: '>=0.1.0 <0.3.0' },
        // 0.1.0 and 0.2.0 upgrade straight to 0.4.0, past 0.3.0 (which needs prometheus-operator's CRDs)
        { name: 'flight-operator.v0.4.0', replaces: 'flight-operator.v0.3.0', skipRange: '>=0.1.0 <0.4.0' },
      ],
    });
    expect(blobs.slice(2).map((b) => b.name)).toEqual(['flight-operator.v0.1.0', 'flight-operator.v0.2.0', 'flight-operator.v0.3.0', 'flight-operator.v0.4.0']);
    // Each bundle carries its own version's manifests: the 0.1.0 CSV is the one generateBundleManifests writes for 0.1.0.
    const objectsOf = (b: any) => b.properties.filter((p: any) => p.type === 'olm.bundle.object').map((p: any) => JSON.parse(Buffer.from(p.value.data, 'base64').toString()));
    expect(blobs.slice(2).map((b) => objectsOf(b)[0].spec.version)).toEqual(['0.1.0', '0.2.0', '0.3.0', '0.4.0']);
    const supporting = ['ClusterServiceVersion', 'CustomResourceDefinition', 'ConfigMap', 'Service', 'PodDisruptionBudget', 'NetworkPolicy'];
    expect(objectsOf(blobs[3]).map((o: any) => o.kind)).toEqual(supporting);
    // 0.3.0 (MONITORING_SINCE) adds the ServiceMonitor, the PrometheusRule and the dashboard ConfigMap
    expect(objectsOf(blobs[4]).map((o: any) => o.kind)).toEqual([...supporting, 'ServiceMonitor', 'PrometheusRule', 'ConfigMap']);
    // 0.4.0 (OPTIONAL_MONITORING_SINCE): no kind OLM could fail on; the ServiceMonitor and PrometheusRule are data in a ConfigMap
    const head = objectsOf(blobs[5]);
    expect(head.map((o: any) => o.kind)).toEqual([...supporting, 'ConfigMap', 'ConfigMap']);
    const optional = head.find((o: any) => o.metadata.name === 'flight-operator-controller-optional-objects');
    expect(Object.values(optional.data).map((d: any) => JSON.parse(d).kind).sort()).toEqual(['PrometheusRule', 'ServiceMonitor']);
    for (const b of blobs.slice(2)) expect(b.properties).toContainEqual({ type: 'olm.gvk', value: { group: 'flights.com', kind: 'FlightTicket', version: 'v1' } });
  });

  test('the published catalog names each bundle image by the digest infra/bundle-image.json records, and carries no manifests inline', () => {
    const blobs = parseAllDocuments(generated.get('catalog-image/flight-operator/catalog.yaml')!).map((d) => d.toJS());
    const lock = bundleImages();
    for (const bundle of blobs.filter((b) => b.schema === 'olm.bundle')) {
      const version = bundle.properties.find((p: any) => p.type === 'olm.package').value.version;
      expect(bundle.image).toMatch(/^ghcr\.io\/flight-operator\/bundle@sha256:[a-f0-9]{64}$/);
      // A recorded release (olm-bundle/releases/) keeps the bundle image it was released with.
      expect(bundle.image).toBe(`${lock.repository}@${readRecordedRelease(version)?.record.bundleImage ?? lock.digests[version]}`);
      expect(bundle.properties.some((p: any) => p.type === 'olm.bundle.object')).toBe(false);
    }
    expect(blobs.filter((b) => b.schema !== 'olm.bundle')).toEqual(
      parseAllDocuments(generated.get('catalog/flight-operator/catalog.yaml')!)
        .map((d) => d.toJS())
        .filter((b) => b.schema !== 'olm.bundle'),
    );
  });
});

test('GIVEN version 0.1.0 THEN the catalog holds only 0.1.0 (what a catalog looked like before 0.2.0)', () => {
  const files = generateBundle(defaultSettings({ version: '0.1.0' }));
  const blobs = parseAllDocuments(files.get('catalog/flight-operator/catalog.yaml')!).map((d) => d.toJS());
  expect(blobs.filter((b) => b.schema === 'olm.bundle').map((b) => b.name)).toEqual(['flight-operator.v0.1.0']);
  expect(blobs.find((b) => b.schema === 'olm.channel').entries).toEqual([{ name: 'flight-operator.v0.1.0' }]);
});

test('GIVEN a bundle-image lock without a release THEN generating olm-bundle/ fails and says which command records it', () => {
  expect(() => generateBundle(defaultSettings(), { images: { repository: 'ghcr.io/flight-operator/bundle', digests: {} } })).toThrow(
    /infra\/bundle-image.json has no bundle image for 0\.\d+\.\d+: run `npm run image -- bundle`/,
  );
});

describe('infra/imports/flights.com.ts', () => {
  test('is what `cdk8s import` generates from our own CRD', () => {
    // GIVEN the synthesized CRD WHEN cdk8s import runs on it THEN it matches the committed class
    const out = mkdtempSync(join(tmpdir(), 'import-'));
    const crdFile = join(out, 'crd.yaml');
    execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'scripts', 'write-crd.ts'), crdFile], { cwd: root });
    execFileSync(join(root, 'node_modules', '.bin', 'cdk8s'), ['import', crdFile, '--language', 'typescript', '--output', out, '--no-check-upgrade'], {
      cwd: out,
      stdio: 'pipe',
    });
    expect(readFileSync(join(out, 'flights.com.ts'), 'utf8')).toBe(readFileSync(join(root, 'infra', 'imports', 'flights.com.ts'), 'utf8'));
  });
});
