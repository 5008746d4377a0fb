/**
 * The booking service's image (the local demo's booking API): the same base
 * and Node runtime layers as the controller image (so a node that pulled one
 * pulls only the small app layer of the other) and the esbuild bundle of
 * booking-service/main.ts. Non-root (65532), listens on 0.0.0.0:8080, keeps
 * its bookings in /var/lib/booking (a volume: the root filesystem is
 * read-only) and reads its API token from BOOKING_TOKEN_FILE (the Secret the
 * controller reads too, see infra/charts/booking-api.ts).
 */
import { BOOKING_DATA_DIR, BOOKING_SERVICE_PORT, BOOKING_TOKEN_FILE } from '../infra/charts/booking-api';
import { RELEASE } from '../infra/defaults';
import { debianBase, NONROOT_USER } from './base';
import { cachePath } from './cache';
import { bundleController, packageVersion, strippedNode, type BundleOptions } from './controller-image';
import { buildImage, type BuildOptions, type BuiltImage, type ImageName, type LayerEntry } from './oci';

export const BOOKING_SERVICE_ENTRY = 'booking-service/main.ts';
export const BOOKING_SERVICE_REPOSITORY = 'ghcr.io/flight-operator/booking-service';

export function bookingServiceImageName(): ImageName {
  return { repository: BOOKING_SERVICE_REPOSITORY, tag: packageVersion() };
}

export interface BookingServiceImageResult {
  image: BuiltImage;
  name: ImageName;
}

export async function buildBookingServiceImage(opts: BundleOptions & BuildOptions & { epoch?: number } = {}): Promise<BookingServiceImageResult> {
  const bundle = await bundleController({ ...opts, entry: BOOKING_SERVICE_ENTRY });
  const node = strippedNode();
  const base = debianBase({ binaries: [node.path] });
  const version = packageVersion();
  const app: LayerEntry[] = [
    { type: 'file', path: 'app/booking-service.js', content: bundle.js, mode: 0o644 },
    { type: 'file', path: 'app/package.json', content: `${JSON.stringify({ name: 'flight-operator-booking-service', version, private: true, type: 'commonjs' })}\n`, mode: 0o644 },
  ];
  if (bundle.legal) app.push({ type: 'file', path: 'app/booking-service.js.LEGAL.txt', content: bundle.legal, mode: 0o644 });
  const image = await buildImage(
    {
      ...(opts.epoch !== undefined ? { epoch: opts.epoch } : {}),
      layers: [
        // The controller image's first two layers, byte for byte.
        { entries: base.entries, createdBy: 'image/base.ts: users, nsswitch, /tmp, CA bundle, shared libraries', comment: `debian bookworm: ${base.packages.join(' ')}` },
        { entries: [{ type: 'file', path: 'nodejs/bin/node', content: node.binary, mode: 0o755 }], createdBy: `image/controller-image.ts: Node.js ${node.version}`, comment: `npm package node@${node.version.replace(/^v/, '')}, strip --strip-all (${node.strip})` },
        { entries: app, createdBy: `image/booking-service-image.ts: esbuild bundle of ${BOOKING_SERVICE_ENTRY}` },
      ],
      config: {
        User: NONROOT_USER,
        ExposedPorts: [`${BOOKING_SERVICE_PORT}/tcp`],
        Env: [
          'PATH=/nodejs/bin',
          'NODE_ENV=production',
          'BOOKING_HOST=0.0.0.0',
          `BOOKING_PORT=${BOOKING_SERVICE_PORT}`,
          `BOOKING_DATA_DIR=${BOOKING_DATA_DIR}`,
          `BOOKING_TOKEN_FILE=${BOOKING_TOKEN_FILE}`,
        ],
        Entrypoint: ['/nodejs/bin/node', '/app/booking-service.js'],
        WorkingDir: '/app',
        Labels: {
          'org.opencontainers.image.title': 'flight-operator-booking-service',
          'org.opencontainers.image.description': 'The booking API the flight-operator controller books tickets with (local demo and tests).',
          'org.opencontainers.image.version': version,
          'org.opencontainers.image.source': RELEASE.repository,
          'org.opencontainers.image.licenses': 'Apache-2.0',
        },
      },
    },
    { gzipLevel: opts.gzipLevel, blobCache: opts.blobCache ?? cachePath('layers') },
  );
  return { image, name: bookingServiceImageName() };
}
