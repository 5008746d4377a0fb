/**
 * The controller image, run as a container would run it, against the test
 * cluster and the booking service: no Docker, no kubelet. The image is built
 * by the same code as `npm run image`, written as an OCI layout, read back
 * with every digest checked, unpacked layer by layer into a root filesystem,
 * and its Entrypoint started there under chroot as the image's User
 * (65532:65532) with a read-only root (test/image/rootfs.ts). Host network:
 * the API server and the booking service are on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { freePort } from '../../testenv/cluster';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { spawnBookingService, type ChildService } from '../../booking-service/child';
import { createBookingClient } from '../../controller/booking/client';
import { buildControllerImage, CONTROLLER_ENTRY } from '../../image/controller-image';
import { readOciLayout, writeOciLayout, formatBytes } from '../../image/oci';
import { CrdChart } from '../../infra/charts/crd-chart';
import { kubeconfigPath, kubectl, waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { requireRoot, runImage, unpackLayers, type Running } from './rootfs';

const ns = useNamespace('image');
const work = mkdtempSync(join(tmpdir(), 'controller-image-'));
const rootfs = join(work, 'rootfs');
const log = (m: string) => process.stderr.write(`${m}\n`);

let config: { User?: string; Env?: string[]; Entrypoint?: string[]; ExposedPorts?: Record<string, unknown> };
let booking: ChildService;
let controller: Running | undefined;
const token = randomBytes(24).toString('hex');

beforeAll(async () => {
  requireRoot();
  // GIVEN the controller image, built and written as an OCI layout, then read back and unpacked
  const started = Date.now();
  const built = await buildControllerImage();
  writeOciLayout(built.image, join(work, 'oci'), built.name);
  const layout = readOciLayout(join(work, 'oci'));
  expect(layout.manifestDigest).toBe(built.image.manifestDigest);
  config = layout.config.config;
  unpackLayers(layout.layers, rootfs);
  log(`test/image: ${built.name.repository}@${layout.manifestDigest} (${formatBytes(built.image.compressedSize)}) built and unpacked in ${Date.now() - started} ms`);

  // AND the files a Pod would mount: the kubeconfig (for the ServiceAccount) and the booking token
  mkdirSync(join(rootfs, 'config'));
  writeFileSync(join(rootfs, 'config', 'kubeconfig'), readFileSync(kubeconfigPath()));
  writeFileSync(join(rootfs, 'config', 'token'), `${token}\n`);
  for (const f of ['kubeconfig', 'token']) chmodSync(join(rootfs, 'config', f), 0o444);

  // AND the booking service, and the CRD on the cluster
  const tokenFile = join(work, 'booking-token');
  writeFileSync(tokenFile, `${token}\n`);
  booking = await spawnBookingService({ dataDir: join(work, 'booking-data'), tokenFile });
  const crd = stringify(Testing.synth(new CrdChart(Testing.app(), 'crd'))[0]);
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: crd });
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/flighttickets.flights.com']);
}, 900_000);

afterAll(async () => {
  const code = await controller?.stop();
  if (controller) log(`test/image: controller exited ${code}; last log lines:\n${controller.logs.slice(-15).join('\n')}`);
  await booking?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('the controller image', () => {
  test('its config runs node on the bundle as 65532 and exposes the metrics and health ports', () => {
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(['/nodejs/bin/node', '--no-node-snapshot', '--expose-gc', '/app/controller.js']);
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(['8080/tcp', '8081/tcp']);
  });

  test("run from its rootfs as 65532, it books the seed's ticket exactly once", async () => {
    expect(CONTROLLER_ENTRY).toBe('controller/main.ts'); // not the placeholder

    // WHEN the image's entrypoint runs with the flags the Deployment passes
    const health = await freePort();
    controller = runImage({
      rootfs,
      config,
      args: [
        '--booking-api-url', booking.url,
        '--booking-api-token-file', '/config/token',
        '--leader-elect=false',
        '--metrics-bind-address=0',
        `--health-probe-bind-address=127.0.0.1:${health}`,
        '--watch-namespace', ns.name,
      ],
      env: { KUBECONFIG: '/config/kubeconfig' },
    });
    const child = controller.child;
    await waitFor(
      'the controller to report ready on its health port',
      async () => {
        if (child.exitCode !== null) throw new Error(`controller exited ${child.exitCode}:\n${controller!.logs.join('\n')}`);
        const res = await fetch(`http://127.0.0.1:${health}/readyz`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // THEN it really is the non-root user, chrooted
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(status).toMatch(/^Gid:\s+65532\s+65532\s+65532\s+65532$/m);

    // WHEN the seed's ticket is created
    await kubectl(['create', '-n', ns.name, '-f', '-'], {
      input: stringify({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: 'my-flight-ticket' }, spec: { from: 'Cairo', to: 'London', number: 2 } }),
    });

    // THEN it becomes Ready with a bookingRef
    const ticket = await waitFor(
      'the ticket to be Ready with a bookingRef',
      async () => {
        const t = JSON.parse((await kubectl(['get', 'ft', 'my-flight-ticket', '-n', ns.name, '-o', 'json'])).stdout);
        const ready = t.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
        return ready?.status === 'True' && t.status?.bookingRef ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\ncontroller logs:\n${controller!.logs.slice(-30).join('\n')}`);
    });

    // AND the booking service holds exactly one active booking for it, matching the spec
    const client = createBookingClient({ baseUrl: booking.url, tokenFile: join(work, 'booking-token') });
    const active = await client.listBookings({ owner: ticket.metadata.uid, state: 'active' });
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ id: ticket.status.bookingRef, from: 'Cairo', to: 'London', seats: 2, state: 'active' });
    expect((await client.listBookings({ state: 'active' })).filter((b) => b.owner === ticket.metadata.uid)).toHaveLength(1);

    // AND SIGTERM (what the kubelet sends) stops it cleanly
    expect(await controller.stop()).toBe(0);
  }, 180_000);
});
