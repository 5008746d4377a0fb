/**
 * The `manifests` Pulumi stack on the real node, as a user runs it: the
 * Pulumi CLI, engine and Kubernetes provider (tools/pulumi) against this
 * node's cluster, the controller image pulled by digest through the node's
 * ghcr.io mirror. `pulumi up` must return only once the controller's pods are
 * Ready as containers (the provider's Deployment await), and `pulumi destroy`
 * must leave no pod, container or object of the install behind.
 *
 * The node is shared with the project's other files, which keep the CRD and
 * their own controller in use (controller.test.ts's 1,000 tickets hold
 * finalizers). So this is a second install beside them, in whatever order jest
 * runs the files: its own namespace, its own `releaseName` (the ClusterRole
 * and ClusterRoleBinding names), watching only its own namespace, and
 * `retainCrd` (the CRD is one per cluster; docs/pulumi.md "Deleting"). That
 * the stack deletes the CRD too is tested on the kwok control plane
 * (test/pulumi/stacks.test.ts). Seconds go to
 * .bench/results/real-node-pulumi.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';
import { kubectl, waitFor } from '../../testenv/kube';
import { pulumiToolchain } from '../../testenv/pulumi';
import { makeProject, type PulumiProject } from '../pulumi/pulumi-project';
import { testResultsFile } from '../support/results';
import { crictl, distFile, layoutDigest, pushLayout } from './support';

const NS = 'flight-pulumi-node';
const RELEASE = 'flight-pulumi-node';
const DEPLOYMENT = 'flight-operator-controller';
const STACK = 'manifests';
const timings: Record<string, number> = {};
let p: PulumiProject;
let image = '';

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status: { conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ name: string; containerID?: string; ready: boolean }> };
}
interface CriContainer {
  id: string;
  state: string;
  labels: Record<string, string>;
}

const json = async <T>(args: string[]): Promise<T> => JSON.parse((await kubectl([...args, '-o', 'json'])).stdout) as T;
const exists = async (args: string[]) => (await kubectl(['get', ...args, '-o', 'name'], { check: false })).code === 0;
/** Every container containerd has for a pod of our namespace, running or not. */
const containersOfNs = () => (JSON.parse(crictl(['ps', '-a', '--label', `io.kubernetes.pod.namespace=${NS}`, '-o', 'json'])) as { containers: CriContainer[] }).containers;
const sandboxesOfNs = () => (JSON.parse(crictl(['pods', '--namespace', NS, '-o', 'json'])) as { items: Array<{ id: string; state: string }> }).items;
/** Cluster-wide RBAC names, to show the install touches none but its own. */
const clusterRbac = async () => (await kubectl(['get', 'clusterrole,clusterrolebinding', '-o', 'name'])).stdout.split('\n').filter(Boolean).sort();

let rbacBefore: string[] = [];
/** The project, its state and passphrase: removed after the file. */
let work = '';

beforeAll(async () => {
  pulumiToolchain(); // built by `npm test` before jest starts (minutes when cold)
  const layout = path.dirname(distFile('dist/images/controller/index.json', 'npm run image -- controller'));
  pushLayout(layout, 'flight-operator/controller', 'latest');
  image = `ghcr.io/flight-operator/controller@${layoutDigest(layout)}`;
  work = mkdtempSync(path.join(os.tmpdir(), 'flight-pulumi-node-'));
  writeFileSync(path.join(work, 'passphrase'), 'a test passphrase', { mode: 0o600 });
  mkdirSync(path.join(work, 'state'));
  p = makeProject({ dir: path.join(work, STACK), source: REPO_ROOT, stackFiles: [`Pulumi.${STACK}.yaml`], stateDir: path.join(work, 'state'), passphraseFile: path.join(work, 'passphrase') });
  await p.ok(['stack', 'init', STACK, '--secrets-provider', 'passphrase', '--non-interactive']);
  const config: Record<string, string> = {
    kubeconfig: process.env.FLIGHT_KUBECONFIG!, // the node's cluster (testenv/real-node/jest-env.ts)
    namespace: NS,
    releaseName: RELEASE,
    watchNamespaces: JSON.stringify([NS]),
    retainCrd: 'true',
    // The image as built here, by digest: the same reference the committed manifests pin once regenerated.
    image,
  };
  for (const [k, v] of Object.entries(config)) await p.ok(['config', 'set', '-s', STACK, `flight-operator:${k}`, v]);
  await p.ok(['config', 'set', '-s', STACK, '--secret', 'flight-operator:bookingToken', 'pulumi-node-token']);
  rbacBefore = await clusterRbac();
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (Object.keys(timings).length) {
    writeFileSync(testResultsFile('real-node-pulumi.json'), `${JSON.stringify({ measuredAt: new Date().toISOString(), loadavg: os.loadavg(), cpus: os.cpus().length, seconds: timings }, null, 2)}\n`);
  }
});

test('pulumi up returns once both controller pods are Ready as running containers', async () => {
  // GIVEN nothing of this install on the node
  expect(await exists(['namespace', NS])).toBe(false);
  // WHEN up
  const up = await p.ok(['up', '-s', STACK, '--yes', '--skip-preview', '--non-interactive'], 600_000);
  timings.up = up.seconds;
  // THEN, read right after it returned: the Deployment has both replicas Ready...
  const dep = await json<{ status: { readyReplicas?: number; availableReplicas?: number } }>(['-n', NS, 'get', 'deployment', DEPLOYMENT]);
  const pods = (await json<{ items: Pod[] }>(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=flight-operator-controller'])).items.filter((x) => !x.metadata.deletionTimestamp);
  const running = containersOfNs().filter((c) => c.state === 'CONTAINER_RUNNING' && c.labels['io.kubernetes.container.name'] === 'manager');
  expect(dep.status.readyReplicas).toBe(2);
  expect(dep.status.availableReplicas).toBe(2);
  // ...because kubelet's probes passed on containers containerd runs, from the image given, pulled through the mirror
  expect(pods).toHaveLength(2);
  for (const pod of pods) {
    expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const status = pod.status.containerStatuses!.find((c) => c.name === 'manager')!;
    expect(status.ready).toBe(true);
    expect(running.map((c) => `containerd://${c.id}`)).toContain(status.containerID);
  }
  expect(running).toHaveLength(2);
  // The second install's cluster-scoped objects carry its release name; nothing else cluster-wide changed but them.
  expect(await exists(['clusterrole', `${RELEASE}-controller`])).toBe(true);
  expect(await exists(['clusterrolebinding', `${RELEASE}-controller`])).toBe(true);
  const added = (await clusterRbac()).filter((n) => !rbacBefore.includes(n));
  expect(added.sort()).toEqual([`clusterrole.rbac.authorization.k8s.io/${RELEASE}-controller`, `clusterrolebinding.rbac.authorization.k8s.io/${RELEASE}-controller`]);
  process.stderr.write(`real-node pulumi: up ${up.seconds}s (Deployment 2/2 Ready when it returned)\n`);
}, 600_000);

test('pulumi destroy leaves no pod, container or object of the install; the retained CRD stays for the other installs', async () => {
  // GIVEN the installed stack WHEN destroy
  const destroy = await p.ok(['destroy', '-s', STACK, '--yes', '--skip-preview', '--non-interactive'], 600_000);
  timings.destroy = destroy.seconds;
  // THEN no object of it: the namespace (and everything in it) and its cluster RBAC are gone, all other cluster RBAC as before
  expect(await exists(['namespace', NS])).toBe(false);
  expect(await clusterRbac()).toEqual(rbacBefore);
  expect(await exists(['crd', 'flighttickets.flights.com'])).toBe(true); // retainCrd: other files' tickets use it
  // and no running container: the provider waited for the namespace to go, which waits for its pods' containers to stop
  expect(containersOfNs().filter((c) => c.state === 'CONTAINER_RUNNING')).toEqual([]);
  // kubelet then removes the stopped containers and sandboxes of deleted pods (its GC): nothing is left on the node
  const t0 = Date.now();
  await waitFor('no container or sandbox of the namespace left in containerd', async () => containersOfNs().length === 0 && sandboxesOfNs().length === 0, { timeoutMs: 180_000 });
  timings.containersGoneAfterDestroy = (Date.now() - t0) / 1000;
  process.stderr.write(`real-node pulumi: destroy ${destroy.seconds}s; containerd empty of the namespace ${timings.containersGoneAfterDestroy}s later\n`);
}, 600_000);
