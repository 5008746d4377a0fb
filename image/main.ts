/**
 * `npm run image`: builds the container images without a Docker daemon.
 *
 *   npm run image                      all four: controller, bundle, catalog, booking-service
 *   npm run image -- controller        only some (controller, bundle, catalog, booking-service)
 *   npm run image -- --no-lock         do not write infra/controller-image.json nor infra/bundle-image.json
 *   npm run image -- --catalog-cache=baked
 *                                      bake opm's serve cache into the catalog image
 *                                      (upstream layout; NOT reproducible, see catalog-image.ts)
 *   npm run image -- --repin-debian    re-pin image/debian-packages.json to apt's candidates
 *   npm run image -- --push <registry> [--insecure] [names]
 *                                      push what dist/images holds, by digest (image/push.ts)
 *
 * Each image lands in dist/images/<name>/ (OCI image layout),
 * dist/images/<name>.tar (docker-archive, for `docker load` / `podman load`)
 * and dist/images/<name>.oci.tar (OCI archive, for containerd: `ctr images
 * import`, `kind load image-archive`; keeps the digest).
 * Digests and sizes are printed and written to dist/images/digests.json; the
 * controller image's digest goes into infra/controller-image.json, which
 * infra/defaults.ts reads (deployments then pull by digest), and each
 * release's bundle image digest into infra/bundle-image.json, which the
 * published catalog (olm-bundle/catalog-image/) names. infra never builds an
 * image: the image build writes locks, infra reads them.
 *
 * SOURCE_DATE_EPOCH sets every timestamp (default 0). FLIGHT_IMAGE_CACHE moves
 * the cache (default ~/.cache/flight-operator/image). See docs/images.md.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildReleaseBundleImages, writeBundleLock } from './bundle-image';
import { BUNDLE_IMAGE_LOCK } from '../infra/defaults';
import { REPO_ROOT, cacheRoot } from './cache';
import { buildBookingServiceImage } from './booking-service-image';
import { buildCatalogImage, type CatalogCacheMode } from './catalog-image';
import { buildControllerImage, CONTROLLER_ENTRY } from './controller-image';
import { pushImages } from './push';
import { repin } from './debian';
import { formatBytes, sourceDateEpoch, writeDockerArchive, writeOciArchive, writeOciLayout, type BuiltImage, type ImageName } from './oci';

const NAMES = ['controller', 'bundle', 'catalog', 'booking-service'] as const;
type Name = (typeof NAMES)[number];

export const OUT_DIR = join(REPO_ROOT, 'dist', 'images');
export const CONTROLLER_LOCK = join(REPO_ROOT, 'infra', 'controller-image.json');

interface Summary {
  name: string;
  reference: string;
  digest: string;
  configDigest: string;
  compressedBytes: number;
  uncompressedBytes: number;
  layers: Array<{ digest: string; diffId: string; compressedBytes: number; uncompressedBytes: number }>;
  seconds: number;
}

function summarize(name: string, image: BuiltImage, ref: ImageName, started: number): Summary {
  return {
    name,
    reference: `${ref.repository}:${ref.tag}@${image.manifestDigest}`,
    digest: image.manifestDigest,
    configDigest: image.configDigest,
    compressedBytes: image.compressedSize,
    uncompressedBytes: image.uncompressedSize,
    layers: image.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, compressedBytes: l.gz.length, uncompressedBytes: l.tar.length })),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

function write(name: string, image: BuiltImage, ref: ImageName, outDir: string): void {
  writeOciLayout(image, join(outDir, name), ref);
  writeDockerArchive(image, join(outDir, `${name}.tar`), ref);
  writeOciArchive(image, join(outDir, `${name}.oci.tar`), ref);
}

/** infra/controller-image.json: {repository, tag, digest}, rewritten only when it changes. */
export function writeControllerLock(ref: ImageName, digest: string, file = CONTROLLER_LOCK): boolean {
  const text = `${JSON.stringify({ repository: ref.repository, tag: ref.tag, digest }, null, 2)}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileSync(file, text);
  return true;
}

/** Does the generated bundle's CSV deploy exactly this controller image? */
function bundleReferences(image: string): boolean {
  const dir = join(REPO_ROOT, 'olm-bundle', 'manifests');
  if (!existsSync(dir)) return false;
  const csv = readdirSync(dir).find((f) => f.endsWith('.clusterserviceversion.yaml'));
  return !!csv && readFileSync(join(dir, csv), 'utf8').includes(`image: ${image}`);
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: npm run image -- [controller] [bundle] [catalog] [booking-service] [--no-lock] [--catalog-cache=runtime|baked] [--repin-debian]\n       npm run image -- --push <registry> [--insecure] [names...]   (push dist/images by digest with skopeo)');
    return 0;
  }
  if (argv.includes('--repin-debian')) {
    repin();
    return 0;
  }
  const pushAt = argv.indexOf('--push');
  if (pushAt >= 0) {
    // Pushes what an earlier `npm run image` wrote; builds nothing.
    const registry = argv[pushAt + 1];
    const rest = argv.filter((_, i) => i !== pushAt && i !== pushAt + 1);
    const unknownPush = rest.filter((a) => a.startsWith('-') && a !== '--insecure');
    if (!registry || registry.startsWith('-') || unknownPush.length) {
      console.error(`usage: npm run image -- --push <registry> [--insecure] [${NAMES.join('] [')}]${unknownPush.length ? `; unknown ${unknownPush.join(', ')}` : ''}`);
      return 2;
    }
    pushImages({ registry, outDir: OUT_DIR, names: rest.filter((a) => !a.startsWith('-')), insecure: rest.includes('--insecure') });
    return 0;
  }
  const cacheFlag = argv.find((a) => a.startsWith('--catalog-cache='));
  const catalogCache = (cacheFlag?.split('=')[1] ?? 'runtime') as CatalogCacheMode;
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '--no-lock' && a !== cacheFlag);
  if (catalogCache !== 'runtime' && catalogCache !== 'baked') unknown.push(cacheFlag!);
  const wanted = argv.filter((a) => !a.startsWith('-'));
  const bad = wanted.filter((w) => !(NAMES as readonly string[]).includes(w));
  if (unknown.length || bad.length) {
    console.error(`npm run image: unknown ${[...unknown, ...bad].join(', ')}; images are ${NAMES.join(', ')}`);
    return 2;
  }
  const names: Name[] = wanted.length ? NAMES.filter((n) => wanted.includes(n)) : [...NAMES];
  const lock = !argv.includes('--no-lock');
  const epoch = sourceDateEpoch();
  mkdirSync(OUT_DIR, { recursive: true });
  console.log(`images: ${names.join(', ')} -> ${relative(REPO_ROOT, OUT_DIR)}/ (SOURCE_DATE_EPOCH=${epoch}, cache ${cacheRoot()})`);

  const summaries: Summary[] = [];
  const failures: string[] = [];
  const total = Date.now();
  for (const name of names) {
    const started = Date.now();
    try {
      if (name === 'controller') {
        const r = await buildControllerImage({ epoch });
        write(name, r.image, r.name, OUT_DIR);
        summaries.push(summarize(name, r.image, r.name, started));
        const top = Object.entries(r.bundle.packages).slice(0, 4).map(([p, n]) => `${p} ${formatBytes(n)}`).join(', ');
        console.log(`controller: ${CONTROLLER_ENTRY} bundled to ${formatBytes(r.bundle.js.length)} (${top}); ${r.node.version} stripped to ${formatBytes(r.node.binary.length)}; ${r.base.packages.join(' ')}`);
        if (lock) {
          const changed = writeControllerLock(r.name, r.image.manifestDigest);
          console.log(`controller: ${relative(REPO_ROOT, CONTROLLER_LOCK)} ${changed ? 'updated' : 'unchanged'} (${r.name.repository}@${r.image.manifestDigest})`);
          const ref = `${r.name.repository}@${r.image.manifestDigest}`;
          if (!bundleReferences(ref)) {
            console.warn(`WARNING: olm-bundle/ does not deploy ${ref} yet: run \`npm run bundle && npm run image -- bundle && npm run bundle && npm run image -- catalog\`, so the bundles, their image lock and the catalogs ship this controller.`);
          }
        }
      } else if (name === 'booking-service') {
        const r = await buildBookingServiceImage({ epoch });
        write(name, r.image, r.name, OUT_DIR);
        summaries.push(summarize(name, r.image, r.name, started));
      } else if (name === 'bundle') {
        // Every release's bundle (the catalog lists them all); the latest in dist/images/bundle.
        const built = await buildReleaseBundleImages({ epoch });
        built.forEach((r, i) => {
          const latest = i === built.length - 1;
          write(latest ? name : `${name}-${r.name.tag}`, r.image, r.name, OUT_DIR);
          summaries.push(summarize(latest ? name : `${name}-${r.name.tag}`, r.image, r.name, started));
        });
        if (lock) {
          const changed = writeBundleLock(built);
          console.log(`bundle: ${relative(REPO_ROOT, BUNDLE_IMAGE_LOCK)} ${changed ? 'updated: run `npm run bundle` so olm-bundle/catalog-image/ names these digests' : 'unchanged'}`);
        }
      } else {
        const r = await buildCatalogImage({ epoch, cache: catalogCache });
        write(name, r.image, r.name, OUT_DIR);
        summaries.push(summarize(name, r.image, r.name, started));
        console.log(`catalog: opm ${r.opm.dynamic ? 'dynamic (libraries added)' : 'static'}${r.opm.healthProbe ? ', with grpc_health_probe' : ''}; serve cache ${catalogCache === 'baked' ? 'baked into /tmp/cache (digest not reproducible)' : 'built at start'}`);
      }
    } catch (e) {
      failures.push(name);
      console.error(`${name}: FAILED\n${(e as Error).message}`);
    }
  }

  if (summaries.length) {
    const rows = summaries.map((s) => [s.name, s.digest, formatBytes(s.compressedBytes), formatBytes(s.uncompressedBytes), `${s.seconds}s`]);
    const head = ['image', 'digest', 'compressed', 'uncompressed', 'time'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
    console.log(`\n${line(head)}\n${rows.map(line).join('\n')}`);
    for (const s of summaries) {
      const out = relative(REPO_ROOT, join(OUT_DIR, s.name));
      console.log(`  ${s.name}: ${s.reference}\n    load: podman load -i ${out}.tar   containerd/kind (keeps the digest): ctr -n k8s.io images import ${out}.oci.tar   push: npm run image -- --push <registry> ${s.name.replace(/-\d.*$/, '')}`);
    }
    const file = join(OUT_DIR, 'digests.json');
    const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Summary>) : {};
    const merged = { ...previous, ...Object.fromEntries(summaries.map((s) => [s.name, s])) };
    writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  }
  console.log(`\ndone in ${((Date.now() - total) / 1000).toFixed(1)}s${failures.length ? `; FAILED: ${failures.join(', ')}` : ''}`);
  return failures.length ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
