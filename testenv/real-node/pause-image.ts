/**
 * The sandbox ("pause") image. It cannot be pulled here, so it is built the
 * way our own images are (image/oci.ts, no daemon): one layer with the static
 * pause program that tools/node/build.sh compiles from the k8s.io/kubernetes
 * module (build/pause/linux/pause.c), pushed into the node's registry under
 * the name kubelet and containerd use, registry.k8s.io/pause, which
 * containerd pulls through the registry mirror like any other image.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildImage, writeOciLayout } from '../../image/oci';

export const PAUSE_REPOSITORY = 'registry.k8s.io/pause';
export const PAUSE_TAG = '3.10.2';
export const SANDBOX_IMAGE = `${PAUSE_REPOSITORY}:${PAUSE_TAG}`;

/** skopeo copy to the (plain HTTP) local registry; the host's /etc/containers policy is not ours to rely on. */
export function skopeoCopy(from: string, to: string): void {
  const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', from, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo copy ${from} ${to} failed (${r.status}): ${r.stderr.trim()}`);
}

export async function pushPauseImage(bin: string, registry: string, workDir: string): Promise<string> {
  const img = await buildImage({
    layers: [{ entries: [{ type: 'file', path: 'pause', content: readFileSync(path.join(bin, 'pause')), mode: 0o755 }], createdBy: 'pause.c from k8s.io/kubernetes build/pause (tools/node)' }],
    // As upstream's image: nobody's uid, the program as entrypoint.
    config: { User: '65535:65535', Entrypoint: ['/pause'] },
  });
  const dir = path.join(workDir, 'pause');
  writeOciLayout(img, dir, { repository: PAUSE_REPOSITORY, tag: PAUSE_TAG });
  skopeoCopy(`oci:${dir}`, `docker://${registry}/pause:${PAUSE_TAG}`);
  return img.manifestDigest;
}
