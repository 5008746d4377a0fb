/**
 * The committed bundle and catalog through the real operator-framework tools:
 * the validators `operator-sdk bundle validate --select-optional
 * suite=operatorframework` runs, and opm (built from upstream, see tools/).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { defaultSettings } from '../defaults';
import { LATEST_RELEASE, RELEASES } from '../releases';
import { formatFindings, opmRender, opmValidate, validateBundle, type FbcBlob } from '../validate/operator-framework';
import { MONITORING_SINCE } from '../charts/bundle-chart';
import { generateBundleManifests } from './generate';

const bundleDir = join(__dirname, '..', '..', 'olm-bundle');
jest.setTimeout(30 * 60_000); // a cold machine builds the tools first

/** Properties as comparable strings; bundle objects decoded, so key order does not matter. */
function properties(blob: FbcBlob): string[] {
  return ((blob as any).properties as Array<{ type: string; value: any }>)
    .map((p) => (p.type === 'olm.bundle.object' ? `object ${JSON.stringify(sortKeys(JSON.parse(Buffer.from(p.value.data, 'base64').toString())))}` : `${p.type} ${JSON.stringify(sortKeys(p.value))}`))
    .sort();
}
function sortKeys(v: any): any {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

/** A generated bundle in a fresh temporary folder (the caller removes it). */
function writeBundleDir(files: Map<string, string>, version: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bundle-${version}-`));
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('olm-bundle/ under the operator-framework tools', () => {
  test('the bundle passes every operatorframework-suite validator with zero errors and zero warnings', async () => {
    // GIVEN the committed bundle WHEN validated for Kubernetes 1.36
    const report = await validateBundle(bundleDir, { k8sVersion: '1.36' });
    // THEN
    expect(report.bundleName).toBe(`flight-operator.v${LATEST_RELEASE.version}`);
    expect(report.validators).toEqual(expect.arrayContaining(['bundle', 'csv', 'crd', 'operatorhubv2', 'good-practices', 'alpha-deprecated-apis']));
    expect(formatFindings(report)).toBe('');
  });

  test.each(RELEASES.slice(0, -1).map((r) => r.version))('the bundle of the earlier release %s (in the catalog too) passes them with zero findings', async (version) => {
    // GIVEN the bundle the constructs generate for that version
    const dir = writeBundleDir(generateBundleManifests(defaultSettings({ version })), version);
    try {
      const report = await validateBundle(dir, { k8sVersion: '1.36' });
      expect(report.bundleName).toBe(`flight-operator.v${version}`);
      expect(formatFindings(report)).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`GIVEN the release that adds monitoring (${MONITORING_SINCE}) THEN its bundle carries the ServiceMonitor, PrometheusRule and dashboard ConfigMap and passes them with zero findings`, async () => {
    const files = generateBundleManifests(defaultSettings({ version: MONITORING_SINCE }));
    const kinds = [...files.entries()].filter(([p]) => p.startsWith('manifests/')).map(([, c]) => (parseAllDocuments(c)[0].toJS() as { kind: string }).kind);
    expect(kinds).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule', 'ConfigMap']));
    const dir = writeBundleDir(files, MONITORING_SINCE);
    try {
      const report = await validateBundle(dir, { k8sVersion: '1.36' });
      expect(report.bundleName).toBe(`flight-operator.v${MONITORING_SINCE}`);
      expect(formatFindings(report)).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each(['catalog', 'catalog-image'])('the %s flavour passes opm validate', async (flavour) => {
    const r = await opmValidate(join(bundleDir, flavour));
    expect(r).toEqual({ valid: true, output: '' });
  });

  test('the catalog carries exactly the bundle opm renders from manifests/ and metadata/', async () => {
    // GIVEN opm's own rendering of the bundle directory
    const [rendered] = await opmRender(bundleDir);
    const ours = parseAllDocuments(readFileSync(join(bundleDir, 'catalog', 'flight-operator', 'catalog.yaml'), 'utf8'))
      .map((d) => d.toJS() as FbcBlob)
      .find((b) => b.schema === 'olm.bundle' && b.name === rendered.name)!;
    // THEN name, package, related images and every property agree
    expect({ name: ours.name, package: (ours as any).package, relatedImages: (ours as any).relatedImages }).toEqual({
      name: rendered.name,
      package: (rendered as any).package,
      relatedImages: (rendered as any).relatedImages,
    });
    expect(properties(ours)).toEqual(properties(rendered));
  });
});
