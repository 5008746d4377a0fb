/**
 * `npm run image -- --push <registry>`: copies the images `npm run image`
 * wrote to dist/images/ into a registry, by digest, with skopeo (no daemon):
 *
 *   skopeo copy --preserve-digests oci:dist/images/<name> docker://<registry>/flight-operator/<name>:<tag>
 *
 * The repository is the image's own with `ghcr.io` replaced by <registry>
 * (a host, optionally with a path: `registry.example.com/team`). The digest
 * the registry reports must be the layout's, else the push fails: manifests
 * pinning `@sha256:…` only work against a registry holding those bytes.
 * `--insecure` is for a plain-HTTP registry (a local one). Credentials are
 * skopeo's (`skopeo login <registry>`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOURCE_REGISTRY = 'ghcr.io';

export interface PushedImage {
  name: string;
  /** <registry>/<path>@sha256:… as pushed. */
  reference: string;
  seconds: number;
}

interface DigestsFile {
  [name: string]: { reference: string; digest: string };
}

/** The reference an image of dist/images gets in `registry`: ghcr.io/flight-operator/controller:0.1.0 -> <registry>/flight-operator/controller:0.1.0. */
export function retarget(reference: string, registry: string): string {
  const ref = reference.replace(/@sha256:[0-9a-f]{64}$/, '');
  if (!ref.startsWith(`${SOURCE_REGISTRY}/`)) throw new Error(`${reference} is not a ${SOURCE_REGISTRY} image`);
  return `${registry.replace(/\/+$/, '')}/${ref.slice(SOURCE_REGISTRY.length + 1)}`;
}

/** Pushes the named images (default: every image dist/images/digests.json lists), in that file's order. */
export function pushImages(opts: { registry: string; outDir: string; names?: string[]; insecure?: boolean; log?: (m: string) => void }): PushedImage[] {
  const log = opts.log ?? ((m: string) => console.log(m));
  const file = join(opts.outDir, 'digests.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run image\` first`);
  const digests = JSON.parse(readFileSync(file, 'utf8')) as DigestsFile;
  // `bundle` stands for every release's bundle (bundle, bundle-<version>), as `npm run image -- bundle` builds them.
  const names = Object.keys(digests).filter((n) => !opts.names?.length || opts.names.includes(n) || (opts.names.includes('bundle') && n.startsWith('bundle-')));
  const tmp = mkdtempSync(join(tmpdir(), 'flight-push-'));
  try {
    return names.map((name) => {
      const layout = join(opts.outDir, name);
      const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      const digest = index.manifests[0]!.digest;
      if (digest !== digests[name]!.digest) throw new Error(`dist/images/${name} holds ${digest}, digests.json says ${digests[name]!.digest}: run \`npm run image -- ${name.replace(/-\d.*$/, '')}\``);
      const dest = retarget(digests[name]!.reference, opts.registry);
      const digestFile = join(tmp, `${name}.digest`);
      const t0 = Date.now();
      const args = ['copy', '--quiet', '--preserve-digests', `--digestfile=${digestFile}`, ...(opts.insecure ? ['--dest-tls-verify=false'] : []), `oci:${layout}`, `docker://${dest}`];
      const r = spawnSync('skopeo', args, { encoding: 'utf8' });
      if (r.error) throw new Error(`skopeo: ${r.error.message} (Debian: apt-get install skopeo)`);
      if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
      const pushed = readFileSync(digestFile, 'utf8').trim();
      if (pushed !== digest) throw new Error(`${dest}: the registry has ${pushed}, not ${digest}`);
      const reference = `${dest.replace(/:[^:/]+$/, '')}@${digest}`;
      const seconds = (Date.now() - t0) / 1000;
      log(`pushed ${reference} (${seconds.toFixed(1)}s)`);
      return { name, reference, seconds };
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
