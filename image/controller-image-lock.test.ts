/**
 * "Never a hand-edited digest": infra/controller-image.json, which the
 * Deployment and the CSV pin, must record exactly the digest that
 * `npm run image -- controller` builds from this tree. This builds the real
 * controller image the same way (esbuild bundle, stripped Node, pinned Debian
 * files, same SOURCE_DATE_EPOCH) in memory, with the shared image cache
 * (~/.cache/flight-operator/image or $FLIGHT_IMAGE_CACHE): a few seconds when
 * warm; cold it strips Node, fetches the pinned .debs and deflates ~110 MB
 * (well under a minute on the 2-core machine). Nothing is written to the tree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cache';
import { buildControllerImage } from './controller-image';
import { sourceDateEpoch } from './oci';

const STALE_LOCK_MESSAGE =
  'infra/controller-image.json is stale: run `npm run image -- controller && npm run bundle && npm run image -- bundle && npm run bundle` and commit infra/controller-image.json with infra/bundle-image.json and olm-bundle/';

interface Lock {
  repository: string;
  tag?: string;
  digest?: string;
}

describe('infra/controller-image.json', () => {
  it('records the digest the image build produces from this tree', async () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'controller-image.json'), 'utf8')) as Lock;
    const built = await buildControllerImage({ epoch: sourceDateEpoch() });
    const expected = `${built.name.repository}@${built.image.manifestDigest}`;
    const recorded = lock.digest ? `${lock.repository}@${lock.digest}` : `${lock.repository} (no digest)`;
    if (recorded !== expected || lock.tag !== built.name.tag) {
      throw new Error(
        `${STALE_LOCK_MESSAGE}\n` +
          `  recorded: ${recorded} (tag ${lock.tag ?? 'none'})\n` +
          `  built:    ${expected} (tag ${built.name.tag})\n` +
          `  layers:   ${built.image.layers.map((l) => l.digest.slice(0, 19)).join(' ')}`,
      );
    }
  }, 300_000);
});
