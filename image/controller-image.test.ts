import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NONROOT_UID, userEntries, GROUP, PASSWD } from './base';
import { bundleController, controllerImageSpec, CONTROLLER_ENTRY, HEALTH_PORT, METRICS_PORT, type ControllerImageInputs } from './controller-image';
import { caBundle, packageMetadataEntries, resolveLibraries, type ExtractedPackage } from './debian';
import { buildImage, digestOf, readTar, type TarEntryInfo } from './oci';
import { writeControllerLock } from './main';

/** Small stand-ins for the real (100 MB) inputs: the spec is what is under test. */
function inputs(js = 'console.log("controller")\n'): ControllerImageInputs {
  return {
    bundle: { js: Buffer.from(js), legal: Buffer.from('/*! licences */\n'), packages: {} },
    node: { binary: Buffer.from('\x7fELF fake node'), version: 'v24.21.0', strip: 'GNU strip 2.40' },
    base: {
      entries: [
        ...userEntries(),
        { type: 'file', path: 'lib/x86_64-linux-gnu/libc.so.6', content: 'libc', mode: 0o755 },
        { type: 'symlink', path: 'lib64/ld-linux-x86-64.so.2', target: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
        { type: 'file', path: 'etc/ssl/certs/ca-certificates.crt', content: '-----BEGIN CERTIFICATE-----\n' },
      ],
      packages: ['libc6=2.36-9+deb12u14'],
    },
    version: '0.1.0',
  };
}

function files(tar: Buffer): Record<string, TarEntryInfo> {
  return Object.fromEntries(readTar(tar).map((e) => [e.path, e]));
}

describe('controller image', () => {
  it('GIVEN the same inputs twice THEN the image digest is the same; a changed bundle changes only the app layer', async () => {
    const a = await buildImage(controllerImageSpec(inputs(), 0));
    const b = await buildImage(controllerImageSpec(inputs(), 0));
    expect(b.manifestDigest).toBe(a.manifestDigest);
    const c = await buildImage(controllerImageSpec(inputs('console.log("v2")\n'), 0));
    expect(c.manifestDigest).not.toBe(a.manifestDigest);
    expect(c.layers.slice(0, 2).map((l) => l.digest)).toEqual(a.layers.slice(0, 2).map((l) => l.digest));
    expect(c.layers[2].digest).not.toBe(a.layers[2].digest);
  });

  it('runs as the non-root user, exposes metrics and health ports, carries the OCI labels', async () => {
    const img = await buildImage(controllerImageSpec(inputs(), 0));
    const { config } = JSON.parse(img.config.toString());
    expect(config.User).toBe('65532:65532');
    expect(config.ExposedPorts).toEqual({ [`${METRICS_PORT}/tcp`]: {}, [`${HEALTH_PORT}/tcp`]: {} });
    expect(config.Entrypoint).toEqual(['/nodejs/bin/node', '--no-node-snapshot', '--expose-gc', '/app/controller.js']);
    expect(config.Env).toContain('NODE_ENV=production');
    expect(config.Labels).toEqual({
      'org.opencontainers.image.title': 'flight-operator-controller',
      'org.opencontainers.image.description': expect.stringContaining('FlightTicket'),
      'org.opencontainers.image.version': '0.1.0',
      'org.opencontainers.image.source': 'https://github.com/flight-operator/flight-operator',
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
    expect(config.Labels['org.opencontainers.image.revision']).toBeUndefined(); // would break reproducibility
  });

  it('GIVEN the layers THEN they hold the expected files, owners and modes', async () => {
    const img = await buildImage(controllerImageSpec(inputs(), 0));
    const [base, runtime, app] = img.layers.map((l) => files(l.tar));
    expect(base['etc/passwd']).toMatchObject({ type: 'file', mode: 0o644, uid: 0 });
    expect(base['etc/passwd'].content!.toString()).toContain(`nonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin`);
    expect(base['etc/group'].content!.toString()).toContain('nonroot:x:65532:');
    expect(base['etc/nsswitch.conf'].content!.toString()).toContain('hosts: files dns');
    expect(base['tmp']).toMatchObject({ type: 'dir', mode: 0o1777, uid: 0 });
    expect(base['home/nonroot']).toMatchObject({ type: 'dir', mode: 0o700, uid: 65532, gid: 65532 });
    expect(base['lib64/ld-linux-x86-64.so.2']).toMatchObject({ type: 'symlink' });
    expect(Object.keys(base).some((p) => /(^|\/)(sh|bash|busybox|apt|dpkg)$/.test(p))).toBe(false); // no shell, no package manager
    expect(runtime['nodejs/bin/node']).toMatchObject({ type: 'file', mode: 0o755, uid: 0, gid: 0 });
    expect(app['app/controller.js']).toMatchObject({ type: 'file', mode: 0o644, uid: 0 });
    expect(JSON.parse(app['app/package.json'].content!.toString())).toMatchObject({ type: 'commonjs', version: '0.1.0' });
    for (const layer of [base, runtime, app]) for (const e of Object.values(layer)) expect(e.mtime).toBe(0);
  });

  it('passwd and group name only root, nobody and nonroot', () => {
    expect(PASSWD.trim().split('\n').map((l) => l.split(':')[0])).toEqual(['root', 'nobody', 'nonroot']);
    expect(GROUP.trim().split('\n').map((l) => l.split(':')[2])).toEqual(['0', '65534', '65532']);
  });
});

describe('bundleController', () => {
  it(`GIVEN ${CONTROLLER_ENTRY} WHEN bundled twice THEN the bytes are identical CommonJS with the client inside`, async () => {
    const a = await bundleController();
    const b = await bundleController();
    expect(digestOf(b.js)).toBe(digestOf(a.js));
    expect(a.packages['@kubernetes/client-node']).toBeGreaterThan(0);
    const text = a.js.toString();
    expect(text).not.toMatch(/require\("@kubernetes\/client-node"\)/);
    expect(text).not.toMatch(/\bimport\.meta\b/);
  }, 60_000);
});

/** A fake extracted package from host files (test only: the build itself never reads the host). */
function fakePackage(root: string, name: string, files: Record<string, string | { link: string }>, control = `Package: ${name}\nVersion: 1\n`): ExtractedPackage {
  const dir = join(root, name, 'root');
  for (const [p, src] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    if (typeof src === 'string') cpSync(src, join(dir, p));
    else symlinkSync(src.link, join(dir, p));
  }
  mkdirSync(dir, { recursive: true });
  return { name, pin: { version: '1', architecture: 'amd64', sha256: '' }, root: dir, control };
}

const hasReadelf = !spawnSync('readelf', ['--version']).error;

describe('resolveLibraries / package metadata', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'libs-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  (hasReadelf && existsSync('/lib/x86_64-linux-gnu/libc.so.6') ? it : it.skip)(
    'GIVEN a dynamic binary THEN its interpreter and libraries come from the packages, with their symlinks',
    () => {
      const libc = fakePackage(tmp, 'libc6', {
        'lib/x86_64-linux-gnu/libc.so.6': '/lib/x86_64-linux-gnu/libc.so.6',
        'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2': '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
        'lib64/ld-linux-x86-64.so.2': { link: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
      });
      const other = fakePackage(tmp, 'other', { 'usr/share/doc/other/copyright': '/etc/hostname' });
      const r = resolveLibraries(['/bin/true'], [other, libc]);
      expect(r.packages).toEqual(['libc6']);
      const paths = r.entries.map((e) => `${e.path}${e.type === 'symlink' ? ` -> ${e.target}` : ''}`).sort();
      expect(paths).toEqual([
        'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
        'lib/x86_64-linux-gnu/libc.so.6',
        'lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      ]);
      const libcEntry = r.entries.find((e) => e.path === 'lib/x86_64-linux-gnu/libc.so.6');
      expect(libcEntry?.type === 'file' && Buffer.from(libcEntry.content).equals(readFileSync('/lib/x86_64-linux-gnu/libc.so.6'))).toBe(true);
      const interp = fakePackage(tmp, 'interp', { 'lib64/ld-linux-x86-64.so.2': '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' });
      expect(() => resolveLibraries(['/bin/true'], [interp])).toThrow(/needs libc\.so\.6, which none of the pinned packages \(interp\)/);
      expect(() => resolveLibraries(['/bin/true'], [other])).toThrow(/ld-linux-x86-64\.so\.2 is needed, but none of the pinned packages \(other\)/);
    },
  );

  it('writes status.d control files and follows doc symlinks to the copyright', () => {
    writeFileSync(join(tmp, 'copyright'), 'GPL');
    const base = fakePackage(tmp, 'gcc-12-base', { 'usr/share/doc/gcc-12-base/copyright': join(tmp, 'copyright') });
    const lib = fakePackage(tmp, 'libstdc++6', { 'usr/share/doc/libstdc++6': { link: 'gcc-12-base' } });
    const out = packageMetadataEntries([lib], [base, lib]);
    expect(out.map((e) => e.path).sort()).toEqual(['usr/share/doc/gcc-12-base/copyright', 'usr/share/doc/libstdc++6', 'var/lib/dpkg/status.d/libstdc++6']);
    expect(out.find((e) => e.path === 'var/lib/dpkg/status.d/libstdc++6')).toMatchObject({ content: 'Package: libstdc++6\nVersion: 1\n' });
  });

  it('builds the CA bundle in name order, each certificate newline-terminated', () => {
    writeFileSync(join(tmp, 'b.crt'), 'B');
    writeFileSync(join(tmp, 'a.crt'), 'A\n');
    const ca = fakePackage(tmp, 'ca-certificates', { 'usr/share/ca-certificates/mozilla/B.crt': join(tmp, 'b.crt'), 'usr/share/ca-certificates/mozilla/A.crt': join(tmp, 'a.crt') });
    expect(caBundle(ca).toString()).toBe('A\nB\n');
  });
});

describe('writeControllerLock', () => {
  it('writes repository, tag and digest, and reports whether it changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    try {
      const file = join(dir, 'controller-image.json');
      const ref = { repository: 'ghcr.io/flight-operator/controller', tag: '0.1.0' };
      const digest = `sha256:${'a'.repeat(64)}`;
      expect(writeControllerLock(ref, digest, file)).toBe(true);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ ...ref, digest });
      expect(writeControllerLock(ref, digest, file)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
