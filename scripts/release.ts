/**
 * `npm run release -- <version>`: records what release <version> is, as data
 * under olm-bundle/releases/<version>/ (infra/bundle/recorded.ts): the
 * bundle's manifests/, metadata/ and bundle.Dockerfile as generated now,
 * and release.json with this commit, the controller image and bundle image
 * digests the locks record for it (infra/controller-image.json,
 * infra/bundle-image.json) and the booking-service image built now, and the
 * sha256 of each file. From then on the catalog takes the release from
 * there, and infra/bundle/releases.test.ts fails if a recorded file changes.
 *
 * The version must be the head (infra/releases.ts LATEST_RELEASE), not yet
 * recorded, and the work tree clean (so the commit is what was released).
 * Then commit the folder and tag: docs/olm-install.md, "Cutting a release".
 *
 * `npm run release -- <version> --retroactive <commit>` records a release
 * cut before this existed from what <commit> shipped: its bundle as that
 * commit's inline catalog holds it, its locks' digests, no booking-service
 * image (none was built then).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildBookingServiceImage } from '../image/booking-service-image';
import { sourceDateEpoch } from '../image/oci';
import { generateBundleManifests } from '../infra/bundle/generate';
import { RELEASES_DIR, sha256, type ImageRecord, type ReleaseRecord } from '../infra/bundle/recorded';
import { defaultSettings } from '../infra/defaults';
import { LATEST_RELEASE, releaseOf } from '../infra/releases';

const REPO = join(__dirname, '..');
const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();

function write(dir: string, files: Map<string, string>, record: Omit<ReleaseRecord, 'files'>): void {
  const hashes: Record<string, string> = {};
  for (const [p, content] of files) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
    hashes[p] = sha256(content);
  }
  writeFileSync(join(dir, 'release.json'), `${JSON.stringify({ ...record, files: hashes }, null, 2)}\n`);
}

/** The bundle of `version` from the inline catalog of `commit`, as the generator writes a bundle's files. */
function bundleAt(commit: string, version: string): Map<string, string> {
  const catalog = git('show', `${commit}:olm-bundle/catalog/flight-operator/catalog.yaml`);
  const bundle = parseAllDocuments(catalog)
    .map((d) => d.toJS() as Record<string, any>)
    .find((b) => b?.schema === 'olm.bundle' && b.name === `flight-operator.v${version}`);
  if (!bundle) throw new Error(`release: ${commit}'s catalog has no bundle ${version}`);
  const objects = (bundle.properties as Array<{ type: string; value: { data: string } }>)
    .filter((p) => p.type === 'olm.bundle.object')
    .map((p) => JSON.parse(Buffer.from(p.value.data, 'base64').toString('utf8')));
  return generateBundleManifests(defaultSettings({ version }), objects);
}

async function main(argv: string[]): Promise<number> {
  const [version, flag, commitArg] = argv;
  if (!version || (flag !== undefined && flag !== '--retroactive') || (flag && !commitArg)) {
    console.error('usage: npm run release -- <version> [--retroactive <commit>]');
    return 2;
  }
  releaseOf(version);
  const dir = join(RELEASES_DIR, version);
  if (existsSync(dir)) {
    console.error(`release: ${version} is recorded already (${dir}): a released bundle never changes; cut a new version`);
    return 1;
  }
  if (flag) {
    const commit = git('rev-parse', `${commitArg}^{commit}`);
    const lock = (p: string) => JSON.parse(git('show', `${commit}:${p}`));
    const controller = lock('infra/controller-image.json') as ImageRecord;
    const bundleDigest = (lock('infra/bundle-image.json') as { digests: Record<string, string> }).digests[version];
    if (!bundleDigest) throw new Error(`release: ${commit}'s infra/bundle-image.json has no bundle image for ${version}`);
    write(dir, bundleAt(commit, version), { version, commit, how: 'retroactive', controllerImage: controller, bookingServiceImage: null, bundleImage: bundleDigest });
  } else {
    if (version !== LATEST_RELEASE.version) {
      console.error(`release: only the head of the channel (${LATEST_RELEASE.version}, infra/releases.ts) can be cut; ${version} is not it`);
      return 1;
    }
    const dirty = git('status', '--porcelain', '--untracked-files=no');
    if (dirty) {
      console.error(`release: commit first, the work tree has changes:\n${dirty}`);
      return 1;
    }
    const commit = git('rev-parse', 'HEAD');
    const controller = JSON.parse(readFileSync(join(REPO, 'infra', 'controller-image.json'), 'utf8')) as ImageRecord;
    const bundleDigest = (JSON.parse(readFileSync(join(REPO, 'infra', 'bundle-image.json'), 'utf8')) as { digests: Record<string, string> }).digests[version];
    if (!bundleDigest) throw new Error(`release: infra/bundle-image.json has no bundle image for ${version} (npm run image -- bundle)`);
    const booking = await buildBookingServiceImage({ epoch: sourceDateEpoch() });
    write(dir, generateBundleManifests(defaultSettings({ version })), {
      version,
      commit,
      how: 'cut',
      controllerImage: controller,
      bookingServiceImage: { repository: booking.name.repository, tag: booking.name.tag, digest: booking.image.manifestDigest },
      bundleImage: bundleDigest,
    });
  }
  console.log(`release: recorded ${version} in ${dir}; now: npm run bundle && git add olm-bundle && git commit && git tag v${version}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`release: ${err.message}`);
    process.exit(1);
  },
);
