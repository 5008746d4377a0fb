/**
 * "Never a hand-edited digest", for the bundle images: infra/bundle-image.json,
 * which the published catalog (olm-bundle/catalog-image/) names, must record
 * exactly the digest `npm run image -- bundle` builds for every release from
 * the bundles infra generates now. Fails, for instance, when a construct
 * changes a manifest and the lock was not rebuilt. Nothing is written to the tree.
 */
import { readFileSync } from 'node:fs';
import { BUNDLE_IMAGE_LOCK } from '../infra/defaults';
import { RELEASES } from '../infra/releases';
import { bundleLockText, buildReleaseBundleImages } from './bundle-image';
import { sourceDateEpoch } from './oci';

describe('infra/bundle-image.json', () => {
  it('records, for every release, the bundle image digest the image build produces from this tree', async () => {
    // GIVEN the committed lock WHEN every release's bundle image is built as `npm run image -- bundle` builds it
    const built = await buildReleaseBundleImages({ epoch: sourceDateEpoch() });
    // THEN one image per release, and the lock is exactly what the build would write
    expect(built.map((b) => b.name.tag)).toEqual(RELEASES.map((r) => r.version));
    const recorded = readFileSync(BUNDLE_IMAGE_LOCK, 'utf8');
    if (recorded !== bundleLockText(built)) {
      throw new Error(
        'infra/bundle-image.json is stale: run `npm run image -- bundle && npm run bundle` and commit infra/bundle-image.json with olm-bundle/\n' +
          `  recorded: ${recorded}\n  built:    ${bundleLockText(built)}`,
      );
    }
  }, 120_000);
});
