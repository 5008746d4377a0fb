/**
 * OLM v1: installing flight-operator through a ClusterExtension, with a real
 * operator-controller and catalogd v1.2.0 (tools/olmv1, built from the Go
 * module proxy) run on the host by olmv1-env.ts, against a control plane of
 * this file's own (OLM v1 owns the CRDs it installs, and another file's
 * FlightTicket CRD on the shared cluster would block it), pulling from a
 * loopback registry:
 *
 *   ClusterCatalog (image: the published catalog, olm-bundle/catalog-image/,
 *   which names every release's bundle image by digest) -> Serving
 *   ClusterExtension (package flight-operator, AllNamespaces, an installer
 *   ServiceAccount with the RBAC derived from the bundle) -> ...
 *
 * The inline catalog (olm-bundle/catalog/, image "" on every bundle, what
 * `npm run image -- catalog` packs for OLM v0) is served too, but OLM v1
 * only installs from bundle images, so nothing resolves to something it can
 * pull.
 *
 * What the published bundles get: refused, twice over.
 *   1. operator-controller v1.2.0 accepts only the kinds operator-registry
 *      v1.50.0 lists as supported; NetworkPolicy is not one of them (OLM
 *      v0.46's operator-registry v1.73.0 has it), and every release ships one.
 *   2. It turns a registry+v1 bundle into a Helm chart whose templates are
 *      the bundle's objects as JSON, so Helm parses every object as a Go
 *      template: the dashboard ConfigMap's Grafana legends ("{{ready}}") and
 *      the alert texts of the optional-objects ConfigMap ("{{ $labels.namespace }}")
 *      break the render ('function "ready" not defined').
 * The test asserts both, then installs the head bundle adapted for it (a
 * test-only bundle and catalog image: no NetworkPolicy, every "{{" written as
 * {{`{{`}}, which Helm renders back to "{{"): Installed, the CRD, the
 * Deployment, the RBAC, the ConfigMaps with exactly the bundle's text; the
 * Deployment's pods, run as host processes by pod-runner (the node is kwok),
 * book a FlightTicket once.
 *
 * The booking API's URL. A ClusterExtension v1.2.0 has no counterpart of a
 * Subscription's spec.config.env, and an edit of the bundled ConfigMap does
 * not stay (operator-controller watches what it installed and puts the
 * bundle's value back within seconds; the last test shows it). So the
 * adapted bundle's ConfigMap carries the test booking service's URL, where a
 * real cluster would use the bundle's default (a Service booking-api in the
 * install namespace), which host processes cannot resolve.
 *
 * Times are printed and written to .bench/results/olmv1-install.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { bundleController } from '../../image/controller-image';
import { buildBundleImage, buildReleaseBundleImages, treeEntries } from '../../image/bundle-image';
import { buildImage, sourceDateEpoch, type BuiltImage } from '../../image/oci';
import { channelSettings, generateBundleManifests } from '../../infra/bundle/generate';
import { readRecordedRelease } from '../../infra/bundle/recorded';
import { bundleImages, defaultSettings } from '../../infra/defaults';
import { LATEST_RELEASE } from '../../infra/releases';
import { startCluster, type Cluster } from '../../testenv/cluster';
import { k8s, kubectl, loadKubeConfig, statusCode } from '../../testenv/kube';
import { condition, createTicket, getTicket, startBookings, type BookingEnv, type Ticket } from '../support/operator-env';
import { startPodRunner, type PodRunner } from '../support/pod-runner';
import { testResultsFile } from '../support/results';
import { waitWithOlm } from './olm-env';
import { installerRules, startOlmV1, type OlmV1Env } from './olmv1-env';

const PACKAGE = 'flight-operator';
const HEAD = LATEST_RELEASE.version;
const CRD = 'flighttickets.flights.com';
const DEPLOYMENT = 'flight-operator-controller';
const INSTALL_NS = 'flight-operator-system';
const INSTALLER = 'flight-operator-installer';
const TICKETS_NS = 'flight-bookers';
const PUBLISHED_CATALOG_DIR = path.join(__dirname, '..', '..', 'olm-bundle', 'catalog-image');
/** The inline flavour (every olm.bundle with image ""), the one `npm run image -- catalog` packs. */
const INLINE_CATALOG_DIR = path.join(__dirname, '..', '..', 'olm-bundle', 'catalog');
const CATALOG_LABEL = 'flight-operator.test/catalog';
const OLMV1 = { group: 'olm.operatorframework.io', version: 'v1' } as const;
/** operator-controller v1.2.0's words (internal/operator-controller/rukpak/convert/registryv1.go) for a kind it does not support. */
const UNSUPPORTED = /bundle contains unsupported resource: Name: flight-operator-controller, Kind: NetworkPolicy/;
/** What operator-controller says when the resolved bundle names no image (the inline flavour). */
const NO_IMAGE = /error parsing image reference ""/;
/** Helm's words when a bundle object holds "{{ready}}" (the dashboard's Grafana legend). */
const TEMPLATE_ERROR = /parse error at \(object-[0-9a-f]+\.json:\d+\): function "ready" not defined/;
/** A literal "{{" in a Helm template: a raw-string action (backquotes survive the JSON encoding operator-controller applies first). */
const HELM_ESCAPED_BRACES = '{{`{{`}}';

type Obj = Record<string, any>;

let cluster: Cluster;
let sharedKubeconfig: string | undefined;
let v1: OlmV1Env;
let work: string;
let controllerJs: string;
let bookings: BookingEnv | undefined;
let runner: PodRunner | undefined;
/** The head bundle's objects (CSV, CRD, the rest), as its bundle image carries them. */
let headObjects: Obj[];
/** What the adapted bundle must install: the head's objects minus the NetworkPolicy, with the test's booking URL. */
let adaptedObjects: Obj[];
const DEFAULT_BOOKING_URL = 'http://booking-api.flight-operator-system.svc:8080';
type CatalogKind = 'published' | 'inline' | 'without-networkpolicy' | 'adapted';
/** References (ghcr.io/flight-operator/...@sha256) of the catalog images pushed. */
const catalogRef: Record<CatalogKind, string> = { published: '', inline: '', 'without-networkpolicy': '', adapted: '' };
const timeline: Record<string, number> = {};

const custom = () => loadKubeConfig().makeApiClient(k8s.CustomObjectsApi);
async function getCluster(plural: string, name: string): Promise<Obj | undefined> {
  try {
    return (await custom().getClusterCustomObject({ ...OLMV1, plural, name })) as Obj;
  } catch (e) {
    if (statusCode(e) === 404) return undefined;
    throw e;
  }
}
const cond = (o: Obj | undefined, type: string): Obj | undefined => o?.status?.conditions?.find((c: Obj) => c.type === type);

/** Polls like testenv's waitFor, but fails at once (with the logs) when an OLM v1 component dies. */
const waitV1 = <T>(description: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, diagnose?: () => Promise<string>): Promise<T> =>
  waitWithOlm(v1, description, fn, { timeoutMs, intervalMs: 250, diagnose });

async function diagnose(): Promise<string> {
  const out: string[] = [];
  for (const plural of ['clustercatalogs', 'clusterextensions']) {
    const list = (await custom().listClusterCustomObject({ ...OLMV1, plural })) as { items: Obj[] };
    for (const o of list.items) out.push(`${plural}/${o.metadata.name}: ${JSON.stringify(o.status ?? {})}`);
  }
  const d = await kubectl(['get', 'deployment,pods', '-n', INSTALL_NS, '-o', 'wide'], { check: false });
  out.push(d.stdout.trim() || d.stderr.trim());
  return out.join('\n');
}

/** The FBC documents of a catalog folder. */
function readCatalog(dir: string): Obj[] {
  return parseAllDocuments(readFileSync(path.join(dir, PACKAGE, 'catalog.yaml'), 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean);
}

/** A catalog image as catalogd reads one: the FBC under /configs and the label naming that folder (no opm: catalogd never runs the image). */
function catalogImage(dir: string): Promise<BuiltImage> {
  return buildImage({
    layers: [{ entries: treeEntries(dir, 'configs'), createdBy: 'test/olm/cluster-extension.test.ts: FBC -> /configs' }],
    config: { Labels: { 'operators.operatorframework.io.index.configs.v1': '/configs' } },
  });
}

/** The head release's bundle files (recorded when cut, else generated now), as `npm run image -- bundle` builds its image. */
function headBundleFiles(): Map<string, string> {
  const settings = channelSettings(defaultSettings()).find((s) => s.version === HEAD)!;
  return readRecordedRelease(HEAD)?.files ?? generateBundleManifests(settings);
}

async function applyObjects(objects: Obj[]): Promise<void> {
  await kubectl(['apply', '--server-side', '--field-manager=flight-olmv1-test', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
}

async function installer(extensionName: string, objects: Obj[]): Promise<void> {
  const name = `${INSTALLER}-${extensionName}`;
  await applyObjects([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: INSTALLER, namespace: INSTALL_NS } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: installerRules(objects, extensionName) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: INSTALLER, namespace: INSTALL_NS }],
    },
  ]);
}

function clusterCatalog(name: string, ref: string, label: string): Obj {
  return {
    apiVersion: 'olm.operatorframework.io/v1',
    kind: 'ClusterCatalog',
    metadata: { name, labels: { [CATALOG_LABEL]: label } },
    spec: { source: { type: 'Image', image: { ref } } },
  };
}

function clusterExtension(name: string, catalogLabel: string): Obj {
  return {
    apiVersion: 'olm.operatorframework.io/v1',
    kind: 'ClusterExtension',
    metadata: { name },
    spec: {
      namespace: INSTALL_NS,
      serviceAccount: { name: INSTALLER },
      source: { sourceType: 'Catalog', catalog: { packageName: PACKAGE, channels: ['stable'], selector: { matchLabels: { [CATALOG_LABEL]: catalogLabel } } } },
    },
  };
}

/** Creates the ClusterCatalog and waits until catalogd serves it; returns it and the seconds that took. */
async function serveCatalog(name: string, ref: string, label: string): Promise<{ catalog: Obj; seconds: number }> {
  const t0 = Date.now();
  await applyObjects([clusterCatalog(name, ref, label)]);
  const catalog = await waitV1(
    `ClusterCatalog ${name} Serving`,
    async () => {
      const c = await getCluster('clustercatalogs', name);
      return cond(c, 'Serving')?.status === 'True' && c?.status?.urls?.base ? c : undefined;
    },
    180_000,
    diagnose,
  );
  return { catalog, seconds: Math.round((Date.now() - t0) / 10) / 100 };
}

beforeAll(async () => {
  const t0 = Date.now();
  work = mkdtempSync(path.join(os.tmpdir(), 'flight-cluster-extension-'));
  controllerJs = path.join(work, 'controller.js');
  writeFileSync(controllerJs, (await bundleController()).js);
  cluster = await startCluster({ log: (m) => process.stderr.write(`olmv1 cluster: ${m}\n`) });
  // testenv/kube reads FLIGHT_KUBECONFIG at each call: everything in this file goes to this cluster.
  sharedKubeconfig = process.env.FLIGHT_KUBECONFIG;
  process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
  v1 = await startOlmV1({ kubeconfig: cluster.kubeconfigPath });
  bookings = await startBookings();

  // The images: every release's bundle as `npm run image -- bundle` builds it (the digests the published catalog names) ...
  const epoch = sourceDateEpoch();
  const lock = bundleImages();
  const bundles = await buildReleaseBundleImages({ epoch });
  for (const b of bundles) {
    if (lock.digests[b.name.tag] !== b.image.manifestDigest) {
      throw new Error(`the ${b.name.tag} bundle image builds to ${b.image.manifestDigest}, infra/bundle-image.json says ${lock.digests[b.name.tag]}: run \`npm run image -- bundle && npm run bundle\``);
    }
  }
  const published = await catalogImage(PUBLISHED_CATALOG_DIR);
  const inline = await catalogImage(INLINE_CATALOG_DIR);
  // ... and two test-only variants of the head's bundle, each in a copy of the published catalog whose head entry names it.
  const variant = async (kind: Exclude<CatalogKind, 'published' | 'inline'>, edit: (content: string) => string | undefined) => {
    const dir = path.join(work, `bundle-${kind}`);
    for (const [file, content] of headBundleFiles()) {
      const out = edit(content);
      if (out === undefined) continue;
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), out);
    }
    const bundle = await buildBundleImage({ dir, epoch });
    const repo = `ghcr.io/flight-operator/test-bundle-${kind}`;
    const docs = readCatalog(PUBLISHED_CATALOG_DIR).map((d) => (d.schema === 'olm.bundle' && d.name === `${PACKAGE}.v${HEAD}` ? { ...d, image: `${repo}@${bundle.image.manifestDigest}` } : d));
    const catalogDir = path.join(work, `catalog-${kind}`);
    mkdirSync(path.join(catalogDir, PACKAGE), { recursive: true });
    writeFileSync(path.join(catalogDir, PACKAGE, 'catalog.yaml'), docs.map((d) => `---\n${stringify(d)}`).join(''));
    const catalog = await catalogImage(catalogDir);
    catalogRef[kind] = `ghcr.io/flight-operator/test-catalog-${kind}@${catalog.manifestDigest}`;
    return [
      { name: `bundle-${kind}`, reference: `${repo}:${HEAD}`, image: bundle.image },
      { name: `catalog-${kind}`, reference: `ghcr.io/flight-operator/test-catalog-${kind}:${HEAD}`, image: catalog },
    ];
  };
  const withoutNetworkPolicy = (content: string) => (/^kind:\s*NetworkPolicy$/m.test(content) ? undefined : content);
  const variants = [
    ...(await variant('without-networkpolicy', withoutNetworkPolicy)),
    ...(await variant('adapted', (c) => withoutNetworkPolicy(c)?.replaceAll('{{', HELM_ESCAPED_BRACES).replaceAll(DEFAULT_BOOKING_URL, bookings!.service.url))),
  ];
  headObjects = [...headBundleFiles()]
    .filter(([f]) => f.startsWith('manifests/'))
    .flatMap(([, c]) => parseAllDocuments(c).map((d) => d.toJS() as Obj))
    .filter(Boolean);
  if (!headObjects.some((o) => o.kind === 'ConfigMap' && o.data?.BOOKING_API_URL === DEFAULT_BOOKING_URL)) throw new Error(`the head bundle's ConfigMap no longer defaults BOOKING_API_URL to ${DEFAULT_BOOKING_URL}: adapt this test`);
  adaptedObjects = headObjects
    .filter((o) => o.kind !== 'NetworkPolicy')
    .map((o) => (o.kind === 'ConfigMap' && o.data?.BOOKING_API_URL ? { ...o, data: { ...o.data, BOOKING_API_URL: bookings!.service.url } } : o));
  timeline.imagesBuilt = Math.round((Date.now() - t0) / 10) / 100;

  const pushed = v1.push([
    ...bundles.map((b) => ({ name: `bundle-${b.name.tag}`, reference: `${b.name.repository}:${b.name.tag}`, image: b.image })),
    { name: 'catalog-published', reference: `ghcr.io/flight-operator/catalog:${HEAD}-published`, image: published },
    { name: 'catalog-inline', reference: `ghcr.io/flight-operator/catalog:${HEAD}-inline`, image: inline },
    ...variants,
  ]);
  timeline.pushSeconds = Math.round(pushed.reduce((s, p) => s + p.seconds, 0) * 100) / 100;
  catalogRef.published = `ghcr.io/flight-operator/catalog@${published.manifestDigest}`;
  catalogRef.inline = `ghcr.io/flight-operator/catalog@${inline.manifestDigest}`;

  await applyObjects([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: INSTALL_NS } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TICKETS_NS } },
  ]);
  timeline.setupSeconds = Math.round((Date.now() - t0) / 10) / 100;
}, 60 * 60_000);

let started = 0;
let finished = 0;
beforeEach(() => void started++);
const done = () => void finished++;

afterAll(async () => {
  await runner?.stop().catch(() => undefined);
  await bookings?.service.stop().catch(() => undefined);
  if (bookings) rmSync(path.dirname(bookings.tokenFile), { recursive: true, force: true });
  // The cluster goes with everything OLM v1 made in it: no uninstall needed.
  await v1?.stop({ keepLogs: finished < started });
  await cluster?.stop();
  process.env.FLIGHT_KUBECONFIG = sharedKubeconfig;
  if (work) rmSync(work, { recursive: true, force: true });
  if (v1) {
    const seconds = { ...v1.timings, ...timeline };
    process.stderr.write(`\nOLM v1 timings (s): ${JSON.stringify(seconds)}\n`);
    writeFileSync(
      testResultsFile('olmv1-install.json'),
      `${JSON.stringify({ measuredAt: new Date().toISOString(), loadavg: os.loadavg(), cpus: os.cpus().length, versions: v1.versions, seconds }, null, 2)}\n`,
    );
  }
}, 120_000);

describe('installing flight-operator through an OLM v1 ClusterExtension', () => {
  test('catalogd unpacks the published catalog image and serves its content over HTTPS', async () => {
    // GIVEN the published catalog (every release's bundle image by digest) as an image in the registry
    // WHEN a ClusterCatalog names it by digest (through the ghcr.io/flight-operator mirror)
    const { catalog, seconds } = await serveCatalog('flight-operator', catalogRef.published, 'published');
    timeline.catalogServing = seconds;
    // THEN it is Serving from the digest it was given, at catalogd's HTTPS address
    expect(catalog.status.resolvedSource.image.ref).toBe(catalogRef.published);
    expect(catalog.status.urls.base).toBe(`${v1.catalogdUrl}/catalogs/flight-operator`);
    // AND what it serves (trusting only the test CA, as operator-controller does) lists every release's bundle by the locked digest
    const all = await v1.catalogdGet('/catalogs/flight-operator/api/v1/all');
    expect(all.status).toBe(200);
    const blobs = all.body.trim().split('\n').map((l) => JSON.parse(l) as Obj);
    const lock = bundleImages();
    expect(blobs.filter((b) => b.schema === 'olm.bundle').map((b) => b.image).sort()).toEqual(Object.values(lock.digests).map((d) => `${lock.repository}@${d}`).sort());
    expect(blobs.find((b) => b.schema === 'olm.package')?.name).toBe(PACKAGE);
    done();
  }, 240_000);

  /** Creates a ClusterExtension for the package from the catalog labelled `kind`; waits until Progressing says `why`; deletes it again. */
  async function refused(kind: CatalogKind, why: RegExp): Promise<Obj> {
    const name = `flight-operator-${kind}`;
    await installer(name, headObjects);
    await applyObjects([clusterExtension(name, kind)]);
    const ext = await waitV1(
      `ClusterExtension ${name} to say ${why}`,
      async () => {
        const e = await getCluster('clusterextensions', name);
        return why.test(cond(e, 'Progressing')?.message ?? '') ? e : undefined;
      },
      240_000,
      diagnose,
    );
    // Nothing of the bundle is in the cluster (Helm renders before it applies anything)
    expect((await kubectl(['get', 'crd', CRD], { check: false })).code).not.toBe(0);
    expect((await kubectl(['get', 'deployment', DEPLOYMENT, '-n', INSTALL_NS], { check: false })).code).not.toBe(0);
    // Out of the way (its finalizers need operator-controller, which runs)
    await kubectl(['delete', 'clusterextension', name, '--timeout=60s'], { timeoutMs: 70_000 });
    return ext;
  }

  test('a ClusterExtension of the published head bundle is refused: operator-controller v1.2.0 does not support its NetworkPolicy', async () => {
    // GIVEN an installer ServiceAccount allowed everything the bundle installs
    // WHEN a ClusterExtension asks for the package from the published catalog
    // THEN it resolves the head and pulls its bundle, but stops at converting it: Progressing names the NetworkPolicy, nothing is Installed
    const ext = await refused('published', UNSUPPORTED);
    expect(cond(ext, 'Progressing')?.reason).toBe('Retrying');
    expect(cond(ext, 'Installed')?.status).not.toBe('True');
    expect(ext.status?.install).toBeUndefined();
    done();
  }, 300_000);

  test('the inline catalog (what `npm run image -- catalog` packs) is served, but its bundles name no image for OLM v1 to pull', async () => {
    // GIVEN the inline flavour as a catalog image, served
    const { catalog, seconds } = await serveCatalog('flight-operator-inline', catalogRef.inline, 'inline');
    timeline.inlineCatalogServing = seconds;
    expect(cond(catalog, 'Serving')?.status).toBe('True');
    // WHEN a ClusterExtension asks for the package from it
    // THEN the head resolves, but there is no bundle image to unpack: OLM v1 has no use for olm.bundle.object
    const ext = await refused('inline', NO_IMAGE);
    expect(cond(ext, 'Installed')?.status).not.toBe('True');
    done();
  }, 300_000);

  test('without its NetworkPolicy the head bundle is still refused: Helm reads the Grafana legend "{{ready}}" as a template function', async () => {
    // GIVEN a catalog whose head names the same bundle minus its NetworkPolicy, served
    const { seconds } = await serveCatalog('flight-operator-without-networkpolicy', catalogRef['without-networkpolicy'], 'without-networkpolicy');
    timeline.secondCatalogServing = seconds;
    // WHEN a ClusterExtension asks for the package from it
    // THEN Progressing carries Helm's parse error, nothing is Installed
    const ext = await refused('without-networkpolicy', TEMPLATE_ERROR);
    expect(cond(ext, 'Installed')?.status).not.toBe('True');
    expect(ext.status?.install).toBeUndefined();
    done();
  }, 300_000);

  test('the head bundle adapted for it (no NetworkPolicy, "{{" escaped for Helm) installs: Installed, the CRD, the Deployment, its RBAC', async () => {
    // GIVEN a catalog whose head names the adapted bundle, served
    const { seconds } = await serveCatalog('flight-operator-adapted', catalogRef.adapted, 'adapted');
    timeline.adaptedCatalogServing = seconds;
    const objects = adaptedObjects;
    await installer('flight-operator', objects);
    // WHEN a ClusterExtension asks for the package from it
    const t0 = Date.now();
    await applyObjects([clusterExtension('flight-operator', 'adapted')]);
    // THEN it is Installed, with the head release
    const ext = await waitV1(
      'ClusterExtension flight-operator Installed',
      async () => {
        const e = await getCluster('clusterextensions', 'flight-operator');
        return cond(e, 'Installed')?.status === 'True' ? e : undefined;
      },
      300_000,
      diagnose,
    );
    timeline.clusterExtensionInstalled = Math.round((Date.now() - t0) / 10) / 100;
    process.stderr.write(`\nOLM v1 install: ClusterExtension -> Installed in ${timeline.clusterExtensionInstalled}s\n`);
    expect(ext.status.install.bundle).toEqual({ name: `${PACKAGE}.v${HEAD}`, version: HEAD });
    expect(cond(ext, 'Progressing')?.reason).toBe('Succeeded');

    // AND the FlightTicket CRD is served
    await kubectl(['wait', '--for=condition=Established', '--timeout=30s', `crd/${CRD}`], { timeoutMs: 40_000 });
    // AND the controller's Deployment is in the install namespace, as the CSV describes it, watching all namespaces
    const csv = objects.find((o) => o.kind === 'ClusterServiceVersion')!;
    const want = csv.spec.install.spec.deployments.find((d: Obj) => d.name === DEPLOYMENT).spec;
    const dep = JSON.parse((await kubectl(['get', 'deployment', DEPLOYMENT, '-n', INSTALL_NS, '-o', 'json'])).stdout) as Obj;
    expect(dep.spec.replicas).toBe(want.replicas);
    expect(dep.spec.template.spec.containers[0].image).toBe(want.template.spec.containers[0].image);
    expect(dep.spec.template.spec.serviceAccountName).toBe(want.template.spec.serviceAccountName);
    expect(dep.spec.template.metadata.annotations['olm.targetNamespaces']).toBe('');
    // AND the bundle's other objects (minus the NetworkPolicy) are there; the ConfigMaps hold exactly the bundle's text (the escapes rendered away)
    for (const o of objects.filter((x) => !['ClusterServiceVersion', 'CustomResourceDefinition'].includes(x.kind))) {
      const got = await kubectl(['get', o.kind.toLowerCase(), o.metadata.name, '-n', INSTALL_NS, '-o', 'json'], { check: false });
      expect(`${o.kind}/${o.metadata.name}: ${got.code}`).toBe(`${o.kind}/${o.metadata.name}: 0`);
      if (o.kind === 'ConfigMap') expect(JSON.parse(got.stdout).data).toEqual(o.data);
    }
    // AND the controller's ServiceAccount may do cluster-wide what the CSV grants (AllNamespaces: Roles become ClusterRoles)
    const sa = `system:serviceaccount:${INSTALL_NS}:${want.template.spec.serviceAccountName}`;
    for (const verb of ['list', 'watch', 'patch']) {
      expect((await kubectl(['auth', 'can-i', verb, 'flighttickets.flights.com', '--all-namespaces', `--as=${sa}`], { check: false })).stdout.trim()).toBe('yes');
    }
    done();
  }, 600_000);

  test("its controller, run from the Deployment's pods, books a FlightTicket once; an edit of its ConfigMap does not stay", async () => {
    // GIVEN the booking token in the Secret the operator reads (the bundled ConfigMap names the test booking service)
    const token = readFileSync(bookings!.tokenFile, 'utf8').trim();
    await kubectl(['create', 'secret', 'generic', 'flight-operator-booking-credentials', '-n', INSTALL_NS, `--from-literal=token=${token}`]);
    // AND the Deployment's pods running (pod-runner: the bundled controller as the pods' ServiceAccount)
    runner = await startPodRunner({ namespace: INSTALL_NS, selector: 'app.kubernetes.io/name=flight-operator-controller', bundle: controllerJs });
    await waitV1('the controller pods running, one leading', async () => runner!.running().length >= 1 && runner!.samples.at(-1)?.leaders.length === 1, 180_000, async () => runner!.logs());
    // WHEN a ticket is created in another namespace (AllNamespaces: the operator watches them all)
    const created = await createTicket(TICKETS_NS, 'olmv1-ticket', { from: 'Cairo', to: 'London', number: 2 });
    // THEN it becomes Ready with a booking, and the booking service holds exactly one active booking for it
    const t = await waitV1<Ticket>(
      'the ticket Ready with a booking',
      async () => {
        const x = await getTicket(TICKETS_NS, 'olmv1-ticket');
        return condition(x, 'Ready')?.status === 'True' && x?.status?.bookingRef ? x : undefined;
      },
      120_000,
      async () => `ticket: ${JSON.stringify((await getTicket(TICKETS_NS, 'olmv1-ticket'))?.status ?? null)}\n${runner!.logs(40)}`,
    );
    const active = await bookings!.activeFor(created.metadata.uid);
    expect(active.map((b) => `${b.id} ${b.from}->${b.to} seats=${b.seats}`)).toEqual([`${t.status!.bookingRef} Cairo->London seats=2`]);

    // AND an edit of the bundled ConfigMap does not stay: operator-controller puts the bundle's value back
    const t0 = Date.now();
    await kubectl(['patch', 'configmap', 'flight-operator-controller-config', '-n', INSTALL_NS, '--type=merge', '-p', JSON.stringify({ data: { BOOKING_API_URL: 'https://edited.invalid' } })]);
    await waitV1(
      'operator-controller to restore BOOKING_API_URL',
      async () => (await kubectl(['get', 'configmap', 'flight-operator-controller-config', '-n', INSTALL_NS, '-o', 'jsonpath={.data.BOOKING_API_URL}'])).stdout === bookings!.service.url,
      60_000,
    );
    timeline.configMapEditReverted = Math.round((Date.now() - t0) / 10) / 100;
    done();
  }, 400_000);
});
