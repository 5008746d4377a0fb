/**
 * OLM as a cluster runs it, on the real node: the catalog image (built by
 * `npm run image -- catalog`, pushed by digest into the node's registry) is
 * the CatalogSource's spec.image; OLM's catalog operator starts its own
 * registry pod from it (containerd pulls ghcr.io/flight-operator/catalog@sha256
 * through the ghcr.io mirror; kubelet exec-probes it with the image's
 * grpc_health_probe) and reads the catalog from that pod. A Subscription then
 * installs the operator: InstallPlan Complete, CSV Succeeded, the controller
 * pods Running as containers in a namespace enforcing the restricted Pod
 * Security level.
 *
 * OLM's own olm and catalog operators run as host processes, as in the kwok
 * OLM tests (test/olm/olm-env.ts); the catalog operator inside the node's
 * network namespace with the cluster's DNS (testenv/real-node inNodeNetwork),
 * because it dials the registry pod by its Service's name. The time from
 * Subscription to CSV Succeeded goes to .bench/results/real-node-olm.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';
import { LATEST_RELEASE } from '../../infra/releases';
import { kubectl } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { inNodeNetwork } from '../../testenv/real-node/node';
import { CATALOG_LABEL, getOlmObject, listOlmObjects, startOlm, waitWithOlm, type OlmEnv } from '../olm/olm-env';
import { testResultsFile } from '../support/results';
import { crictl, distFile, layoutDigest, nodeEnv, pushLayout } from './support';

const PACKAGE = 'flight-operator';
const CSV_NAME = `flight-operator.v${LATEST_RELEASE.version}`;
const CATALOG = 'flight-operator-node';
const CONTROLLER_LABEL = 'app.kubernetes.io/name=flight-operator-controller';

type Obj = Record<string, any>;
interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status: { phase: string; containerStatuses?: Array<{ name: string; containerID?: string; imageID: string; ready: boolean; restartCount: number; started?: boolean }> };
}

const ns = useNamespace('olm-node', { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } });
let olm: OlmEnv;
let catalogImage = '';
let controllerImage = '';
const timings: Record<string, number> = {};

const pods = async (namespace: string, selector: string): Promise<Pod[]> =>
  (JSON.parse((await kubectl(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json'])).stdout) as { items: Pod[] }).items.filter((p) => !p.metadata.deletionTimestamp);

async function diagnose(): Promise<string> {
  const out: string[] = [];
  const cat = await getOlmObject('catalogsources', olm.namespace, CATALOG).catch(() => undefined);
  out.push(`CatalogSource: ${JSON.stringify(cat?.status ?? null)}`);
  const csv = await getOlmObject('clusterserviceversions', ns.name, CSV_NAME).catch(() => undefined);
  out.push(`CSV: phase=${csv?.status?.phase} reason=${csv?.status?.reason} message=${csv?.status?.message}`);
  for (const ip of await listOlmObjects('installplans', ns.name).catch(() => [])) out.push(`InstallPlan ${ip.metadata.name}: ${ip.status?.phase}`);
  for (const n of [olm.namespace, ns.name]) {
    out.push((await kubectl(['-n', n, 'get', 'pods,events', '-o', 'wide'], { check: false })).stdout.trim());
  }
  return out.join('\n');
}

beforeAll(async () => {
  const catalogLayout = path.dirname(distFile('dist/images/catalog/index.json', 'npm run image -- catalog'));
  const controllerLayout = path.dirname(distFile('dist/images/controller/index.json', 'npm run image -- controller'));
  // The CSV of the channel head pins the controller digest infra/controller-image.json holds; the layout must be that build.
  const pinned = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'infra', 'controller-image.json'), 'utf8')) as { digest: string }).digest;
  if (layoutDigest(controllerLayout) !== pinned) throw new Error(`dist/images/controller is not ${pinned} (infra/controller-image.json): run \`npm run image -- controller\``);
  catalogImage = `ghcr.io/flight-operator/catalog@${layoutDigest(catalogLayout)}`;
  controllerImage = `ghcr.io/flight-operator/controller@${pinned}`;
  timings.catalogPushSeconds = pushLayout(catalogLayout, 'flight-operator/catalog', LATEST_RELEASE.version);
  pushLayout(controllerLayout, 'flight-operator/controller', 'latest');
  olm = await startOlm({ catalogOperatorPrefix: inNodeNetwork(nodeEnv('FLIGHT_NODE_STATE')) });
}, 30 * 60_000);

afterAll(async () => {
  if (!olm) return;
  try {
    // While OLM runs: the CSV's finalizer removes the cluster-scoped RBAC OLM made for it.
    await kubectl(['delete', 'subscription', PACKAGE, '-n', ns.name, '--ignore-not-found', '--wait=false'], { check: false });
    await kubectl(['delete', 'csv', CSV_NAME, '-n', ns.name, '--ignore-not-found', '--timeout=60s'], { check: false, timeoutMs: 70_000 });
    await kubectl(['delete', 'catalogsource', CATALOG, '-n', olm.namespace, '--ignore-not-found', '--timeout=60s'], { check: false, timeoutMs: 70_000 });
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `olm.owner=${CSV_NAME},olm.owner.namespace=${ns.name}`, '--ignore-not-found'], { check: false });
  } finally {
    await olm.stop();
  }
}, 180_000);

test('a CatalogSource with spec.image = the catalog image: OLM runs its registry pod on the node from the image pulled by digest, probed by the image\'s grpc_health_probe, and reads the catalog from it', async () => {
  const t0 = Date.now();
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'CatalogSource',
      metadata: { name: CATALOG, namespace: olm.namespace, labels: { [CATALOG_LABEL]: 'true' } },
      spec: { sourceType: 'grpc', image: catalogImage, grpcPodConfig: { securityContextConfig: 'restricted' }, displayName: 'Flight Operator', publisher: 'flight-operator' },
    }),
  });
  const cat = await waitWithOlm(
    olm,
    `CatalogSource ${olm.namespace}/${CATALOG} READY`,
    async () => {
      const c = await getOlmObject('catalogsources', olm.namespace, CATALOG);
      return c?.status?.connectionState?.lastObservedState === 'READY' ? c : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 250, diagnose },
  );
  timings.catalogReadySeconds = (Date.now() - t0) / 1000;
  // OLM dials the pod through its Service, by name: no host address anywhere.
  expect(cat.status.connectionState.address).toBe(`${CATALOG}.${olm.namespace}.svc:50051`);
  const [registry] = await pods(olm.namespace, `olm.catalogSource=${CATALOG}`);
  expect(registry?.status.phase).toBe('Running');
  const status = registry!.status.containerStatuses![0]!;
  expect(status.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
  expect(status.imageID).toBe(catalogImage);
  expect(status.ready).toBe(true);
  expect(status.restartCount).toBe(0);
  const id = status.containerID!.slice('containerd://'.length);
  expect((JSON.parse(crictl(['inspect', id])) as { status: { state: string } }).status.state).toBe('CONTAINER_RUNNING');
  // The readiness that made it Ready is kubelet's exec of grpc_health_probe inside the container.
  const metrics = (await kubectl(['get', '--raw', `/api/v1/nodes/${nodeEnv('FLIGHT_NODE_NAME')}/proxy/metrics/probes`])).stdout;
  const line = metrics.split('\n').find((l) => l.startsWith('prober_probe_total{') && l.includes(`pod="${registry!.metadata.name}"`) && l.includes('probe_type="Readiness"') && l.includes('result="successful"'));
  expect(Number(line?.split(' ').pop() ?? 0)).toBeGreaterThan(0);
  process.stderr.write(`real-node OLM: catalog image pushed in ${timings.catalogPushSeconds}s; CatalogSource READY ${timings.catalogReadySeconds}s after it was created\n`);
}, 300_000);

test('a Subscription installs the operator from that catalog: InstallPlan Complete, CSV Succeeded, both controller replicas Running as containers of the pinned image', async () => {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: PACKAGE, namespace: ns.name }, spec: { targetNamespaces: [ns.name] } }),
  });
  await kubectl(['create', 'secret', 'generic', 'flight-operator-booking-credentials', '-n', ns.name, '--from-literal=token=real-node-olm-token']);
  const t0 = Date.now();
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'Subscription',
      metadata: { name: PACKAGE, namespace: ns.name },
      spec: { name: PACKAGE, channel: 'stable', source: CATALOG, sourceNamespace: olm.namespace, installPlanApproval: 'Automatic' },
    }),
  });
  const seen: Record<string, number> = {};
  const at = (k: string) => (seen[k] ??= Math.round((Date.now() - t0) / 10) / 100);
  const csv: Obj = await waitWithOlm(
    olm,
    `CSV ${ns.name}/${CSV_NAME} Succeeded`,
    async () => {
      const [ips, c] = await Promise.all([listOlmObjects('installplans', ns.name), getOlmObject('clusterserviceversions', ns.name, CSV_NAME)]);
      if (ips.length) at('installPlanCreated');
      if (ips.some((ip) => ip.status?.phase === 'Complete')) at('installPlanComplete');
      if (c?.status?.phase) at(`csv${c.status.phase}`);
      if (c?.status?.phase === 'Failed') throw new Error(`CSV failed: ${c.status.reason}: ${c.status.message}`);
      return c?.status?.phase === 'Succeeded' ? c : undefined;
    },
    { timeoutMs: 6 * 60_000, intervalMs: 250, diagnose },
  );
  timings.csvSucceededSeconds = at('csvSucceeded');
  expect(csv.status.reason).toBe('InstallSucceeded');
  await waitWithOlm(olm, 'the InstallPlan Complete', async () => (await listOlmObjects('installplans', ns.name)).some((ip) => ip.status?.phase === 'Complete'), { timeoutMs: 120_000, diagnose });

  // What `kubectl get csv` shows a person (the seed's words).
  const table = (await kubectl(['-n', ns.name, 'get', 'csv'])).stdout;
  expect(table).toMatch(new RegExp(`^${CSV_NAME.replace(/\./g, '\\.')}\\s.*Succeeded\\s*$`, 'm'));

  // CSV Succeeded means the Deployment is Available: kubelet ran and probed the containers.
  const controllers = await pods(ns.name, CONTROLLER_LABEL);
  expect(controllers).toHaveLength(2);
  for (const p of controllers) {
    const s = p.status.containerStatuses!.find((c) => c.name === 'manager')!;
    expect({ phase: p.status.phase, ready: s.ready, restarts: s.restartCount, image: s.imageID }).toEqual({ phase: 'Running', ready: true, restarts: 0, image: controllerImage });
    expect(s.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
  }
  writeFileSync(testResultsFile('real-node-olm.json'), `${JSON.stringify({ csv: CSV_NAME, catalogImage, ...timings, milestones: seen }, null, 2)}\n`);
  process.stderr.write(`real-node OLM: Subscription -> CSV Succeeded in ${timings.csvSucceededSeconds}s (milestones ${JSON.stringify(seen)})\n${table}`);
}, 480_000);
