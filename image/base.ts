/**
 * The "distroless" base the images share: users and groups with a non-root
 * user 65532 (nonroot), a minimal nsswitch.conf, /tmp (1777), home folders,
 * and optionally the CA bundle, os-release, and the shared libraries some
 * binaries need, all from pinned Debian packages (image/debian.ts). No shell,
 * no package manager.
 */
import type { LayerEntry } from './oci';
import { caBundle, extractPackages, loadPins, packageEntry, packageMetadataEntries, resolveLibraries, type ExtractedPackage, type Pins } from './debian';

export const NONROOT_UID = 65532;
export const NONROOT_GID = 65532;
export const NONROOT_USER = `${NONROOT_UID}:${NONROOT_GID}`;

export const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
  `nonroot:x:${NONROOT_UID}:${NONROOT_GID}:nonroot:/home/nonroot:/sbin/nologin`,
  '',
].join('\n');

export const GROUP = ['root:x:0:', 'nobody:x:65534:', `nonroot:x:${NONROOT_GID}:`, ''].join('\n');

/** glibc's NSS: files for everything, DNS for hosts (both built into libc.so.6 since glibc 2.34). */
export const NSSWITCH = ['passwd: files', 'group: files', 'shadow: files', 'hosts: files dns', 'networks: files', 'protocols: files', 'services: files', ''].join('\n');

/** passwd, group, nsswitch.conf, /tmp, /root, /home/nonroot. */
export function userEntries(): LayerEntry[] {
  return [
    { type: 'file', path: 'etc/passwd', content: PASSWD, mode: 0o644 },
    { type: 'file', path: 'etc/group', content: GROUP, mode: 0o644 },
    { type: 'file', path: 'etc/nsswitch.conf', content: NSSWITCH, mode: 0o644 },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'home/nonroot', mode: 0o700, uid: NONROOT_UID, gid: NONROOT_GID },
  ];
}

export interface DebianBaseOptions {
  /** ELF binaries (host paths) whose shared libraries go into the layer. */
  binaries?: string[];
  /** /etc/ssl/certs/ca-certificates.crt from the ca-certificates package (default true). */
  caCertificates?: boolean;
  /** /etc/os-release from base-files (default true): scanners need it to read status.d. */
  osRelease?: boolean;
  pins?: Pins;
}

export interface DebianBase {
  entries: LayerEntry[];
  /** name=version of each package the layer took files from. */
  packages: string[];
}

/** userEntries() plus libraries, certificates, os-release and package metadata from pinned .debs. */
export function debianBase(opts: DebianBaseOptions = {}): DebianBase {
  const pins = opts.pins ?? loadPins();
  const all: ExtractedPackage[] = extractPackages(Object.keys(pins.packages).sort(), pins);
  const byName = (n: string) => {
    const p = all.find((x) => x.name === n);
    if (!p) throw new Error(`image/debian-packages.json must pin ${n}`);
    return p;
  };
  const entries: LayerEntry[] = [...userEntries()];
  const used = new Set<ExtractedPackage>();

  const libs = resolveLibraries(opts.binaries ?? [], all);
  entries.push(...libs.entries);
  for (const n of libs.packages) used.add(byName(n));

  if (opts.caCertificates ?? true) {
    const ca = byName('ca-certificates');
    entries.push({ type: 'file', path: 'etc/ssl/certs/ca-certificates.crt', content: caBundle(ca), mode: 0o644 });
    used.add(ca);
  }
  if (opts.osRelease ?? true) {
    const bf = byName('base-files');
    entries.push(packageEntry(bf, 'usr/lib/os-release'), packageEntry(bf, 'etc/os-release'));
    used.add(bf);
  }
  const usedList = [...used].sort((a, b) => (a.name < b.name ? -1 : 1));
  entries.push(...packageMetadataEntries(usedList, all));
  return { entries, packages: usedList.map((p) => `${p.name}=${p.pin.version}`) };
}
