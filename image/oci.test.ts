import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  buildImage,
  digestOf,
  dockerArchive,
  gzipDeterministic,
  makeTar,
  normalizePath,
  readOciLayout,
  readTar,
  sourceDateEpoch,
  writeOciLayout,
  type ImageSpec,
  type LayerEntry,
} from './oci';

const entries: LayerEntry[] = [
  { type: 'file', path: '/etc/passwd', content: 'root:x:0:0::/root:/sbin/nologin\n' },
  { type: 'dir', path: '/tmp', mode: 0o1777 },
  { type: 'file', path: '/bin/tool', content: Buffer.from([0x7f, 0x45, 0x4c, 0x46]), mode: 0o755 },
  { type: 'symlink', path: '/lib64/ld.so', target: '/lib/x86_64-linux-gnu/ld.so' },
  { type: 'dir', path: '/home/nonroot', mode: 0o700, uid: 65532, gid: 65532 },
];

/** GNU tar's verbose listing, or undefined when tar is not installed. */
function gnuTarList(tar: Buffer): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'oci-test-'));
  try {
    writeFileSync(join(dir, 'l.tar'), tar);
    const r = spawnSync('tar', ['--numeric-owner', '-tvf', join(dir, 'l.tar')], { encoding: 'utf8' });
    if (r.error) return undefined;
    if (r.status !== 0) throw new Error(`tar -t failed: ${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const spec = (overrides: Partial<ImageSpec> = {}): ImageSpec => ({
  epoch: 0,
  layers: [
    { entries, createdBy: 'base' },
    { entries: [{ type: 'file', path: 'app/main.js', content: 'console.log(1)\n' }], createdBy: 'app' },
  ],
  config: {
    User: '65532:65532',
    ExposedPorts: ['8081/tcp', '8080/tcp'],
    Entrypoint: ['/bin/tool'],
    Labels: { 'b.label': '2', 'a.label': '1' },
  },
  ...overrides,
});

describe('makeTar', () => {
  it('GIVEN entries in any order WHEN tarred THEN they are sorted, parents added, modes/owners/mtime fixed', () => {
    const { tar, paths } = makeTar([...entries].reverse(), { mtime: 1700000000 });
    expect(paths).toEqual(['bin', 'bin/tool', 'etc', 'etc/passwd', 'home', 'home/nonroot', 'lib64', 'lib64/ld.so', 'tmp']);
    const read = readTar(tar);
    expect(read.map((e) => e.path)).toEqual(paths);
    const by = Object.fromEntries(read.map((e) => [e.path, e]));
    expect(by['tmp']).toMatchObject({ type: 'dir', mode: 0o1777, uid: 0, gid: 0 });
    expect(by['home']).toMatchObject({ type: 'dir', mode: 0o755 });
    expect(by['home/nonroot']).toMatchObject({ type: 'dir', mode: 0o700, uid: 65532, gid: 65532 });
    expect(by['bin/tool']).toMatchObject({ type: 'file', mode: 0o755, size: 4 });
    expect(by['etc/passwd']).toMatchObject({ type: 'file', mode: 0o644 });
    expect(by['etc/passwd'].content!.toString()).toContain('root:x:0:0');
    expect(by['lib64/ld.so']).toMatchObject({ type: 'symlink', target: '/lib/x86_64-linux-gnu/ld.so' });
    expect(new Set(read.map((e) => e.mtime))).toEqual(new Set([1700000000]));
    expect(tar.length % 512).toBe(0);
  });

  it('GIVEN the same entries twice (shuffled) THEN the bytes are identical', () => {
    const a = makeTar(entries, { mtime: 0 }).tar;
    const b = makeTar([entries[3], entries[0], entries[4], entries[2], entries[1]], { mtime: 0 }).tar;
    expect(digestOf(a)).toBe(digestOf(b));
  });

  it('GIVEN GNU tar THEN it reads the layer with the same names, modes and owners', () => {
    const listing = gnuTarList(makeTar(entries, { mtime: 0 }).tar);
    if (listing === undefined) return; // no tar on this machine
    expect(listing).toMatch(/^drwxrwxrwt 0\/0\s+0 1970-01-01 00:00 tmp\/$/m);
    expect(listing).toMatch(/^drwx------ 65532\/65532\s+0 1970-01-01 00:00 home\/nonroot\/$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0\s+4 1970-01-01 00:00 bin\/tool$/m);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0\s+0 1970-01-01 00:00 lib64\/ld.so -> \/lib\/x86_64-linux-gnu\/ld.so$/m);
  });

  it('GIVEN paths longer than ustar allows THEN PAX headers carry them, and GNU tar agrees', () => {
    const long = `opt/${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
    const link = `x/${'l'.repeat(130)}`;
    const { tar } = makeTar(
      [
        { type: 'file', path: long, content: 'x' },
        { type: 'symlink', path: 'short', target: link },
        { type: 'file', path: `a/${'b'.repeat(120)}/c.txt`, content: 'prefix split' },
      ],
      { mtime: 0 },
    );
    const read = readTar(tar);
    expect(read.find((e) => e.type === 'file' && e.path === long)?.content?.toString()).toBe('x');
    expect(read.find((e) => e.path === 'short')?.target).toBe(link);
    expect(read.find((e) => e.path.endsWith('c.txt'))?.path).toBe(`a/${'b'.repeat(120)}/c.txt`);
    const listing = gnuTarList(tar);
    if (listing !== undefined) {
      expect(listing).toContain(long);
      expect(listing).toContain(`short -> ${link}`);
    }
  });

  it('refuses duplicates, escapes and files used as folders', () => {
    expect(() => makeTar([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a/' }])).toThrow(/duplicate/);
    expect(() => normalizePath('../etc/passwd')).toThrow(/escapes/);
    expect(() => makeTar([{ type: 'file', path: 'a', content: '' }, { type: 'file', path: 'a/b', content: '' }])).toThrow(/inside it/);
  });

  it('takes the default mtime from SOURCE_DATE_EPOCH', () => {
    expect(sourceDateEpoch({})).toBe(0);
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1732233600' })).toBe(1732233600);
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(/SOURCE_DATE_EPOCH/);
  });
});

describe('gzipDeterministic', () => {
  it('writes no name and mtime 0, and inflates back', async () => {
    const data = Buffer.from('hello '.repeat(1000));
    const gz = await gzipDeterministic(data);
    expect([gz[0], gz[1], gz[2], gz[3]]).toEqual([0x1f, 0x8b, 8, 0]); // deflate, no FNAME/FEXTRA/FCOMMENT
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect((await gzipDeterministic(data)).equals(gz)).toBe(true);
  });
});

describe('buildImage', () => {
  it('GIVEN the same spec twice THEN every digest is the same', async () => {
    const a = await buildImage(spec());
    const b = await buildImage(spec());
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(b.configDigest).toBe(a.configDigest);
    expect(b.layers.map((l) => l.digest)).toEqual(a.layers.map((l) => l.digest));
    expect(a.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('GIVEN another epoch or content THEN the digest changes', async () => {
    const a = await buildImage(spec());
    expect((await buildImage(spec({ epoch: 1 }))).manifestDigest).not.toBe(a.manifestDigest);
    const other = spec();
    other.layers[1] = { entries: [{ type: 'file', path: 'app/main.js', content: 'console.log(2)\n' }], createdBy: 'app' };
    const b = await buildImage(other);
    expect(b.manifestDigest).not.toBe(a.manifestDigest);
    expect(b.layers[0].digest).toBe(a.layers[0].digest); // unchanged layer, same blob
  });

  it('writes a config with sorted ports and labels, diff_ids and history', async () => {
    const img = await buildImage(spec());
    const config = JSON.parse(img.config.toString());
    expect(config).toMatchObject({ created: '1970-01-01T00:00:00Z', architecture: 'amd64', os: 'linux' });
    expect(config.config.User).toBe('65532:65532');
    expect(Object.keys(config.config.ExposedPorts)).toEqual(['8080/tcp', '8081/tcp']);
    expect(Object.keys(config.config.Labels)).toEqual(['a.label', 'b.label']);
    expect(config.rootfs.diff_ids).toEqual(img.layers.map((l) => digestOf(l.tar)));
    expect(config.history.map((h: any) => h.created_by)).toEqual(['base', 'app']);
    const manifest = JSON.parse(img.manifest.toString());
    expect(manifest.config).toEqual({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: img.configDigest, size: img.config.length });
    expect(manifest.layers[0]).toEqual({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: img.layers[0].digest, size: img.layers[0].gz.length });
  });

  it('reuses cached compressed layers (and ignores a corrupt cache entry)', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'oci-cache-'));
    try {
      const a = await buildImage(spec(), { blobCache: cache });
      const b = await buildImage(spec(), { blobCache: cache });
      expect(b.manifestDigest).toBe(a.manifestDigest);
      const file = join(cache, `${a.layers[0].diffId.slice(7)}.gz9.zlib-${process.versions.zlib}`);
      expect(existsSync(file)).toBe(true);
      writeFileSync(file, await gzipDeterministic(Buffer.from('not the layer')));
      expect((await buildImage(spec(), { blobCache: cache })).manifestDigest).toBe(a.manifestDigest);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe('OCI layout and docker-archive', () => {
  it('GIVEN a built image WHEN written as a layout THEN it reads back with every digest checked', async () => {
    const img = await buildImage(spec());
    const dir = mkdtempSync(join(tmpdir(), 'oci-layout-'));
    try {
      writeOciLayout(img, join(dir, 'img'), { repository: 'example.com/x', tag: '1.2.3' });
      const back = readOciLayout(join(dir, 'img'));
      expect(back.manifestDigest).toBe(img.manifestDigest);
      expect(back.index.manifests[0].annotations).toEqual({ 'io.containerd.image.name': 'example.com/x:1.2.3', 'org.opencontainers.image.ref.name': '1.2.3' });
      expect(JSON.parse(readFileSync(join(dir, 'img', 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      expect(back.layers.map((t) => digestOf(t))).toEqual(img.layers.map((l) => l.diffId));
      // A tampered blob is caught.
      writeFileSync(join(dir, 'img', 'blobs', 'sha256', img.layers[1].digest.slice(7)), Buffer.from('x'));
      expect(() => readOciLayout(join(dir, 'img'))).toThrow(/does not match/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('GIVEN a built image WHEN saved as docker-archive THEN manifest.json names the config and uncompressed layers', async () => {
    const img = await buildImage(spec());
    const archive = dockerArchive(img, { repository: 'example.com/x', tag: '1.2.3' }, 0);
    expect(digestOf(dockerArchive(img, { repository: 'example.com/x', tag: '1.2.3' }, 0))).toBe(digestOf(archive));
    const files = Object.fromEntries(readTar(archive).filter((e) => e.type === 'file').map((e) => [e.path, e.content!]));
    const [m] = JSON.parse(files['manifest.json'].toString());
    expect(m.RepoTags).toEqual(['example.com/x:1.2.3']);
    expect(digestOf(files[m.Config])).toBe(img.configDigest);
    expect(m.Layers.map((p: string) => digestOf(files[p]))).toEqual(img.layers.map((l) => l.diffId));
    expect(gnuTarList(archive) ?? 'manifest.json').toContain('manifest.json');
  });
});
