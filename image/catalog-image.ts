/**
 * The catalog image: the file-based catalog (olm-bundle/catalog/) at /configs
 * served by opm, the way upstream catalog images are laid out:
 *
 *   ENTRYPOINT ["/bin/opm"]
 *   CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]
 *   LABEL operators.operatorframework.io.index.configs.v1=/configs
 *
 * opm comes from `tools/ensure.sh opm` (built from its Go module with
 * CGO_ENABLED=0; FLIGHT_OPM overrides with a path to a binary). A static opm
 * needs no libraries; a dynamic one gets its shared libraries from the pinned
 * Debian packages, like the controller's Node. The catalog is checked with
 * `opm validate` before it is packed. Runs as 65532:65532; /tmp is 1777 for
 * the cache.
 *
 * The serve cache. `opm serve --cache-dir=X` refuses to start unless X holds
 * a cache built beforehand (--cache-enforce-integrity defaults to true with
 * --cache-dir), which is why upstream catalog Dockerfiles RUN
 * `opm serve /configs --cache-dir=/tmp/cache --cache-only`. But opm's pogreb
 * cache is not reproducible: pogreb picks a random hash seed, so every build
 * of the same catalog gives other bytes. Two modes, therefore:
 *   - "runtime" (default, reproducible): no cache in the image; Cmd adds
 *     --cache-enforce-integrity=false, so opm builds /tmp/cache when the pod
 *     starts (milliseconds for this catalog; /tmp must be writable);
 *   - "baked": the upstream layout, Cmd exactly
 *     ["serve", "/configs", "--cache-dir=/tmp/cache"] and the cache in
 *     /tmp/cache (owned by 65532); needed for OLM's grpcPodConfig.extractContent.
 *     The digest changes with every build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { debianBase, NONROOT_GID, NONROOT_UID, NONROOT_USER, type DebianBase } from './base';
import { treeEntries } from './bundle-image';
import { cachePath, REPO_ROOT, run } from './cache';
import { elfInfo } from './debian';
import { RELEASE } from '../infra/defaults';
import { LATEST_RELEASE } from '../infra/releases';
import { buildImage, sha256, type BuildOptions, type BuiltImage, type ImageName, type ImageSpec, type LayerEntry } from './oci';

export const CATALOG_DIR = join(REPO_ROOT, 'olm-bundle', 'catalog');
export const CATALOG_REPOSITORY = 'ghcr.io/flight-operator/catalog';
export const GRPC_PORT = 50051;

/** Tagged with the latest operator release: the head of the channel it serves. */
export function catalogImageName(): ImageName {
  return { repository: CATALOG_REPOSITORY, tag: LATEST_RELEASE.version };
}

/** Folder holding opm (and grpc_health_probe when the family builds it). */
export function opmBinDir(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): string {
  if (process.env.FLIGHT_OPM) return dirname(process.env.FLIGHT_OPM);
  if (!existsSync(join(REPO_ROOT, 'tools', 'opm', 'build.sh'))) {
    throw new Error('tools/opm/build.sh is missing: the catalog image needs opm (tools/ensure.sh opm), or set FLIGHT_OPM=/path/to/opm');
  }
  log('catalog: opm from tools/ensure.sh opm');
  const r = spawnSync('bash', [join(REPO_ROOT, 'tools', 'ensure.sh'), 'opm'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`tools/ensure.sh opm failed (exit ${r.status})`);
  return r.stdout.trim().split('\n').pop()!;
}

export interface OpmBinary {
  path: string;
  binary: Buffer;
  version: string;
  /** true when the ELF has a program interpreter (needs libc). */
  dynamic: boolean;
  /** grpc_health_probe next to opm, if any (OLM's older registry pods exec it for probes). */
  healthProbe?: Buffer;
}

export function resolveOpm(binDir = opmBinDir()): OpmBinary {
  const path = process.env.FLIGHT_OPM ?? join(binDir, 'opm');
  if (!existsSync(path)) throw new Error(`opm not found at ${path}`);
  const info = elfInfo(path);
  const version = run(path, ['version']).stdout.trim();
  const probe = join(binDir, 'grpc_health_probe');
  return { path, binary: readFileSync(path), version, dynamic: !!info.interpreter || info.needed.length > 0, ...(existsSync(probe) ? { healthProbe: readFileSync(probe) } : {}) };
}

/** `opm validate <dir>`: fails the build on a catalog opm would refuse to serve. */
export function validateCatalog(opmPath: string, dir = CATALOG_DIR): void {
  run(opmPath, ['validate', dir], { what: `opm validate ${dir}` });
}

export type CatalogCacheMode = 'runtime' | 'baked';

export interface CatalogInputs {
  opm: Pick<OpmBinary, 'binary' | 'version' | 'healthProbe'>;
  base: DebianBase;
  dir?: string;
  version?: string;
  /** Entries of a pre-built serve cache under tmp/cache ("baked" mode); absent: "runtime" mode. */
  bakedCache?: LayerEntry[];
}

/**
 * `opm serve --cache-only` into a temp dir: the pogreb cache for `dir`, as
 * entries under tmp/cache owned by 65532 (opm opens it read-write at start).
 */
export function bakeServeCache(opmPath: string, dir = CATALOG_DIR): LayerEntry[] {
  const tmp = mkdtempSync(join(tmpdir(), 'opm-cache-'));
  try {
    const cache = join(tmp, 'cache');
    run(opmPath, ['serve', dir, `--cache-dir=${cache}`, '--cache-only', '--pprof-addr=', `--termination-log=${join(tmp, 'termination-log')}`], { what: 'opm serve --cache-only' });
    // /tmp itself must be listed: a parent makeTar adds would be 0755 and, applied over the base, take /tmp's 1777 away.
    const out: LayerEntry[] = [{ type: 'dir', path: 'tmp', mode: 0o1777 }];
    const walk = (rel: string) => {
      const st = lstatSync(join(cache, rel));
      const path = rel ? `tmp/cache/${rel}` : 'tmp/cache';
      if (st.isDirectory()) {
        out.push({ type: 'dir', path, mode: 0o770, uid: NONROOT_UID, gid: NONROOT_GID });
        for (const n of readdirSync(join(cache, rel)).sort()) walk(rel ? `${rel}/${n}` : n);
      } else if (st.isFile()) {
        out.push({ type: 'file', path, content: readFileSync(join(cache, rel)), mode: 0o660, uid: NONROOT_UID, gid: NONROOT_GID });
      } else throw new Error(`opm cache: unexpected ${rel}`);
    };
    walk('');
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function catalogImageSpec(inputs: CatalogInputs, epoch?: number): ImageSpec {
  const bin: LayerEntry[] = [{ type: 'file', path: 'bin/opm', content: inputs.opm.binary, mode: 0o755 }];
  if (inputs.opm.healthProbe) bin.push({ type: 'file', path: 'bin/grpc_health_probe', content: inputs.opm.healthProbe, mode: 0o755 });
  // Only the version tag and the binary's hash: `opm version` also prints a build date.
  const opmVersion = `${/OpmVersion:"([^"]+)"/.exec(inputs.opm.version)?.[1] ?? 'unknown version'} (sha256 ${sha256(inputs.opm.binary).slice(0, 12)})`;
  return {
    ...(epoch !== undefined ? { epoch } : {}),
    layers: [
      { entries: inputs.base.entries, createdBy: 'image/base.ts: users, nsswitch, /tmp, CA bundle', comment: `debian bookworm: ${inputs.base.packages.join(' ')}` },
      { entries: bin, createdBy: `image/catalog-image.ts: opm ${opmVersion}` },
      { entries: treeEntries(inputs.dir ?? CATALOG_DIR, 'configs'), createdBy: 'image/catalog-image.ts: olm-bundle/catalog -> /configs' },
      ...(inputs.bakedCache ? [{ entries: inputs.bakedCache, createdBy: 'opm serve /configs --cache-dir=/tmp/cache --cache-only' }] : []),
    ],
    config: {
      User: NONROOT_USER,
      ExposedPorts: [`${GRPC_PORT}/tcp`],
      Entrypoint: ['/bin/opm'],
      Cmd: ['serve', '/configs', '--cache-dir=/tmp/cache', ...(inputs.bakedCache ? [] : ['--cache-enforce-integrity=false'])],
      Labels: {
        'operators.operatorframework.io.index.configs.v1': '/configs',
        'org.opencontainers.image.title': 'flight-operator-catalog',
        'org.opencontainers.image.description': 'File-based OLM catalog of the flight-operator package, served by opm.',
        'org.opencontainers.image.version': inputs.version ?? LATEST_RELEASE.version,
        'org.opencontainers.image.source': RELEASE.repository,
        'org.opencontainers.image.licenses': 'Apache-2.0',
      },
    },
  };
}

export interface CatalogImageOptions extends BuildOptions {
  epoch?: number;
  dir?: string;
  /** Default "runtime" (reproducible); see the top of this file. */
  cache?: CatalogCacheMode;
}

export async function buildCatalogImage(opts: CatalogImageOptions = {}): Promise<{ image: BuiltImage; name: ImageName; opm: OpmBinary; base: DebianBase }> {
  const opm = resolveOpm();
  validateCatalog(opm.path, opts.dir);
  const base = debianBase({ binaries: opm.dynamic ? [opm.path] : [] });
  const bakedCache = opts.cache === 'baked' ? bakeServeCache(opm.path, opts.dir) : undefined;
  // The layer cache spares a warm build deflating the 67 MB opm layer again.
  const image = await buildImage(catalogImageSpec({ opm, base, ...(opts.dir ? { dir: opts.dir } : {}), ...(bakedCache ? { bakedCache } : {}) }, opts.epoch), {
    ...opts,
    blobCache: opts.blobCache ?? cachePath('layers'),
  });
  return { image, name: catalogImageName(), opm, base };
}
