import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  buildImage,
  compressorId,
  digestOf,
  dockerArchive,
  GZIP,
  gzipDeterministic,
  gzipDeterministicSync,
  layerCacheFile,
  makeTar,
  ociArchive,
  pakoVersion,
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

/**
 * 96 KiB that tells deflate implementations apart: xorshift32 bytes over a
 * 12-letter alphabet (so many 3-byte matches, which canonical zlib's hash
 * finds and Chromium's does not) with repeated lines mixed in, longer than one
 * deflate block at memLevel 8.
 */
function goldenInput(): Buffer {
  const out = Buffer.alloc(96 * 1024);
  const alphabet = Buffer.from('ACGTflight-0');
  const line = Buffer.from('FlightTicket CAI->LHR seats=2\n');
  let x = 0x2545f491;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = alphabet[(x >>> 0) % alphabet.length];
    if ((x & 0x3ff) === 0 && i + line.length < out.length) {
      line.copy(out, i + 1);
      i += line.length;
    }
  }
  return out;
}

describe('gzipDeterministic', () => {
  it('writes no name and mtime 0, and inflates back', async () => {
    const data = Buffer.from('hello '.repeat(1000));
    const gz = await gzipDeterministic(data);
    expect([gz[0], gz[1], gz[2], gz[3]]).toEqual([0x1f, 0x8b, 8, 0]); // deflate, no FNAME/FEXTRA/FCOMMENT
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[9]).toBe(3); // OS: unix, whatever the build host
    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect((await gzipDeterministic(data)).equals(gz)).toBe(true);
  });

  /*
   * GOLDEN VALUES. Layer digests (and so the manifest digest the CSV pins)
   * are only as stable as the compressor. If this fails, the compressed bytes
   * changed (another pako version, level, parameter or implementation): every
   * image digest changes with it. That can be deliberate; then update these
   * values, docs/images.md, and rebuild and commit infra/controller-image.json
   * with olm-bundle/. The values were computed with pako 3.0.3 and equal
   * canonical zlib 1.2.13's output for the same parameters:
   *   python3 -c 'import zlib,sys; c=zlib.compressobj(6,zlib.DEFLATED,31,8); sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read())+c.flush())'
   */
  it('GIVEN a fixed input THEN the gzip stream has exactly the golden digest (the compressor is pinned)', () => {
    const input = goldenInput();
    expect(digestOf(input)).toBe('sha256:93fdd4311c908325f167cd1c4b01419e587c213099da639124c468c6a403bafd');
    expect(GZIP).toEqual({ level: 6, windowBits: 15, memLevel: 8, legacyHash: true });
    expect(pakoVersion()).toBe('3.0.3');
    const gz6 = gzipDeterministicSync(input);
    expect(gz6.subarray(0, 10).toString('hex')).toBe('1f8b0800000000000003');
    expect(gz6.length).toBe(49984);
    expect(digestOf(gz6)).toBe('sha256:66df8d9a64699dcc626ab5d57d514d09a348bdb1b7d0893053955371d0b3ec22');
    const gz9 = gzipDeterministicSync(input, 9);
    expect(gz9.subarray(0, 10).toString('hex')).toBe('1f8b0800000000000203');
    expect(digestOf(gz9)).toBe('sha256:43c6a5a1c3601bd80dcc118f792490a65638f46d9a4dab1e95326329cb84e53c');
    expect(gunzipSync(gz6).equals(input)).toBe(true);
  });

  it('rejects levels outside 1..9', () => {
    expect(() => gzipDeterministicSync(Buffer.from('x'), 0)).toThrow(/level/);
    expect(() => gzipDeterministicSync(Buffer.from('x'), 10)).toThrow(/level/);
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
      const file = layerCacheFile(cache, a.layers[0].diffId);
      expect(file).toBe(join(cache, `${a.layers[0].diffId.slice(7)}.gz.pako-${pakoVersion()}-l6-w15-m8-zlibhash`));
      expect(file.endsWith(compressorId())).toBe(true);
      expect(existsSync(file)).toBe(true);
      writeFileSync(file, await gzipDeterministic(Buffer.from('not the layer')));
      expect((await buildImage(spec(), { blobCache: cache })).manifestDigest).toBe(a.manifestDigest);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('GIVEN a cache entry another compressor made (old node:zlib naming) THEN it is not used, though it inflates to the same tar', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'oci-cache-'));
    try {
      const fresh = await buildImage(spec());
      for (const l of fresh.layers) {
        // What the node:zlib build left behind: valid gzip of the very same tar, other bytes.
        writeFileSync(join(cache, `${l.diffId.slice(7)}.gz9.zlib-${process.versions.zlib}`), gzipSync(l.tar, { level: 1 }));
        writeFileSync(join(cache, `${l.diffId.slice(7)}.gz.pako-0.0.0-l6-w15-m8-zlibhash`), gzipSync(l.tar, { level: 1 }));
      }
      const cached = await buildImage(spec(), { blobCache: cache });
      expect(cached.layers.map((l) => l.digest)).toEqual(fresh.layers.map((l) => l.digest));
      expect(cached.manifestDigest).toBe(fresh.manifestDigest);
      // Another level is another compressor too.
      expect(layerCacheFile(cache, fresh.layers[0].diffId, 9)).not.toBe(layerCacheFile(cache, fresh.layers[0].diffId));
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

  it('GIVEN a built image WHEN saved as OCI archive THEN its index names the same manifest for containerd by tag and by digest, and every blob is the built one', async () => {
    const img = await buildImage(spec());
    const archive = ociArchive(img, { repository: 'example.com/x', tag: '1.2.3' }, 0);
    expect(digestOf(ociArchive(img, { repository: 'example.com/x', tag: '1.2.3' }, 0))).toBe(digestOf(archive));
    const files = Object.fromEntries(readTar(archive).filter((e) => e.type === 'file').map((e) => [e.path, e.content!]));
    const index = JSON.parse(files['index.json'].toString());
    expect(index.manifests.map((m: { digest: string; annotations: Record<string, string> }) => [m.digest, m.annotations])).toEqual([
      [img.manifestDigest, { 'io.containerd.image.name': 'example.com/x:1.2.3', 'org.opencontainers.image.ref.name': '1.2.3' }],
      [img.manifestDigest, { 'io.containerd.image.name': `example.com/x@${img.manifestDigest}` }],
    ]);
    const blobs = Object.entries(files).filter(([p]) => p.startsWith('blobs/sha256/'));
    for (const [p, c] of blobs) expect(digestOf(c)).toBe(`sha256:${p.slice('blobs/sha256/'.length)}`);
    expect(blobs.map(([p]) => `sha256:${p.slice('blobs/sha256/'.length)}`).sort()).toEqual([img.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)].sort());
  });
});
