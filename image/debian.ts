/**
 * Files from pinned Debian packages, never from the host's filesystem: the
 * runtime libraries, CA certificates, os-release and copyright notices come
 * from .deb files fetched with `apt-get download <pkg>=<version>`, checked
 * against the sha256 pinned in image/debian-packages.json, and unpacked with
 * `dpkg-deb -x` into the cache. Whatever the host has installed, the image
 * gets the same bytes.
 *
 * Debian keeps only the newest point release of a package in the archive, so a
 * pin eventually stops being downloadable, sometimes within the hour. The
 * cache outside the clone keeps every .deb it fetched, keyed by package,
 * version and sha256 (and the unpacked tree likewise), so a machine that built
 * a pin once keeps building the same digest. On a machine that never did, the
 * error names each package and version that is gone, what apt offers now, and
 * how to re-pin (`npm run image -- --repin-debian`, which changes the image
 * digest) or where to put the exact .deb to keep the committed digest.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { cachePath, cachedDir, cacheRoot, REPO_ROOT, run } from './cache';
import { sha256, type LayerEntry } from './oci';

export const PINS_FILE = join(REPO_ROOT, 'image', 'debian-packages.json');

export interface Pin {
  version: string;
  architecture: string;
  sha256: string;
}

export interface Pins {
  suite: string;
  architecture: string;
  packages: Record<string, Pin>;
}

export function loadPins(file = PINS_FILE): Pins {
  return JSON.parse(readFileSync(file, 'utf8')) as Pins;
}

const REPIN_STEPS =
  'To move on to the versions the archive has now (this changes the image digests):\n' +
  '  npm run image -- --repin-debian      # apt-get update, then pins every package to its candidate version and sha256\n' +
  '  git diff image/debian-packages.json\n' +
  '  npm run image -- controller && npm run bundle && npm run image -- bundle && npm run bundle && npm run image -- catalog\n' +
  'and commit image/debian-packages.json with infra/controller-image.json, infra/bundle-image.json and olm-bundle/.';

/** How a pinned package is named on disk by apt: libc6_2.36-9+deb12u14_amd64.deb ("libc6:amd64" is saved as libc6_...). */
export function debFileName(name: string, pin: Pin): string {
  return `${name.split(':')[0]}_${pin.version.replace(/:/g, '%3a')}_${pin.architecture}.deb`;
}

/**
 * Where the pinned .deb is cached: keyed by package, version and sha256
 * (`debs/<pkg>_<version>_<arch>.<sha256>.deb`), so a re-pin to other bytes
 * under the same version can never pick up the old file, and a machine that
 * downloaded a pin once keeps building it after the archive dropped it.
 */
export function debCachePath(name: string, pin: Pin): string {
  return cachePath('debs', `${debFileName(name, pin).replace(/\.deb$/, '')}.${pin.sha256}.deb`);
}

/** The cache layout before the sha256 was part of the name: `debs/<pkg>_<version>_<arch>.deb`. */
function legacyDebCachePath(name: string, pin: Pin): string {
  return cachePath('debs', debFileName(name, pin));
}

/** apt cannot download `name=version` (the archive dropped it, or apt's index does not know it). */
export class DebianPinUnavailable extends Error {
  constructor(
    readonly pkg: string,
    readonly pin: Pin,
    /** What apt offers for the package now, e.g. "2.36-9+deb12u15", if anything. */
    readonly candidate: string | undefined,
    readonly aptOutput: string,
  ) {
    super(
      `${pkg}=${pin.version} (${pin.architecture}, sha256 ${pin.sha256}) is pinned in image/debian-packages.json, ` +
        `but apt can no longer download it${candidate ? `; apt's candidate now is ${pkg}=${candidate}` : ''}.\n` +
        `apt-get said: ${aptOutput.trim().split('\n').filter((l) => /^E:|^W:|Err|not found|Unable/i.test(l)).join(' | ') || aptOutput.trim()}`,
    );
    this.name = 'DebianPinUnavailable';
  }
}

/** The explanation for one or more pins that cannot be downloaded and are not cached. */
export function unavailablePinsMessage(errors: DebianPinUnavailable[]): string {
  const list = errors.map((e) => `  ${e.pkg}=${e.pin.version} (sha256 ${e.pin.sha256})${e.candidate ? `: the archive now has ${e.candidate}` : ''}`).join('\n');
  const paths = errors.map((e) => `  ${debCachePath(e.pkg, e.pin)}`).join('\n');
  return (
    `The Debian archive no longer serves ${errors.length === 1 ? 'this pinned package' : 'these pinned packages'}, and this machine has never cached ${errors.length === 1 ? 'it' : 'them'}:\n${list}\n` +
    'Debian drops superseded versions at each point or security release, often within the hour.\n\n' +
    `${REPIN_STEPS}\n\n` +
    'To build the digest committed now instead, put the exact .deb (same sha256) where the cache looks for it, e.g. from the cache of a machine that built before\n' +
    `(${cacheRoot()}/debs/, or set FLIGHT_IMAGE_CACHE to a copy of that cache):\n${paths}\n\n` +
    errors.map((e) => e.message).join('\n')
  );
}

/** apt's ways of saying a version is not there (not: a network failure, which is reported as it is). */
const GONE = /was not found|Unable to locate package|Can't find a source|no longer available|404\s+Not Found/i;

/** Has this process already run apt-get update to retry a missing pin? */
let aptUpdated = false;

/** apt-get download into a temp dir; returns the .deb path. */
function aptDownload(name: string, version: string, into: string): string {
  mkdirSync(into, { recursive: true });
  // Sandbox user root: the temp dir is not readable by _apt, and we only write a file.
  run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${name}=${version}`], { cwd: into, what: `apt-get download ${name}=${version}` });
  const pkg = name.split(':')[0]; // "libc6:amd64" is saved as libc6_<version>_amd64.deb
  const debs = readdirSync(into).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (debs.length !== 1) throw new Error(`apt-get download ${name}=${version} left ${debs.length} .deb files in ${into}`);
  return join(into, debs[0]);
}

/** apt's candidate version of a package, or undefined. */
function aptCandidate(name: string): string | undefined {
  try {
    const m = /Candidate:\s*(\S+)/.exec(run('apt-cache', ['policy', name]).stdout);
    return m && m[1] !== '(none)' ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Downloads name=version. When apt says the version is not there, its index
 * may just be old (a fresh machine, or an index from before the pin): apt-get
 * update once per process, then retry; if it is still missing the archive has
 * dropped it, and DebianPinUnavailable says which package and version.
 */
function downloadPin(name: string, pin: Pin, into: string): string {
  for (let attempt = 0; ; attempt++) {
    rmSync(into, { recursive: true, force: true });
    try {
      return aptDownload(name, pin.version, into);
    } catch (e) {
      const msg = (e as Error).message;
      if (/is not installed/.test(msg)) throw new Error(`${msg}\nThe image build needs Debian's apt-get and dpkg-deb to fetch pinned packages.`);
      if (!GONE.test(msg)) throw new Error(`${msg}\n(Is the apt index current? Try apt-get update.)`);
      if (attempt === 0 && !aptUpdated) {
        aptUpdated = true;
        console.warn(`image: apt cannot download ${name}=${pin.version}; running apt-get update once and retrying`);
        try {
          run('apt-get', ['update', '-q']);
        } catch (u) {
          console.warn(`image: apt-get update failed (retrying with the index apt has):\n${(u as Error).message}`);
        }
        continue;
      }
      throw new DebianPinUnavailable(name, pin, aptCandidate(name), msg);
    }
  }
}

/**
 * The pinned .deb in the cache (see debCachePath), downloading it on first
 * use; its sha256 is checked every time. Throws DebianPinUnavailable when it is
 * neither cached nor downloadable.
 */
export function fetchDeb(name: string, pins: Pins = loadPins()): string {
  const pin = pins.packages[name];
  if (!pin) throw new Error(`image/debian-packages.json has no pin for ${name}`);
  const file = debCachePath(name, pin);
  if (!existsSync(file)) {
    // A cache from before the sha256 was in the name: adopt the file if it is the pinned one.
    const legacy = legacyDebCachePath(name, pin);
    if (existsSync(legacy) && sha256(readFileSync(legacy)) === pin.sha256) renameSync(legacy, file);
  }
  if (!existsSync(file)) {
    const tmp = cachePath('debs', `.download-${process.pid}-${name}`);
    try {
      const got = downloadPin(name, pin, tmp);
      const sum = sha256(readFileSync(got));
      if (sum !== pin.sha256) {
        throw new Error(
          `${name}=${pin.version} downloaded with sha256 ${sum}, but image/debian-packages.json pins ${pin.sha256}.\n` +
            'The archive serves different bytes under the same version (or a different architecture was picked). Check the apt sources, then re-pin deliberately.\n' +
            REPIN_STEPS,
        );
      }
      mkdirSync(dirname(file), { recursive: true });
      renameSync(got, file);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const sum = sha256(readFileSync(file));
  if (sum !== pin.sha256) throw new Error(`cached ${file} has sha256 ${sum}, pinned ${pin.sha256}: delete it and rebuild`);
  return file;
}

export interface ExtractedPackage {
  name: string;
  pin: Pin;
  /** The unpacked data.tar. */
  root: string;
  /** `dpkg-deb -f` output: the package's control fields. */
  control: string;
}

/**
 * extractPackage for each name, reporting every pin that is neither cached
 * nor downloadable at once (unavailablePinsMessage), not just the first.
 */
export function extractPackages(names: string[], pins: Pins = loadPins()): ExtractedPackage[] {
  const out: ExtractedPackage[] = [];
  const gone: DebianPinUnavailable[] = [];
  for (const name of names) {
    try {
      out.push(extractPackage(name, pins));
    } catch (e) {
      if (!(e instanceof DebianPinUnavailable)) throw e;
      gone.push(e);
    }
  }
  if (gone.length) throw new Error(unavailablePinsMessage(gone));
  return out;
}

/**
 * The package unpacked with dpkg-deb -x, cached by name, version and sha256
 * (the first 16 hex digits): once unpacked, a pin builds without its .deb.
 */
export function extractPackage(name: string, pins: Pins = loadPins()): ExtractedPackage {
  const pin = pins.packages[name];
  if (!pin) throw new Error(`image/debian-packages.json has no pin for ${name}`);
  const dir = cachePath('extracted', `${debFileName(name, pin)}-${pin.sha256.slice(0, 16)}`);
  cachedDir(dir, (tmp) => {
    const deb = fetchDeb(name, pins);
    run('dpkg-deb', ['-x', deb, join(tmp, 'root')]);
    writeFileSync(join(tmp, 'control'), run('dpkg-deb', ['-f', deb]).stdout);
  });
  return { name, pin, root: join(dir, 'root'), control: readFileSync(join(dir, 'control'), 'utf8') };
}

/**
 * A layer entry for `path` inside an extracted package. Modes are normalised
 * (0755 when any execute bit is set, else 0644; directories 0755), owner
 * root, so nothing of the host's umask leaks in.
 */
export function packageEntry(pkg: ExtractedPackage, path: string, as: string = path): LayerEntry {
  const src = join(pkg.root, path);
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return { type: 'symlink', path: as, target: readlinkSync(src) };
  if (st.isDirectory()) return { type: 'dir', path: as, mode: 0o755 };
  if (!st.isFile()) throw new Error(`${pkg.name}: ${path} is not a file, directory or symlink`);
  return { type: 'file', path: as, content: readFileSync(src), mode: st.mode & 0o111 ? 0o755 : 0o644 };
}

/** Repins every package in image/debian-packages.json to apt's current candidate. */
export function repin(log: (s: string) => void = console.log): void {
  const pins = loadPins();
  log('apt-get update ...');
  try {
    run('apt-get', ['update', '-q']);
  } catch (e) {
    log(`apt-get update reported errors (continuing with the index it has):\n${(e as Error).message}`);
  }
  const next: Pins = { ...pins, packages: {} };
  for (const name of Object.keys(pins.packages).sort()) {
    const arch = pins.packages[name].architecture === 'all' ? '' : `:${pins.architecture}`;
    const policy = run('apt-cache', ['policy', `${name}${arch}`]).stdout;
    const m = /Candidate:\s*(\S+)/.exec(policy);
    if (!m || m[1] === '(none)') throw new Error(`apt-cache policy ${name}: no candidate version\n${policy}`);
    const tmp = cachePath('debs', `.repin-${process.pid}-${name}`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      const deb = aptDownload(`${name}${arch}`, m[1], tmp);
      const control = run('dpkg-deb', ['-f', deb, 'Architecture']).stdout.trim();
      next.packages[name] = { version: m[1], architecture: control, sha256: sha256(readFileSync(deb)) };
      // Keep it: the next build needs it, and it may leave the archive before long.
      const keep = debCachePath(name, next.packages[name]);
      mkdirSync(dirname(keep), { recursive: true });
      if (!existsSync(keep)) renameSync(deb, keep);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const before = pins.packages[name];
    log(`${name}: ${before.version === m[1] ? `${m[1]} (unchanged)` : `${before.version} -> ${m[1]}`}`);
  }
  const text = JSON.stringify(next, null, 2).replace(/\{\n\s+"version": ("[^"]*"),\n\s+"architecture": ("[^"]*"),\n\s+"sha256": ("[^"]*")\n\s+\}/g, '{ "version": $1, "architecture": $2, "sha256": $3 }');
  writeFileSync(PINS_FILE, `${text}\n`);
  log(`wrote ${PINS_FILE}`);
}

// ---------------------------------------------------------------------------
// Shared libraries of an ELF binary, resolved inside the pinned packages

const LIB_DIRS = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib64', 'lib', 'usr/lib'];

export interface ElfInfo {
  interpreter?: string;
  needed: string[];
}

/** DT_NEEDED and PT_INTERP of an ELF file, read with binutils' readelf. */
export function elfInfo(file: string): ElfInfo {
  const dyn = run('readelf', ['-d', '--wide', file]).stdout;
  const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const prog = run('readelf', ['-l', '--wide', file]).stdout;
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(prog);
  return { needed, ...(interp ? { interpreter: interp[1] } : {}) };
}

export interface ResolvedLibraries {
  entries: LayerEntry[];
  /** Packages that provided at least one entry. */
  packages: string[];
}

/**
 * The closure of shared libraries (and the program interpreter) that the
 * given ELF binaries need, taken from the pinned packages, each with the
 * symlink chain the package ships (libstdc++.so.6 -> libstdc++.so.6.0.30,
 * /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2).
 * Static binaries need nothing.
 */
export function resolveLibraries(binaries: string[], packages: ExtractedPackage[]): ResolvedLibraries {
  const entries = new Map<string, LayerEntry>();
  const used = new Set<string>();
  const done = new Set<string>();

  const findPath = (path: string): ExtractedPackage | undefined => packages.find((p) => existsSync(join(p.root, path)) || isLink(join(p.root, path)));
  /** Adds path (and the chain of symlinks from it); returns the real file's in-package path. */
  const addChain = (path: string, depth = 0): { pkg: ExtractedPackage; real: string } => {
    if (depth > 16) throw new Error(`symlink loop at ${path}`);
    const pkg = findPath(path);
    if (!pkg) {
      throw new Error(`/${path} is needed, but none of the pinned packages (${packages.map((p) => p.name).join(', ')}) ships it: pin the Debian package that does in image/debian-packages.json`);
    }
    used.add(pkg.name);
    const entry = packageEntry(pkg, path);
    entries.set(path, entry);
    if (entry.type === 'symlink') {
      const next = entry.target.startsWith('/') ? entry.target.slice(1) : posix.normalize(posix.join(posix.dirname(path), entry.target));
      return addChain(next, depth + 1);
    }
    return { pkg, real: path };
  };
  const visit = (elf: string) => {
    const info = elfInfo(elf);
    if (info.interpreter) {
      const { pkg, real } = addChain(info.interpreter.replace(/^\//, ''));
      walk(join(pkg.root, real));
    }
    for (const soname of info.needed) {
      const path = LIB_DIRS.map((d) => `${d}/${soname}`).find((p) => findPath(p));
      if (!path) {
        throw new Error(
          `${elf} needs ${soname}, which none of the pinned packages (${packages.map((p) => p.name).join(', ')}) ships.\n` +
            'Add the Debian package that provides it to image/debian-packages.json (find it with `dpkg -S ' + soname + '` on a Debian host).',
        );
      }
      const { pkg, real } = addChain(path);
      walk(join(pkg.root, real));
    }
  };
  const walk = (file: string) => {
    if (done.has(file)) return;
    done.add(file);
    visit(file);
  };
  for (const b of binaries) walk(b);
  return { entries: [...entries.values()], packages: [...used].sort() };
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * What a scanner and a lawyer need to know about the packages we took files
 * from: /var/lib/dpkg/status.d/<pkg> (the control fields, as distroless does,
 * so Trivy/Grype see the versions) and /usr/share/doc/<pkg>/copyright (or the
 * package's doc symlink and the copyright it points to).
 */
export function packageMetadataEntries(used: ExtractedPackage[], all: ExtractedPackage[]): LayerEntry[] {
  const out = new Map<string, LayerEntry>();
  for (const pkg of used) {
    out.set(`var/lib/dpkg/status.d/${pkg.name}`, { type: 'file', path: `var/lib/dpkg/status.d/${pkg.name}`, content: pkg.control.endsWith('\n') ? pkg.control : `${pkg.control}\n` });
    const doc = `usr/share/doc/${pkg.name}`;
    if (isLink(join(pkg.root, doc))) {
      const target = readlinkSync(join(pkg.root, doc));
      out.set(doc, { type: 'symlink', path: doc, target });
      const realDoc = posix.normalize(posix.join('usr/share/doc', target));
      const provider = all.find((p) => existsSync(join(p.root, realDoc, 'copyright')));
      if (!provider) throw new Error(`${pkg.name}: its doc folder links to /${realDoc}, which no pinned package ships (pin the package that owns it, e.g. gcc-12-base)`);
      out.set(`${realDoc}/copyright`, packageEntry(provider, `${realDoc}/copyright`));
    } else if (existsSync(join(pkg.root, doc, 'copyright'))) {
      out.set(`${doc}/copyright`, packageEntry(pkg, `${doc}/copyright`));
    }
  }
  return [...out.values()];
}

/**
 * /etc/ssl/certs/ca-certificates.crt as update-ca-certificates would build it
 * from the package's Mozilla set: every certificate in name order, each ending
 * with a newline.
 */
export function caBundle(pkg: ExtractedPackage): Buffer {
  const dir = join(pkg.root, 'usr/share/ca-certificates/mozilla');
  const names = readdirSync(dir)
    .filter((n) => n.endsWith('.crt'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (names.length === 0) throw new Error(`${pkg.name}: no certificates in ${dir}`);
  return Buffer.concat(
    names.map((n) => {
      const b = readFileSync(join(dir, n));
      return b[b.length - 1] === 0x0a ? b : Buffer.concat([b, Buffer.from('\n')]);
    }),
  );
}
