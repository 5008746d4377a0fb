/**
 * Released bundles, recorded as data (`npm run release`, scripts/release.ts):
 * olm-bundle/releases/<version>/ holds the bundle's manifests/, metadata/
 * and bundle.Dockerfile exactly as they were when the release was cut, and
 * release.json saying from which commit, with which images, and each file's
 * sha256. The catalog takes a recorded release from here instead of
 * generating it again, so later commits cannot change what a version is
 * (infra/bundle/releases.test.ts fails if a recorded file changes).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

export const RELEASES_DIR = join(__dirname, '..', '..', 'olm-bundle', 'releases');

export interface ImageRecord {
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
}

export interface ReleaseRecord {
  readonly version: string;
  /** The commit the bundle and images were made from (`git rev-parse HEAD` when cut). */
  readonly commit: string;
  /** How it was recorded: `cut` (npm run release at that commit) or `retroactive` (read from that commit's catalog). */
  readonly how: 'cut' | 'retroactive';
  readonly controllerImage: ImageRecord;
  /** The booking-service image built from the commit; null when the release was recorded retroactively (never built then). */
  readonly bookingServiceImage: ImageRecord | null;
  /** Digest of the bundle image (ghcr.io/flight-operator/bundle) built from these files. */
  readonly bundleImage: string;
  /** sha256 of every recorded file, by path under the release's folder. */
  readonly files: Record<string, string>;
}

export const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

/** Versions recorded under olm-bundle/releases/, in no particular order. */
export function recordedVersions(dir = RELEASES_DIR): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((v) => existsSync(join(dir, v, 'release.json'))) : [];
}

export interface RecordedRelease {
  readonly record: ReleaseRecord;
  /** Every file of the release folder except release.json, by relative path. */
  readonly files: Map<string, string>;
  /** The bundle's objects, CSV first (as the generator orders them). */
  readonly objects: Array<Record<string, any>>;
}

export function readRecordedRelease(version: string, dir = RELEASES_DIR): RecordedRelease | undefined {
  const root = join(dir, version);
  if (!existsSync(join(root, 'release.json'))) return undefined;
  const record = JSON.parse(readFileSync(join(root, 'release.json'), 'utf8')) as ReleaseRecord;
  const files = new Map<string, string>();
  for (const p of listFiles(root).sort()) {
    const rel = relative(root, p);
    if (rel !== 'release.json') files.set(rel, readFileSync(p, 'utf8'));
  }
  // The order release.json lists them in is the bundle's object order.
  const objects = Object.keys(record.files)
    .filter((p) => p.startsWith('manifests/'))
    .map((p) => parse(files.get(p) ?? '') as Record<string, any>);
  return { record, files, objects };
}
