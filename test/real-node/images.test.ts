/**
 * The two ways docs/real-node.md ("Run it on your own cluster") gets our
 * images onto a cluster, done on the real node:
 *
 *   - push: `npm run image -- --push <registry> --insecure` copies controller,
 *     booking-service, every bundle and the catalog from dist/images into the
 *     node's registry; each must be there under the digest it was built with;
 *   - load (kind, k3d, any containerd): `ctr -n k8s.io images import
 *     dist/images/<name>.oci.tar` (what `kind load image-archive` runs); a
 *     Deployment pinned by digest then starts without a pull. The image here is
 *     one the registry does not have (built by image/oci.ts like ours, with the
 *     node's static pause program), so a pull could only fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage, writeOciArchive } from '../../image/oci';
import { REPO_ROOT } from '../../testenv/binaries';
import { kubectl } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { crictl, distFile, nodeEnv, registryHasManifest } from './support';

const ns = useNamespace('images', { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } });

/** ctr against the node's containerd, in the namespace kubelet's images live in. */
function ctr(args: string[]): string {
  const sock = path.join(nodeEnv('FLIGHT_NODE_STATE'), 'containerd', 'containerd.sock');
  const r = spawnSync(path.join(nodeEnv('FLIGHT_NODE_BIN'), 'ctr'), ['--address', sock, '-n', 'k8s.io', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ctr ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

test('npm run image -- --push <registry> --insecure puts controller, booking-service, bundles and catalog into the registry under their built digests', async () => {
  const digests = JSON.parse(readFileSync(distFile('dist/images/digests.json', 'npm run image'), 'utf8')) as Record<string, { reference: string; digest: string }>;
  for (const name of ['controller', 'booking-service', 'bundle', 'catalog']) expect(Object.keys(digests)).toContain(name);
  const t0 = Date.now();
  const r = spawnSync('npm', ['run', '--silent', 'image', '--', '--push', nodeEnv('FLIGHT_NODE_REGISTRY'), '--insecure'], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const seconds = (Date.now() - t0) / 1000;
  expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: '' });
  for (const [name, d] of Object.entries(digests)) {
    const repo = d.reference.replace(/^ghcr\.io\//, '').replace(/:[^:/]+@.*$/, '');
    expect({ name, status: await registryHasManifest(repo, d.digest) }).toEqual({ name, status: 200 });
    expect(r.stdout).toContain(`pushed ${nodeEnv('FLIGHT_NODE_REGISTRY')}/${repo}@${d.digest}`);
  }
  process.stderr.write(`real-node images: npm run image -- --push of ${Object.keys(digests).length} images in ${seconds}s\n`);
}, 300_000);

test('ctr images import of an .oci.tar names the image by tag and by digest', () => {
  // The booking service's: the controller's must stay unloaded, controller.test.ts asserts kubelet pulls it.
  const archive = distFile('dist/images/booking-service.oci.tar', 'npm run image -- booking-service');
  const digest = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'dist', 'images', 'booking-service', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest;
  ctr(['images', 'import', archive]);
  const names = ctr(['images', 'ls', '-q']).split('\n');
  expect(names).toContain(`ghcr.io/flight-operator/booking-service@${digest}`);
  expect(names.some((n) => /^ghcr\.io\/flight-operator\/booking-service:[^@]+$/.test(n))).toBe(true);
});

test('a Deployment pinned by digest to an image loaded with ctr images import starts without a pull (the registry does not even have it)', async () => {
  const img = await buildImage({
    layers: [{ entries: [{ type: 'file', path: 'pause', content: readFileSync(path.join(nodeEnv('FLIGHT_NODE_BIN'), 'pause')), mode: 0o755 }], createdBy: 'test/real-node/images.test.ts' }],
    config: { User: '65532:65532', Entrypoint: ['/pause'] },
  });
  const repository = 'ghcr.io/flight-operator/loaded-only';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-load-'));
  try {
    const archive = path.join(dir, 'loaded-only.oci.tar');
    writeOciArchive(img, archive, { repository, tag: 'test' });
    ctr(['images', 'import', archive]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  expect(await registryHasManifest('flight-operator/loaded-only', img.manifestDigest)).toBe(404);
  const image = `${repository}@${img.manifestDigest}`;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'loaded-only', namespace: ns.name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'loaded-only' } },
      template: {
        metadata: { labels: { app: 'loaded-only' } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name: 'main', image, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true } }],
        },
      },
    },
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
  await kubectl(['-n', ns.name, 'rollout', 'status', 'deployment/loaded-only', '--timeout=120s'], { timeoutMs: 130_000 });
  const events = (JSON.parse((await kubectl(['-n', ns.name, 'get', 'events', '-o', 'json'])).stdout) as { items: Array<{ reason: string; message: string }> }).items;
  expect(events.filter((e) => e.reason === 'Pulling')).toEqual([]);
  expect(events.find((e) => e.reason === 'Pulled')?.message).toMatch(/already present on machine/);
  const pod = (JSON.parse((await kubectl(['-n', ns.name, 'get', 'pods', '-l', 'app=loaded-only', '-o', 'json'])).stdout) as { items: Array<{ status: { containerStatuses: Array<{ imageID: string; containerID: string; ready: boolean }> } }> }).items[0]!;
  expect(pod.status.containerStatuses[0]).toMatchObject({ imageID: image, ready: true, containerID: expect.stringMatching(/^containerd:\/\//) });
  expect(crictl(['ps', '-q'])).toContain(pod.status.containerStatuses[0]!.containerID.slice('containerd://'.length));
}, 180_000);
