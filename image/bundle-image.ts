/**
 * The OLM bundle image: what olm-bundle/bundle.Dockerfile describes, built
 * without Docker. FROM scratch; olm-bundle/manifests -> /manifests/ and
 * olm-bundle/metadata -> /metadata/ (one layer per COPY, as the Dockerfile
 * would); the labels of metadata/annotations.yaml. The Dockerfile is read and
 * checked against annotations.yaml, so the two ways of building the bundle
 * cannot drift apart unnoticed.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { parse } from 'yaml';
import { channelSettings, generateBundleManifests } from '../infra/bundle/generate';
import { readRecordedRelease } from '../infra/bundle/recorded';
import { BUNDLE_IMAGE_LOCK, defaultSettings } from '../infra/defaults';
import { REPO_ROOT } from './cache';
import { buildImage, type BuildOptions, type BuiltImage, type ImageName, type ImageSpec, type LayerEntry } from './oci';

export const BUNDLE_DIR = join(REPO_ROOT, 'olm-bundle');
export const BUNDLE_REPOSITORY = 'ghcr.io/flight-operator/bundle';

/** Tagged with the bundle's own version (its CSV's spec.version). */
export function bundleImageName(version: string): ImageName {
  return { repository: BUNDLE_REPOSITORY, tag: version };
}

/** Files (0644) and folders (0755) under `dir`, as entries under `into`, owned by root. Symlinks are refused. */
export function treeEntries(dir: string, into: string): LayerEntry[] {
  const out: LayerEntry[] = [{ type: 'dir', path: into, mode: 0o755 }];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) {
        out.push({ type: 'dir', path: posix.join(into, r), mode: 0o755 });
        walk(r);
      } else if (st.isFile()) {
        out.push({ type: 'file', path: posix.join(into, r), content: readFileSync(join(dir, r)), mode: 0o644 });
      } else {
        throw new Error(`${join(dir, r)}: only files and folders can go into an image here`);
      }
    }
  };
  walk('');
  return out;
}

interface DockerfileFacts {
  labels: Record<string, string>;
  copies: Array<{ from: string; to: string }>;
}

/** The LABEL and COPY instructions of the generated bundle.Dockerfile (simple one-line forms only). */
export function readBundleDockerfile(text: string): DockerfileFacts {
  const labels: Record<string, string> = {};
  const copies: Array<{ from: string; to: string }> = [];
  let from = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [instr, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instr.toUpperCase()) {
      case 'FROM':
        from = args;
        break;
      case 'LABEL': {
        const m = /^([^=\s]+)=(.*)$/.exec(args);
        if (!m) throw new Error(`bundle.Dockerfile: unsupported LABEL form: ${line}`);
        labels[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
        break;
      }
      case 'COPY': {
        if (rest.length !== 2) throw new Error(`bundle.Dockerfile: unsupported COPY form: ${line}`);
        copies.push({ from: rest[0], to: rest[1] });
        break;
      }
      default:
        throw new Error(`bundle.Dockerfile: instruction ${instr} is not supported by image/bundle-image.ts`);
    }
  }
  if (from !== 'scratch') throw new Error(`bundle.Dockerfile: expected FROM scratch, got "${from}"`);
  return { labels, copies };
}

export interface BundleInputs {
  /** olm-bundle/ (default). */
  dir?: string;
}

/** The bundle image spec; throws when bundle.Dockerfile and metadata/annotations.yaml disagree. */
export function bundleImageSpec(inputs: BundleInputs = {}, epoch?: number): ImageSpec {
  const dir = inputs.dir ?? BUNDLE_DIR;
  const annotations = (parse(readFileSync(join(dir, 'metadata', 'annotations.yaml'), 'utf8')) as { annotations?: Record<string, string> }).annotations;
  if (!annotations || !annotations['operators.operatorframework.io.bundle.mediatype.v1']) {
    throw new Error(`${dir}/metadata/annotations.yaml has no operators.operatorframework.io.bundle.* annotations`);
  }
  const docker = readBundleDockerfile(readFileSync(join(dir, 'bundle.Dockerfile'), 'utf8'));
  if (JSON.stringify(Object.entries(docker.labels).sort()) !== JSON.stringify(Object.entries(annotations).sort())) {
    throw new Error(`${dir}/bundle.Dockerfile LABELs differ from metadata/annotations.yaml: regenerate with npm run bundle`);
  }
  const manifestsDir = annotations['operators.operatorframework.io.bundle.manifests.v1'].replace(/\/$/, '');
  const metadataDir = annotations['operators.operatorframework.io.bundle.metadata.v1'].replace(/\/$/, '');
  const expected = [
    { from: manifestsDir, to: `/${manifestsDir}/` },
    { from: metadataDir, to: `/${metadataDir}/` },
  ];
  if (JSON.stringify(docker.copies) !== JSON.stringify(expected)) {
    throw new Error(`${dir}/bundle.Dockerfile COPY lines ${JSON.stringify(docker.copies)} are not the expected ${JSON.stringify(expected)}`);
  }
  return {
    ...(epoch !== undefined ? { epoch } : {}),
    layers: docker.copies.map((c) => ({
      entries: treeEntries(join(dir, c.from), c.to),
      createdBy: `COPY ${c.from} ${c.to} # image/bundle-image.ts from olm-bundle/bundle.Dockerfile`,
    })),
    // Exactly the Dockerfile's labels: nothing the Dockerfile build would not have.
    config: { Labels: { ...annotations } },
  };
}

/** The version in the bundle's CSV. */
export function bundleVersion(dir: string = BUNDLE_DIR): string {
  const manifests = join(dir, 'manifests');
  const csv = readdirSync(manifests).find((f) => f.endsWith('.clusterserviceversion.yaml'));
  if (!csv) throw new Error(`${manifests} has no *.clusterserviceversion.yaml`);
  const version = (parse(readFileSync(join(manifests, csv), 'utf8')) as { spec?: { version?: string } }).spec?.version;
  if (!version) throw new Error(`${join(manifests, csv)} has no spec.version`);
  return version;
}

export async function buildBundleImage(opts: BuildOptions & BundleInputs & { epoch?: number } = {}): Promise<{ image: BuiltImage; name: ImageName }> {
  const image = await buildImage(bundleImageSpec(opts, opts.epoch), opts);
  return { image, name: bundleImageName(bundleVersion(opts.dir)) };
}

/**
 * The bundle image of every release in the channel (infra/releases.ts), each
 * built from the files infra generates for that version (written to a
 * temporary folder, exactly as `npm run bundle` writes the latest one to
 * olm-bundle/). Oldest first.
 */
export async function buildReleaseBundleImages(opts: BuildOptions & { epoch?: number } = {}): Promise<Array<{ image: BuiltImage; name: ImageName }>> {
  const out: Array<{ image: BuiltImage; name: ImageName }> = [];
  for (const settings of channelSettings(defaultSettings())) {
    const dir = mkdtempSync(join(tmpdir(), `bundle-${settings.version}-`));
    try {
      // A recorded release is built from its recorded files (olm-bundle/releases/): the same bytes as when it was cut.
      const recorded = readRecordedRelease(settings.version);
      for (const [path, content] of recorded ? recorded.files : generateBundleManifests(settings)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      out.push(await buildBundleImage({ ...opts, dir }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export interface BundleImageLock {
  repository: string;
  /** Bundle version -> manifest digest. */
  digests: Record<string, string>;
}

export function bundleLockText(built: Array<{ image: BuiltImage; name: ImageName }>): string {
  const lock: BundleImageLock = { repository: BUNDLE_REPOSITORY, digests: Object.fromEntries(built.map((b) => [b.name.tag, b.image.manifestDigest])) };
  return `${JSON.stringify(lock, null, 2)}\n`;
}

/** infra/bundle-image.json, rewritten only when it changes; true when it did. */
export function writeBundleLock(built: Array<{ image: BuiltImage; name: ImageName }>, file = BUNDLE_IMAGE_LOCK): boolean {
  const text = bundleLockText(built);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileSync(file, text);
  return true;
}
