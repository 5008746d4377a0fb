/**
 * Files from pinned Debian packages, never from the host's filesystem: the
 * runtime libraries, CA certificates, os-release and copyright notices come
 * from .deb files fetched with `apt-get download <pkg>=<version>`, checked
 * against the sha256 pinned in image/debian-packages.json, and unpacked with
 * `dpkg-deb -x` into the cache. Whatever the host has installed, the image
 * gets the same bytes.
 *
 * Debian keeps only the newest point release of a package in the archive, so a
 * pin eventually stops being downloadable: the error says so and how to
 * re-pin (`npm run image -- --repin-debian`), which changes the image digest.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { cachePath, cachedDir, REPO_ROOT, run } from './cache';
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

const REPIN_HINT =
  'Debian drops superseded versions from the archive at each point release. Re-pin with\n' +
  '  npm run image -- --repin-debian\n' +
  '(apt-get update, then pins every package in image/debian-packages.json to its current candidate and sha256),\n' +
  'review the diff, rebuild (`npm run image`) and commit image/debian-packages.json with the new infra/controller-image.json.';

function debFileName(name: string, pin: Pin): string {
  return `${name}_${pin.version.replace(/:/g, '%3a')}_${pin.architecture}.deb`;
}

/** apt-get download into a temp dir; returns the .deb path. */
function aptDownload(name: string, version: string, into: string): string {
  mkdirSync(into, { recursive: true });
  try {
    // Sandbox user root: the temp dir is not readable by _apt, and we only write a file.
    run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${name}=${version}`], { cwd: into, what: `apt-get download ${name}=${version}` });
  } catch (e) {
    const msg = (e as Error).message;
    if (/not installed/.test(msg)) throw new Error(`${msg}\nThe image build needs Debian's apt-get and dpkg-deb to fetch pinned packages.`);
    if (/was not found|Unable to locate package|Can't find a source|no longer available/i.test(msg)) {
      throw new Error(`image/debian-packages.json pins ${name}=${version}, which apt can no longer download:\n${msg}\n\n${REPIN_HINT}`);
    }
    throw new Error(`${msg}\n(Is the apt index current? Try apt-get update.)`);
  }
  const pkg = name.split(':')[0]; // "libc6:amd64" is saved as libc6_<version>_amd64.deb
  const debs = readdirSync(into).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (debs.length !== 1) throw new Error(`apt-get download ${name}=${version} left ${debs.length} .deb files in ${into}`);
  return join(into, debs[0]);
}

/** The pinned .deb in the cache, downloading it on first use; its sha256 is checked every time. */
export function fetchDeb(name: string, pins: Pins = loadPins()): string {
  const pin = pins.packages[name];
  if (!pin) throw new Error(`image/debian-packages.json has no pin for ${name}`);
  const file = cachePath('debs', debFileName(name, pin));
  if (!existsSync(file)) {
    const tmp = cachePath('debs', `.download-${process.pid}-${name}`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      const got = aptDownload(name, pin.version, tmp);
      const sum = sha256(readFileSync(got));
      if (sum !== pin.sha256) {
        throw new Error(
          `${name}=${pin.version} downloaded with sha256 ${sum}, but image/debian-packages.json pins ${pin.sha256}.\n` +
            'The archive serves different bytes under the same version (or a different architecture was picked). Check the apt sources, then re-pin deliberately:\n' +
            REPIN_HINT,
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

/** The package unpacked with dpkg-deb -x (cached by name, version and sha256). */
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
