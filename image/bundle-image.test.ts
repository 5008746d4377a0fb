import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { userEntries } from './base';
import { BUNDLE_DIR, bundleImageSpec, readBundleDockerfile } from './bundle-image';
import { catalogImageSpec, CATALOG_DIR } from './catalog-image';
import { buildImage, readTar, type LayerEntry } from './oci';

const annotations = (parse(readFileSync(join(BUNDLE_DIR, 'metadata', 'annotations.yaml'), 'utf8')) as { annotations: Record<string, string> }).annotations;

describe('bundle image', () => {
  it('GIVEN olm-bundle/ twice THEN the digest is the same', async () => {
    const a = await buildImage(bundleImageSpec({}, 0));
    const b = await buildImage(bundleImageSpec({}, 0));
    expect(b.manifestDigest).toBe(a.manifestDigest);
  });

  it('is FROM scratch with /manifests and /metadata (one layer per COPY) and the annotations as labels', async () => {
    const img = await buildImage(bundleImageSpec({}, 0));
    const config = JSON.parse(img.config.toString());
    expect(config.config).toEqual({ Labels: annotations }); // no user, entrypoint or env: nothing but labels
    expect(config.config.Labels['operators.operatorframework.io.bundle.mediatype.v1']).toBe('registry+v1');
    const [manifests, metadata] = img.layers.map((l) => readTar(l.tar));
    expect(manifests.filter((e) => e.type === 'file').map((e) => e.path)).toContain('manifests/flight-operator.clusterserviceversion.yaml');
    expect(manifests.every((e) => e.path === 'manifests' || e.path.startsWith('manifests/'))).toBe(true);
    expect(metadata.map((e) => [e.path, e.type, e.mode])).toEqual([
      ['metadata', 'dir', 0o755],
      ['metadata/annotations.yaml', 'file', 0o644],
    ]);
    const csv = manifests.find((e) => e.path.endsWith('.clusterserviceversion.yaml'))!;
    expect(csv.content!.equals(readFileSync(join(BUNDLE_DIR, 'manifests', 'flight-operator.clusterserviceversion.yaml')))).toBe(true);
    expect(manifests.every((e) => e.uid === 0 && e.gid === 0 && e.mtime === 0)).toBe(true);
  });

  it('GIVEN a bundle.Dockerfile whose labels drift from annotations.yaml THEN the build refuses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    try {
      cpSync(BUNDLE_DIR, dir, { recursive: true });
      const df = join(dir, 'bundle.Dockerfile');
      writeFileSync(df, readFileSync(df, 'utf8').replace('channels.v1=stable', 'channels.v1=alpha'));
      expect(() => bundleImageSpec({ dir })).toThrow(/LABELs differ/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the Dockerfile forms the generator writes, and nothing else', () => {
    expect(readBundleDockerfile('FROM scratch\nLABEL a=b\nCOPY manifests /manifests/\n')).toEqual({ labels: { a: 'b' }, copies: [{ from: 'manifests', to: '/manifests/' }] });
    expect(() => readBundleDockerfile('FROM alpine\n')).toThrow(/FROM scratch/);
    expect(() => readBundleDockerfile('FROM scratch\nRUN rm -rf /\n')).toThrow(/RUN is not supported/);
  });
});

describe('catalog image', () => {
  const spec = () =>
    catalogImageSpec({ opm: { binary: Buffer.from('\x7fELF fake opm'), version: 'Version: version.Version{OpmVersion:"v1.2.3", GitCommit:"x", BuildDate:"now"}' }, base: { entries: userEntries(), packages: [] }, version: '0.1.0' }, 0);

  it('serves /configs with opm as 65532, labelled for OLM, reproducibly', async () => {
    const img = await buildImage(spec());
    expect((await buildImage(spec())).manifestDigest).toBe(img.manifestDigest);
    const c = JSON.parse(img.config.toString());
    expect(c.config).toMatchObject({
      User: '65532:65532',
      Entrypoint: ['/bin/opm'],
      // opm would refuse --cache-dir without a pre-built cache; the reproducible image builds it at start
      Cmd: ['serve', '/configs', '--cache-dir=/tmp/cache', '--cache-enforce-integrity=false'],
      ExposedPorts: { '50051/tcp': {} },
    });
    expect(c.config.Labels['operators.operatorframework.io.index.configs.v1']).toBe('/configs');
    expect(c.history[1].created_by).toMatch(/opm v1\.2\.3 \(sha256 [0-9a-f]{12}\)/); // no build date
    const [base, bin, configs] = img.layers.map((l) => Object.fromEntries(readTar(l.tar).map((e) => [e.path, e])));
    expect(base['tmp']).toMatchObject({ mode: 0o1777 });
    expect(bin['bin/opm']).toMatchObject({ type: 'file', mode: 0o755, uid: 0 });
    expect(configs['configs/flight-operator/catalog.yaml']).toMatchObject({ type: 'file', mode: 0o644 });
    expect(configs['configs/flight-operator/catalog.yaml'].content!.equals(readFileSync(join(CATALOG_DIR, 'flight-operator', 'catalog.yaml')))).toBe(true);
    expect(img.layers).toHaveLength(3); // no baked cache
  });

  it('GIVEN a baked cache THEN Cmd is upstream\'s exactly and the cache is owned by 65532', async () => {
    const bakedCache: LayerEntry[] = [
      { type: 'dir', path: 'tmp', mode: 0o1777 },
      { type: 'dir', path: 'tmp/cache', mode: 0o770, uid: 65532, gid: 65532 },
      { type: 'file', path: 'tmp/cache/pogreb.v1/digest', content: '0123456789abcdef', mode: 0o660, uid: 65532, gid: 65532 },
    ];
    const s = spec();
    const img = await buildImage(catalogImageSpec({ opm: { binary: Buffer.from('x'), version: '' }, base: { entries: userEntries(), packages: [] }, version: '0.1.0', bakedCache }, 0));
    expect(JSON.parse(img.config.toString()).config.Cmd).toEqual(['serve', '/configs', '--cache-dir=/tmp/cache']);
    expect(img.layers).toHaveLength(s.layers.length + 1);
    const cache = Object.fromEntries(readTar(img.layers[3].tar).map((e) => [e.path, e]));
    expect(cache['tmp']).toMatchObject({ uid: 0, mode: 0o1777 }); // the layer must not reset /tmp
    expect(cache['tmp/cache']).toMatchObject({ uid: 65532, mode: 0o770 });
    expect(cache['tmp/cache/pogreb.v1']).toMatchObject({ uid: 0, mode: 0o755 }); // parents added by makeTar
  });
});
