/**
 * A small, reproducible OCI image writer: no Docker daemon, no registry, no
 * dependencies beyond node:crypto, node:zlib (CRC-32 and inflating) and pako
 * (deflate).
 *
 * Reproducibility rules (same inputs -> same digests):
 *   - layer tars list their entries sorted by path (byte order), parents
 *     before children, each missing parent directory added as 0755 root:root;
 *   - every entry has the same mtime (SOURCE_DATE_EPOCH, else 0), numeric
 *     uid/gid (0 unless given), empty user/group names, explicit modes, no
 *     xattrs, no atime/ctime, no device numbers;
 *   - gzip streams have a fixed 10-byte header (no file name, mtime 0, OS 3)
 *     written here, and a deflate body from pako, plain JavaScript whose
 *     output depends only on the input and the parameters in GZIP (not on the
 *     CPU, the Node version or its zlib build; node:zlib's deflate picks its
 *     match hash by CPU feature, so its bytes can differ between machines).
 *     pako's version is pinned in package.json and is part of the layer cache
 *     key. diff_ids (digests of the uncompressed tars) depend on nothing but
 *     the entries;
 *   - JSON documents are built with a fixed key order, Labels and ExposedPorts
 *     sorted, `created` derived from the same epoch.
 *
 * Outputs: an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/...) and a docker-archive tarball (manifest.json + config +
 * uncompressed layer tars) that `docker load` and `podman load` accept.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32, gunzipSync } from 'node:zlib';
import { deflateRaw } from 'pako';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function digestOf(data: Buffer | string): string {
  return `sha256:${sha256(data)}`;
}

/** SOURCE_DATE_EPOCH (seconds) when set, else 0. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw)) throw new Error(`SOURCE_DATE_EPOCH must be a whole number of seconds, got "${raw}"`);
  return Number(raw);
}

// ---------------------------------------------------------------------------
// Tar

export type LayerEntry =
  | { type: 'file'; path: string; content: Buffer | string; mode?: number; uid?: number; gid?: number }
  | { type: 'dir'; path: string; mode?: number; uid?: number; gid?: number }
  | { type: 'symlink'; path: string; target: string; uid?: number; gid?: number };

export interface TarOptions {
  /** Seconds since the epoch for every entry (default: sourceDateEpoch()). */
  mtime?: number;
  /** Owner of entries that do not name one (default 0:0). */
  uid?: number;
  gid?: number;
  /** Add missing parent directories (0755, default owner). Default true. */
  parents?: boolean;
}

/** "/a//b/" -> "a/b"; rejects "", "..", and NUL. */
export function normalizePath(p: string): string {
  if (p.includes('\0')) throw new Error(`tar: path contains NUL: ${JSON.stringify(p)}`);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.length === 0) throw new Error(`tar: empty path ${JSON.stringify(p)}`);
  if (parts.includes('..')) throw new Error(`tar: path escapes the root: ${JSON.stringify(p)}`);
  return parts.join('/');
}

const BLOCK = 512;
const MAX_OCTAL_11 = 0o77777777777; // 8 GiB - 1

function octal(n: number, width: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`tar: bad numeric field ${n}`);
  const s = n.toString(8);
  if (s.length > width - 1) throw new Error(`tar: ${n} does not fit a ${width}-byte field`);
  return s.padStart(width - 1, '0') + '\0';
}

function isPlainAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

function headerBlock(h: RawHeader, name: string, prefix: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(h.mode, 8), 100, 'ascii');
  b.write(octal(h.uid, 8), 108, 'ascii');
  b.write(octal(h.gid, 8), 116, 'ascii');
  b.write(octal(h.size, 12), 124, 'ascii');
  b.write(octal(h.mtime, 12), 136, 'ascii');
  b.write('        ', 148, 'ascii');
  b.write(h.typeflag, 156, 'ascii');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  // uname/gname stay empty: ownership is numeric.
  b.write(octal(0, 8), 329, 'ascii');
  b.write(octal(0, 8), 337, 'ascii');
  b.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return b;
}

/** ustar name/prefix split, or undefined when a PAX header is needed. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (!isPlainAscii(name)) return undefined;
  if (name.length <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return { name: rest, prefix };
  }
  return undefined;
}

function pad(size: number): Buffer {
  const r = size % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

function encodeEntry(h: RawHeader, content: Buffer | undefined, out: Buffer[]): void {
  const split = splitName(h.name);
  const linkOk = isPlainAscii(h.linkname) && Buffer.byteLength(h.linkname) <= 100;
  if (!split || !linkOk) {
    let records = '';
    if (!split) records += paxRecord('path', h.name);
    if (!linkOk) records += paxRecord('linkpath', h.linkname);
    const data = Buffer.from(records, 'utf8');
    const base = h.name.replace(/\/$/, '').split('/').pop() ?? 'x';
    const paxName = `PaxHeaders/${Buffer.from(base).subarray(0, 80).toString('latin1').replace(/[^\x20-\x7e]/g, '_')}`;
    out.push(headerBlock({ ...h, name: paxName, size: data.length, typeflag: 'x', linkname: '', mode: 0o644 }, paxName, ''), data, pad(data.length));
  }
  const name = split ?? { name: Buffer.from(h.name).subarray(0, 100).toString('latin1').replace(/[^\x20-\x7e]/g, '_'), prefix: '' };
  const linkname = linkOk ? h.linkname : '';
  out.push(headerBlock({ ...h, linkname }, name.name, name.prefix));
  if (content && content.length) out.push(content, pad(content.length));
}

export interface TarResult {
  tar: Buffer;
  /** Entries as written, sorted (parents included). */
  paths: string[];
}

/** A deterministic tar of the entries (see the rules at the top of this file). */
export function makeTar(entries: LayerEntry[], opts: TarOptions = {}): TarResult {
  const mtime = opts.mtime ?? sourceDateEpoch();
  const defUid = opts.uid ?? 0;
  const defGid = opts.gid ?? 0;
  if (mtime > MAX_OCTAL_11) throw new Error('tar: mtime out of range');

  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const p = normalizePath(e.path);
    if (byPath.has(p)) throw new Error(`tar: duplicate entry ${p}`);
    byPath.set(p, { ...e, path: p });
  }
  if (opts.parents ?? true) {
    for (const p of [...byPath.keys()]) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        const existing = byPath.get(parent);
        if (!existing) byPath.set(parent, { type: 'dir', path: parent });
        else if (existing.type !== 'dir') throw new Error(`tar: ${parent} is a ${existing.type} but ${p} is inside it`);
      }
    }
  }
  const sorted = [...byPath.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: Buffer[] = [];
  for (const p of sorted) {
    const e = byPath.get(p)!;
    const uid = e.uid ?? defUid;
    const gid = e.gid ?? defGid;
    if (e.type === 'file') {
      const content = typeof e.content === 'string' ? Buffer.from(e.content, 'utf8') : e.content;
      if (content.length > MAX_OCTAL_11) throw new Error(`tar: ${p} is too large`);
      encodeEntry({ name: p, mode: (e.mode ?? 0o644) & 0o7777, uid, gid, size: content.length, mtime, typeflag: '0', linkname: '' }, content, out);
    } else if (e.type === 'dir') {
      encodeEntry({ name: `${p}/`, mode: (e.mode ?? 0o755) & 0o7777, uid, gid, size: 0, mtime, typeflag: '5', linkname: '' }, undefined, out);
    } else {
      if (!e.target) throw new Error(`tar: symlink ${p} has no target`);
      encodeEntry({ name: p, mode: 0o777, uid, gid, size: 0, mtime, typeflag: '2', linkname: e.target }, undefined, out);
    }
  }
  out.push(Buffer.alloc(BLOCK * 2));
  return { tar: Buffer.concat(out), paths: sorted };
}

export interface TarEntryInfo {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  target?: string;
  content?: Buffer;
}

function readOctal(b: Buffer, off: number, len: number): number {
  const s = b.toString('ascii', off, off + len).replace(/[\0 ]+$/g, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function readStr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end >= 0 && end < off + len ? end : off + len);
}

/** Parses a tar (ustar + PAX path/linkpath), checking header checksums. For tests and tooling. */
export function readTar(tar: Buffer): TarEntryInfo[] {
  const entries: TarEntryInfo[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((x) => x === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    const stored = readOctal(h, 148, 8);
    if (sum !== stored) throw new Error(`tar: bad header checksum at offset ${off}`);
    const size = readOctal(h, 124, 12);
    const typeflag = String.fromCharCode(h[156] || 48);
    const data = tar.subarray(off + BLOCK, off + BLOCK + size);
    off += BLOCK + size + pad(size).length;
    if (typeflag === 'x') {
      pax = {};
      const text = data.toString('utf8');
      let i = 0;
      while (i < text.length) {
        const sp = text.indexOf(' ', i);
        const len = Number(text.slice(i, sp));
        const rec = text.slice(sp + 1, i + len - 1);
        const eq = rec.indexOf('=');
        pax[rec.slice(0, eq)] = rec.slice(eq + 1);
        i += len;
      }
      continue;
    }
    const prefix = readStr(h, 345, 155);
    let name = readStr(h, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    if (pax.path) name = pax.path;
    const linkname = pax.linkpath ?? readStr(h, 157, 100);
    pax = {};
    const type = typeflag === '0' ? 'file' : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : 'other';
    entries.push({
      path: name.replace(/\/$/, ''),
      type,
      mode: readOctal(h, 100, 8),
      uid: readOctal(h, 108, 8),
      gid: readOctal(h, 116, 8),
      mtime: readOctal(h, 136, 12),
      size,
      ...(type === 'symlink' ? { target: linkname } : {}),
      ...(type === 'file' ? { content: Buffer.from(data) } : {}),
    });
  }
  return entries;
}

// ---------------------------------------------------------------------------
// Gzip

let pakoVersionCache: string | undefined;

/** pako's version, from its package.json (pinned exactly in ours). */
export function pakoVersion(): string {
  pakoVersionCache ??= (JSON.parse(readFileSync(require.resolve('pako/package.json'), 'utf8')) as { version: string }).version;
  return pakoVersionCache;
}

/**
 * The deflate parameters. Every one of them changes the compressed bytes, so
 * all of them are in compressorId() (the layer cache key). Changing any of
 * them, or pako's version, changes every layer digest: the golden test in
 * oci.test.ts says so.
 */
export const GZIP = {
  /**
   * zlib's default level. On the 108 MB Node layer (docs/images.md): level 6
   * ~16 s CPU, 38.42 MiB; level 9 ~45 s, 38.22 MiB (0.5% smaller for ~3x
   * the time).
   */
  level: 6,
  windowBits: 15,
  /** zlib's default (8); 9 made the Node layer larger, not smaller. */
  memLevel: 8,
  /**
   * pako's choice of match hash: true is canonical zlib's, so the stream is
   * byte for byte what canonical zlib (e.g. Debian's libz, Python's zlib)
   * writes with the same parameters, an independent check. It is also smaller
   * on machine code than pako's default (Chromium's 4-byte hash), which finds
   * no 3-byte matches. Set explicitly so a change of pako's default cannot
   * change our digests.
   */
  legacyHash: true,
} as const;

/** e.g. "pako-3.0.3-l6-w15-m8-zlibhash": names the exact compressor for the layer cache. */
export function compressorId(level: number = GZIP.level): string {
  return `pako-${pakoVersion()}-l${level}-w${GZIP.windowBits}-m${GZIP.memLevel}-${GZIP.legacyHash ? 'zlibhash' : 'fasthash'}`;
}

/**
 * The gzip header, always the same 10 bytes for a level: magic, CM=8
 * (deflate), FLG=0 (no name, comment, extra or header CRC), MTIME=0,
 * XFL (2 for level 9, 4 for 1, else 0, as zlib writes it), OS=3 (unix).
 */
export function gzipHeader(level: number): Buffer {
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 9 ? 2 : level === 1 ? 4 : 0, 3]);
}

/**
 * Gzip (RFC 1952) whose bytes depend only on `data` and `level`: the header
 * above, pako's raw deflate of the data, CRC-32 and length. Synchronous work
 * (~16 s of CPU for the 108 MB Node layer at level 6).
 */
export function gzipDeterministicSync(data: Buffer, level: number = GZIP.level): Buffer {
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new Error(`gzip: level must be 1..9, got ${level}`);
  const body = deflateRaw(data, { level, windowBits: GZIP.windowBits, memLevel: GZIP.memLevel, legacyHash: GZIP.legacyHash });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 0x1_0000_0000, 4);
  return Buffer.concat([gzipHeader(level), body, trailer]);
}

/** gzipDeterministicSync, as a promise (kept async for callers; pako itself is synchronous). */
export async function gzipDeterministic(data: Buffer, level: number = GZIP.level): Promise<Buffer> {
  return gzipDeterministicSync(data, level);
}

// ---------------------------------------------------------------------------
// Images

export interface ImageConfig {
  User?: string;
  ExposedPorts?: string[];
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface LayerSpec {
  entries: LayerEntry[];
  /** history[].created_by */
  createdBy: string;
  comment?: string;
  /** uid/gid defaults for this layer (default 0:0). */
  uid?: number;
  gid?: number;
}

export interface ImageSpec {
  layers: LayerSpec[];
  config: ImageConfig;
  architecture?: string;
  os?: string;
  /** Seconds since the epoch for `created`, history and tar mtimes (default sourceDateEpoch()). */
  epoch?: number;
  /** Write history entries (default true). */
  history?: boolean;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
}

export interface BuildOptions {
  gzipLevel?: number;
  /**
   * Folder caching compressed layers by diff_id and compressorId() (pako
   * version, level, parameters): a warm rebuild of an unchanged 100 MB layer
   * costs a tar, a hash and an inflate, not a deflate.
   */
  blobCache?: string;
}

export interface BuiltLayer {
  /** Uncompressed tar. */
  tar: Buffer;
  diffId: string;
  gz: Buffer;
  digest: string;
  paths: string[];
}

export interface BuiltImage {
  layers: BuiltLayer[];
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  architecture: string;
  os: string;
  /** Sum of compressed layers + config + manifest: what a registry stores/pulls. */
  compressedSize: number;
  /** Sum of uncompressed layers: what the image takes on disk once unpacked. */
  uncompressedSize: number;
}

function sortedObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function isoTime(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** The image config JSON, keys in a fixed order. */
export function renderConfig(spec: ImageSpec, diffIds: string[]): Buffer {
  const epoch = spec.epoch ?? sourceDateEpoch();
  const c = spec.config;
  const config: Record<string, unknown> = {};
  if (c.User !== undefined) config.User = c.User;
  if (c.ExposedPorts?.length) config.ExposedPorts = Object.fromEntries([...new Set(c.ExposedPorts)].sort().map((p) => [p, {}]));
  if (c.Env?.length) config.Env = c.Env;
  if (c.Entrypoint) config.Entrypoint = c.Entrypoint;
  if (c.Cmd) config.Cmd = c.Cmd;
  if (c.WorkingDir !== undefined) config.WorkingDir = c.WorkingDir;
  if (c.Labels && Object.keys(c.Labels).length) config.Labels = sortedObject(c.Labels);
  if (c.StopSignal !== undefined) config.StopSignal = c.StopSignal;
  const doc: Record<string, unknown> = {
    created: isoTime(epoch),
    architecture: spec.architecture ?? 'amd64',
    os: spec.os ?? 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  if (spec.history ?? true) {
    doc.history = spec.layers.map((l) => ({ created: isoTime(epoch), created_by: l.createdBy, ...(l.comment ? { comment: l.comment } : {}) }));
  }
  return Buffer.from(JSON.stringify(doc));
}

/**
 * Where the compressed layer with this diff_id lives in a layer cache. The
 * name carries the compressor's identity, so a stream made by another
 * compressor (older entries were named `<hex>.gz9.zlib-<node's zlib version>`)
 * is never taken for this one's: it would inflate to the same tar and pass the
 * check below, yet have other bytes and another digest.
 */
export function layerCacheFile(cacheDir: string, diffId: string, level: number = GZIP.level): string {
  return join(cacheDir, `${diffId.slice('sha256:'.length)}.gz.${compressorId(level)}`);
}

async function compressLayer(tar: Buffer, diffId: string, level: number, cacheDir?: string): Promise<Buffer> {
  if (!cacheDir) return gzipDeterministic(tar, level);
  const file = layerCacheFile(cacheDir, diffId, level);
  if (existsSync(file)) {
    const gz = readFileSync(file);
    // Cheap integrity check: the cached stream must still inflate to this tar.
    // A full gunzip of 100 MB costs ~0.3 s, far less than deflating it again.
    if (sha256(gunzipSync(gz)) === diffId.slice(7)) return gz;
  }
  const gz = await gzipDeterministic(tar, level);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, gz);
  renameSync(tmp, file);
  return gz;
}

/** Builds the layers, config and manifest in memory. Same spec -> same digests. */
export async function buildImage(spec: ImageSpec, opts: BuildOptions = {}): Promise<BuiltImage> {
  const epoch = spec.epoch ?? sourceDateEpoch();
  const level = opts.gzipLevel ?? GZIP.level;
  const layers = await Promise.all(
    spec.layers.map(async (l): Promise<BuiltLayer> => {
      const { tar, paths } = makeTar(l.entries, { mtime: epoch, uid: l.uid, gid: l.gid });
      const diffId = digestOf(tar);
      const gz = await compressLayer(tar, diffId, level, opts.blobCache);
      return { tar, diffId, gz, digest: digestOf(gz), paths };
    }),
  );
  const config = renderConfig({ ...spec, epoch }, layers.map((l) => l.diffId));
  const configDigest = digestOf(config);
  const manifestDoc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.gz.length })),
  };
  if (spec.annotations && Object.keys(spec.annotations).length) manifestDoc.annotations = sortedObject(spec.annotations);
  const manifest = Buffer.from(JSON.stringify(manifestDoc));
  return {
    layers,
    config,
    configDigest,
    manifest,
    manifestDigest: digestOf(manifest),
    architecture: spec.architecture ?? 'amd64',
    os: spec.os ?? 'linux',
    compressedSize: layers.reduce((n, l) => n + l.gz.length, 0) + config.length + manifest.length,
    uncompressedSize: layers.reduce((n, l) => n + l.tar.length, 0),
  };
}

export interface ImageName {
  /** e.g. ghcr.io/flight-operator/controller */
  repository: string;
  /** e.g. 0.1.0 */
  tag: string;
}

function replaceDir(dir: string, fill: (tmp: string) => void): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  fill(tmp);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** The index.json of a one-image layout (exported for tests). */
export function renderIndex(img: BuiltImage, name: ImageName): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        {
          mediaType: MEDIA_TYPES.manifest,
          digest: img.manifestDigest,
          size: img.manifest.length,
          platform: { architecture: img.architecture, os: img.os },
          annotations: {
            'io.containerd.image.name': `${name.repository}:${name.tag}`,
            'org.opencontainers.image.ref.name': name.tag,
          },
        },
      ],
    }),
  );
}

/**
 * Writes an OCI image layout into `dir` (replaced as a whole). The manifest is
 * tagged with org.opencontainers.image.ref.name = tag, so
 * `skopeo copy oci:<dir>:<tag> docker://...` and `oci:<dir>` both work.
 */
export function writeOciLayout(img: BuiltImage, dir: string, name: ImageName): void {
  replaceDir(dir, (tmp) => {
    const blobs = join(tmp, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (digest: string, data: Buffer) => writeFileSync(join(blobs, digest.slice('sha256:'.length)), data);
    for (const l of img.layers) put(l.digest, l.gz);
    put(img.configDigest, img.config);
    put(img.manifestDigest, img.manifest);
    writeFileSync(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(tmp, 'index.json'), renderIndex(img, name));
  });
}

/**
 * The docker-archive tarball (`docker save` format): manifest.json naming the
 * config and the *uncompressed* layer tars, plus a legacy `repositories`
 * file. Loads with `docker load -i` and `podman load -i`; the loaded image ID
 * is the config digest.
 */
export function dockerArchive(img: BuiltImage, name: ImageName, epoch = sourceDateEpoch()): Buffer {
  const hex = (d: string) => d.slice('sha256:'.length);
  const configPath = `blobs/sha256/${hex(img.configDigest)}`;
  const layerPaths = img.layers.map((l) => `blobs/sha256/${hex(l.diffId)}`);
  const ref = `${name.repository}:${name.tag}`;
  const manifest = [{ Config: configPath, RepoTags: [ref], Layers: layerPaths }];
  const entries: LayerEntry[] = [
    { type: 'file', path: 'manifest.json', content: JSON.stringify(manifest) },
    { type: 'file', path: 'repositories', content: JSON.stringify({ [name.repository]: { [name.tag]: hex(img.layers[img.layers.length - 1]?.diffId ?? img.configDigest) } }) },
    { type: 'file', path: configPath, content: img.config },
  ];
  const seen = new Set<string>();
  img.layers.forEach((l, i) => {
    if (seen.has(layerPaths[i])) return; // identical layers are stored once
    seen.add(layerPaths[i]);
    entries.push({ type: 'file', path: layerPaths[i], content: l.tar });
  });
  return makeTar(entries, { mtime: epoch }).tar;
}

export function writeDockerArchive(img: BuiltImage, file: string, name: ImageName, epoch = sourceDateEpoch()): void {
  writeAtomically(file, dockerArchive(img, name, epoch));
}

function writeAtomically(file: string, data: Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * The OCI layout as one tar (an OCI archive), for a node's containerd:
 * `ctr -n k8s.io images import` and `kind load image-archive` take it. Unlike
 * the docker-archive, whose uncompressed layers containerd turns into another
 * manifest (another digest), it keeps the manifest and so the digest. Its
 * index names the manifest twice for containerd (io.containerd.image.name):
 * `<repository>:<tag>` and `<repository>@<digest>`, so a Pod pinned by digest
 * finds the image without a pull; `org.opencontainers.image.ref.name` stays
 * on the first only.
 */
export function ociArchive(img: BuiltImage, name: ImageName, epoch = sourceDateEpoch()): Buffer {
  const index = JSON.parse(renderIndex(img, name).toString('utf8')) as { manifests: Array<{ annotations: Record<string, string> }> };
  const first = index.manifests[0]!;
  index.manifests.push({ ...first, annotations: { 'io.containerd.image.name': `${name.repository}@${img.manifestDigest}` } });
  const blob = (digest: string, content: Buffer): LayerEntry => ({ type: 'file', path: `blobs/sha256/${digest.slice('sha256:'.length)}`, content });
  const blobs = new Map<string, LayerEntry>();
  for (const [d, c] of [...img.layers.map((l) => [l.digest, l.gz] as const), [img.configDigest, img.config] as const, [img.manifestDigest, img.manifest] as const]) blobs.set(d, blob(d, c));
  const entries: LayerEntry[] = [
    { type: 'file', path: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { type: 'file', path: 'index.json', content: JSON.stringify(index) },
    ...blobs.values(),
  ];
  return makeTar(entries, { mtime: epoch }).tar;
}

export function writeOciArchive(img: BuiltImage, file: string, name: ImageName, epoch = sourceDateEpoch()): void {
  writeAtomically(file, ociArchive(img, name, epoch));
}

export interface LoadedLayout {
  index: any;
  manifest: any;
  manifestDigest: string;
  config: any;
  /** Uncompressed layer tars, in order. */
  layers: Buffer[];
}

/**
 * Reads back a one-image OCI layout and checks every digest and size on the
 * way (blob names, manifest descriptors, config diff_ids).
 */
export function readOciLayout(dir: string): LoadedLayout {
  const layout = JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'));
  if (layout.imageLayoutVersion !== '1.0.0') throw new Error(`${dir}: unexpected oci-layout ${JSON.stringify(layout)}`);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const blob = (desc: { digest: string; size: number }): Buffer => {
    const data = readFileSync(join(dir, 'blobs', 'sha256', desc.digest.replace(/^sha256:/, '')));
    if (digestOf(data) !== desc.digest) throw new Error(`${dir}: blob ${desc.digest} does not match its digest`);
    if (data.length !== desc.size) throw new Error(`${dir}: blob ${desc.digest} is ${data.length} bytes, descriptor says ${desc.size}`);
    return data;
  };
  if (index.manifests?.length !== 1) throw new Error(`${dir}: expected one manifest in index.json`);
  const mdesc = index.manifests[0];
  const manifest = JSON.parse(blob(mdesc).toString('utf8'));
  const config = JSON.parse(blob(manifest.config).toString('utf8'));
  const layers = (manifest.layers as Array<{ digest: string; size: number; mediaType: string }>).map((d) => {
    if (d.mediaType !== MEDIA_TYPES.layerGzip) throw new Error(`${dir}: unexpected layer media type ${d.mediaType}`);
    return gunzipSync(blob(d));
  });
  const diffIds = layers.map((t) => digestOf(t));
  if (JSON.stringify(diffIds) !== JSON.stringify(config.rootfs?.diff_ids)) throw new Error(`${dir}: config diff_ids do not match the layers`);
  return { index, manifest, manifestDigest: mdesc.digest, config, layers };
}

/** "123456789" -> "117.7 MiB" */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}
