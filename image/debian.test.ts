import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debCachePath, extractPackages, fetchDeb, type Pins } from './debian';
import { sha256 } from './oci';

/**
 * A fake apt: `apt-get download` serves only the versions in $FAKE_APT_HAS
 * ("name=version" words, content "deb <name> <version>"), `apt-get update`
 * and every call are logged, `apt-cache policy` says the candidate is 2.0.
 */
const FAKE_APT_GET = `#!/bin/sh
echo "apt-get $*" >> "$FAKE_APT_LOG"
case "$1" in
  update) exit 0 ;;
  download)
    for a in "$@"; do case "$a" in *=*) want="$a" ;; esac; done
    for h in $FAKE_APT_HAS; do
      if [ "$h" = "$want" ]; then
        name=\${want%%=*}; version=\${want#*=}
        printf 'deb %s %s' "$name" "$version" > "\${name}_\${version}_amd64.deb"
        exit 0
      fi
    done
    echo "E: Version '\${want#*=}' for '\${want%%=*}' was not found" >&2
    exit 100 ;;
esac
exit 1
`;
const FAKE_APT_CACHE = `#!/bin/sh
echo "apt-cache $*" >> "$FAKE_APT_LOG"
printf '%s:\\n  Installed: (none)\\n  Candidate: 2.0\\n  Version table:\\n     2.0 500\\n' "$2"
`;

const debBytes = (name: string, version: string) => Buffer.from(`deb ${name} ${version}`);
const pinOf = (name: string, version: string) => ({ version, architecture: 'amd64', sha256: sha256(debBytes(name, version)) });

describe('pinned Debian packages: cache and errors', () => {
  let dir: string;
  const saved = { PATH: process.env.PATH, FLIGHT_IMAGE_CACHE: process.env.FLIGHT_IMAGE_CACHE, FAKE_APT_LOG: process.env.FAKE_APT_LOG, FAKE_APT_HAS: process.env.FAKE_APT_HAS };
  const log = () => (existsSync(join(dir, 'apt.log')) ? readFileSync(join(dir, 'apt.log'), 'utf8') : '');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'debian-test-'));
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'apt-get'), FAKE_APT_GET);
    writeFileSync(join(dir, 'bin', 'apt-cache'), FAKE_APT_CACHE);
    chmodSync(join(dir, 'bin', 'apt-get'), 0o755);
    chmodSync(join(dir, 'bin', 'apt-cache'), 0o755);
    process.env.PATH = `${join(dir, 'bin')}:${saved.PATH}`;
    process.env.FLIGHT_IMAGE_CACHE = join(dir, 'cache');
    process.env.FAKE_APT_LOG = join(dir, 'apt.log');
    process.env.FAKE_APT_HAS = '';
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN a pin apt serves THEN it is cached under package, version and sha256, and used from there without apt', () => {
    process.env.FAKE_APT_HAS = 'foo=1.0';
    const pins: Pins = { suite: 'bookworm', architecture: 'amd64', packages: { foo: pinOf('foo', '1.0') } };
    const file = fetchDeb('foo', pins);
    expect(file).toBe(join(dir, 'cache', 'debs', `foo_1.0_amd64.${pins.packages.foo.sha256}.deb`));
    expect(file).toBe(debCachePath('foo', pins.packages.foo));
    expect(readFileSync(file)).toEqual(debBytes('foo', '1.0'));
    // The archive moves on: the cached copy still builds.
    process.env.FAKE_APT_HAS = 'foo=2.0';
    writeFileSync(join(dir, 'apt.log'), '');
    expect(fetchDeb('foo', pins)).toBe(file);
    expect(log()).toBe('');
  });

  it('GIVEN a cache from before the sha256 was in the name THEN the pinned file is adopted, not downloaded again', () => {
    const pins: Pins = { suite: 'bookworm', architecture: 'amd64', packages: { foo: pinOf('foo', '1.0') } };
    mkdirSync(join(dir, 'cache', 'debs'), { recursive: true });
    writeFileSync(join(dir, 'cache', 'debs', 'foo_1.0_amd64.deb'), debBytes('foo', '1.0'));
    expect(fetchDeb('foo', pins)).toBe(debCachePath('foo', pins.packages.foo));
    expect(existsSync(join(dir, 'cache', 'debs', 'foo_1.0_amd64.deb'))).toBe(false);
    expect(log()).toBe('');
  });

  it('GIVEN a re-pin to other bytes under the same version THEN the old cached file is not taken for it', () => {
    process.env.FAKE_APT_HAS = 'foo=1.0';
    const old = { version: '1.0', architecture: 'amd64', sha256: sha256('other bytes') };
    mkdirSync(join(dir, 'cache', 'debs'), { recursive: true });
    writeFileSync(debCachePath('foo', old), 'other bytes');
    const pins: Pins = { suite: 'bookworm', architecture: 'amd64', packages: { foo: pinOf('foo', '1.0') } };
    expect(debCachePath('foo', pins.packages.foo)).not.toBe(debCachePath('foo', old));
    expect(readFileSync(fetchDeb('foo', pins))).toEqual(debBytes('foo', '1.0'));
  });

  // The first test in this file to hit a missing version (debian.ts runs apt-get update once per process).
  it('GIVEN pins the archive dropped and no cached copy THEN apt is updated once, and the error names each package and version and how to re-pin', () => {
    process.env.FAKE_APT_HAS = 'bar=2.0 foo=2.0';
    const pins: Pins = { suite: 'bookworm', architecture: 'amd64', packages: { bar: pinOf('bar', '1.0'), foo: pinOf('foo', '1.1') } };
    let message = '';
    try {
      extractPackages(['bar', 'foo'], pins);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('The Debian archive no longer serves these pinned packages');
    expect(message).toContain(`  bar=1.0 (sha256 ${pins.packages.bar.sha256}): the archive now has 2.0`);
    expect(message).toContain(`  foo=1.1 (sha256 ${pins.packages.foo.sha256}): the archive now has 2.0`);
    expect(message).toContain('npm run image -- --repin-debian');
    expect(message).toContain(debCachePath('foo', pins.packages.foo));
    expect(message).toContain("E: Version '1.1' for 'foo' was not found");
    expect(log().split('\n').filter((l) => l === 'apt-get update -q')).toHaveLength(1);
  });

  it('GIVEN apt serves other bytes under the pinned version THEN it refuses them', () => {
    process.env.FAKE_APT_HAS = 'foo=1.0';
    const pins: Pins = { suite: 'bookworm', architecture: 'amd64', packages: { foo: { version: '1.0', architecture: 'amd64', sha256: sha256('what was pinned') } } };
    expect(() => fetchDeb('foo', pins)).toThrow(/downloaded with sha256 .*but image\/debian-packages.json pins/s);
    expect(existsSync(debCachePath('foo', pins.packages.foo))).toBe(false);
  });
});
