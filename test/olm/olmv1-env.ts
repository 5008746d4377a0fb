/**
 * OLM v1 (operator-controller and catalogd v1.2.0, built from the Go module
 * proxy by tools/olmv1) on a test control plane, all on the host, plus the
 * image registry both pull from:
 *
 *   - a loopback registry: Debian's docker-registry (distribution v2) on
 *     127.0.0.1:<free port>, storage in the temp dir; images are pushed to it
 *     with skopeo from OCI layouts (image/push.ts);
 *   - a HOME of their own for both components, holding
 *     .config/containers/registries.conf, which sends every
 *     ghcr.io/flight-operator/... reference to that registry (plain HTTP,
 *     `insecure = true`), and .config/containers/policy.json (accept
 *     anything). containers/image v5.33 reads the per-user file when it
 *     exists and then ignores /etc/containers; operator-controller and
 *     catalogd v1.2.0 have no flag for either file and honour no
 *     CONTAINERS_REGISTRIES_CONF;
 *   - OLM v1's two CRDs (ClusterCatalog, ClusterExtension), applied
 *     server-side, and its namespace olmv1-system (--system-namespace: where
 *     operator-controller keeps its Helm release Secrets);
 *   - catalogd: serves the catalogs it unpacks over HTTPS on
 *     127.0.0.1:<port>, with a serving certificate issued here by a throw-away
 *     CA (upstream: cert-manager); --external-address is that same address,
 *     so the ClusterCatalog's status.urls.base points at it;
 *   - operator-controller: trusts that CA through --catalogd-cas-dir (a
 *     folder of PEM files), keeps its caches in the temp dir (--cache-path).
 *
 * Both run as the test kubeconfig's admin (upstream: their own
 * ServiceAccounts and RBAC from config/base), without leader election (the
 * flag defaults to false). Every port they open is a free one on 127.0.0.1
 * except catalogd's webhook server, which has only a port flag and binds all
 * interfaces; nothing registers that webhook with the API server, so
 * ClusterCatalogs do not get the olm.operatorframework.io/metadata.name label
 * it would add (select catalogs by a label of your own instead).
 * operator-controller's metrics server stays off (it needs --tls-cert);
 * catalogd's metrics get 127.0.0.1:<port> with its serving certificate.
 *
 *   const v1 = await startOlmV1({ kubeconfig });   // beforeAll
 *   await v1.push([{ name, reference, image }]);   // OCI images into the registry, by digest
 *   ... ClusterCatalog {source: {type: Image, image: {ref}}}, ClusterExtension ...
 *   v1.assertRunning();                            // in wait loops: a dead component fails at once
 *   await v1.stop();                               // afterAll
 *
 * installerRules(bundleObjects, name) gives the ClusterRole a ClusterExtension's
 * spec.serviceAccount needs to install a registry+v1 bundle.
 *
 * Lifetime as in olm-env.ts: each process detached in its own group, logs in
 * files, SIGTERM then SIGKILL on stop(), a guard process that does the same
 * if this process dies first; the temp dir (logs, registry storage, caches)
 * is removed unless keepLogs or FLIGHT_KEEP_OLM=1.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pushImages, type PushedImage } from '../../image/push';
import { writeOciLayout, type BuiltImage, type ImageName } from '../../image/oci';
import { toolPath } from '../../infra/validate/operator-framework';
import { issue } from '../../testenv/certs';
import { freePort } from '../../testenv/cluster';
import { kubectl } from '../../testenv/kube';
import { hostProcesses, type HostProcess, type Launched } from '../support/host-processes';
import { registryConfig } from '../../testenv/real-node/configs';
import { probe } from './olm-env';

/** operator-controller's --system-namespace (upstream's default when not in a pod). */
export const OLMV1_NAMESPACE = 'olmv1-system';
/** The repositories the registry mirror covers: what the catalogs and bundles name. */
export const MIRRORED_PREFIX = 'ghcr.io/flight-operator';

/** One of OLM v1's host processes (and the registry). */
export type OlmV1Component = HostProcess & { readonly name: 'registry' | 'catalogd' | 'operator-controller' };

export interface ImageToPush {
  /** Folder name in the layout dir, and the name push() reports. */
  name: string;
  /** ghcr.io/flight-operator/<repo>:<tag>: where it lands (retargeted to the loopback registry). */
  reference: string;
  image: BuiltImage;
}

export interface OlmV1Env {
  /** 127.0.0.1:<port> of the registry. */
  readonly registry: string;
  /** https://127.0.0.1:<port>: catalogd's catalog server (its --external-address). */
  readonly catalogdUrl: string;
  /** PEM of the CA that issued catalogd's serving certificate. */
  readonly catalogdCa: string;
  readonly dir: string;
  readonly components: readonly OlmV1Component[];
  readonly versions: Record<string, string>;
  /** Seconds from startOlmV1() to each milestone. */
  readonly timings: Record<string, number>;
  /** Pushes OCI images into the registry by digest (skopeo); returns 127.0.0.1:<port>/...@sha256 references. */
  push(images: ImageToPush[]): PushedImage[];
  /** GET a path of catalogd's catalog server, trusting only its CA. */
  catalogdGet(urlPath: string): Promise<{ status: number; body: string }>;
  assertRunning(): void;
  logTails(lines?: number): string;
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

export interface StartOlmV1Options {
  kubeconfig: string;
  /** How long each component may take to become ready. Default 180 s (2 busy cores). */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}


/** registries.conf (v2) sending the mirrored prefix to the loopback registry over plain HTTP. */
export function registriesConf(registry: string): string {
  return `# Written by test/olm/olmv1-env.ts: ${MIRRORED_PREFIX}/... is pulled from the test's loopback registry.
unqualified-search-registries = []

[[registry]]
prefix = "${MIRRORED_PREFIX}"
location = "${registry}/${MIRRORED_PREFIX.split('/').slice(1).join('/')}"
insecure = true
`;
}

export async function startOlmV1(opts: StartOlmV1Options): Promise<OlmV1Env> {
  const t0 = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`olmv1-env: ${m}\n`));
  const timings: Record<string, number> = {};
  const mark = (k: string) => (timings[k] = Math.round((Date.now() - t0) / 10) / 100);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000;
  const kubeconfig = opts.kubeconfig;
  const kc = (args: string[], o: { input?: string; check?: boolean; timeoutMs?: number } = {}) => kubectl(['--kubeconfig', kubeconfig, ...args], o);

  // Binaries: built from the module proxy on first use (many minutes cold), cached afterwards.
  const [opconBin, catalogdBin] = await Promise.all([toolPath('olmv1', 'operator-controller'), toolPath('olmv1', 'catalogd')]);
  const binDir = path.dirname(opconBin);
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path.join(binDir, 'VERSIONS'), 'utf8').split('\n')) {
    const [k, v] = line.split('=');
    if (k && v) versions[k] = v;
  }
  mark('binaries');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-olmv1-'));
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  const layouts = path.join(dir, 'layouts');
  for (const d of [home, tmp, layouts, path.join(dir, 'registry'), path.join(dir, 'catalogd-ca'), path.join(home, '.config', 'containers')]) mkdirSync(d, { recursive: true });

  // The components: host processes with a parent-death guard.
  const procs = hostProcesses({ dir, label: 'olmv1-env', log });
  type Running = Launched & { c: OlmV1Component };
  const running = procs.running as readonly Running[];
  const launch = (name: OlmV1Component['name'], bin: string, args: string[], env: NodeJS.ProcessEnv = {}) => procs.launch(name, bin, args, env) as Running;
  const { assertRunning, logTails, logHas } = procs;
  const waitReady = (r: Running, what: string, ready: () => Promise<boolean>) => procs.waitReady(r, what, ready, readyTimeoutMs);
  const stop = async (o: { keepLogs?: boolean } = {}) => {
    await procs.stopAll();
    const keep = o.keepLogs || process.env.FLIGHT_KEEP_OLM === '1';
    if (keep) {
      // The registry's blobs are the bulk and tell nothing: logs only.
      rmSync(path.join(dir, 'registry'), { recursive: true, force: true });
      rmSync(layouts, { recursive: true, force: true });
      log(`logs kept in ${dir}`);
    } else rmSync(dir, { recursive: true, force: true });
  };

  try {
    // 1. The registry.
    const registryPort = await freePort();
    const registry = `127.0.0.1:${registryPort}`;
    writeFileSync(path.join(dir, 'registry.yml'), registryConfig(path.join(dir, 'registry'), registry));
    const reg = launch('registry', '/usr/bin/docker-registry', ['serve', path.join(dir, 'registry.yml')]);
    await waitReady(reg, `GET http://${registry}/v2/ to answer 200`, async () => (await probe(`http://${registry}/v2/`)) === 200);
    mark('registry');

    // 2. What both components read from HOME: the mirror and the signature policy.
    writeFileSync(path.join(home, '.config', 'containers', 'registries.conf'), registriesConf(registry));
    writeFileSync(path.join(home, '.config', 'containers', 'policy.json'), `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })}\n`);

    // 3. catalogd's serving certificate, from a CA operator-controller is told to trust.
    const ca = issue({ subject: { commonName: 'flight-olmv1-test-ca' }, isCA: true, validDays: 2 });
    const serving = issue({ subject: { commonName: 'catalogd' }, issuer: ca, server: true, dnsNames: ['localhost'], ips: ['127.0.0.1'], validDays: 2 });
    writeFileSync(path.join(dir, 'catalogd-ca', 'ca.crt'), ca.certPem);
    writeFileSync(path.join(dir, 'catalogd.crt'), serving.certPem);
    writeFileSync(path.join(dir, 'catalogd.key'), serving.keyPem, { mode: 0o600 });

    // 4. CRDs (server-side, as upstream's are large) and the system namespace.
    const crdDir = path.join(binDir, 'crds');
    await kc(['apply', '--server-side', '--force-conflicts', '--field-manager=flight-olmv1-env', '-f', crdDir], { timeoutMs: 120_000 });
    await kc(['wait', '--for=condition=Established', '--timeout=90s', '-f', crdDir], { timeoutMs: 100_000 });
    await kc(['apply', '--server-side', '--field-manager=flight-olmv1-env', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OLMV1_NAMESPACE } }) });
    mark('crds');

    // 5. The components. TMPDIR: their pull auth file and unpack layouts stay in our dir.
    const env = { KUBECONFIG: kubeconfig, HOME: home, TMPDIR: tmp };
    const [catalogPort, catalogdMetrics, catalogdHealth, webhookPort, opconHealth] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const catalogdAddr = `127.0.0.1:${catalogPort}`;
    const catalogd = launch(
      'catalogd',
      catalogdBin,
      [
        `--system-namespace=${OLMV1_NAMESPACE}`,
        `--catalogs-server-addr=${catalogdAddr}`,
        `--external-address=${catalogdAddr}`,
        `--cache-dir=${path.join(dir, 'catalogd-cache')}`,
        `--tls-cert=${path.join(dir, 'catalogd.crt')}`,
        `--tls-key=${path.join(dir, 'catalogd.key')}`,
        `--metrics-bind-address=127.0.0.1:${catalogdMetrics}`,
        `--health-probe-bind-address=127.0.0.1:${catalogdHealth}`,
        `--webhook-server-port=${webhookPort}`,
      ],
      env,
    );
    const opcon = launch(
      'operator-controller',
      opconBin,
      [
        `--system-namespace=${OLMV1_NAMESPACE}`,
        `--catalogd-cas-dir=${path.join(dir, 'catalogd-ca')}`,
        `--cache-path=${path.join(dir, 'operator-controller-cache')}`,
        `--health-probe-bind-address=127.0.0.1:${opconHealth}`,
      ],
      env,
    );
    await Promise.all([
      waitReady(catalogd, 'its ClusterCatalog workers and /readyz', async () => logHas(catalogd, /Starting workers.*clustercatalog/i) && (await probe(`http://127.0.0.1:${catalogdHealth}/readyz`)) === 200).then(() =>
        mark('catalogd'),
      ),
      waitReady(opcon, 'its ClusterExtension workers and /readyz', async () => logHas(opcon, /Starting workers.*clusterextension/i) && (await probe(`http://127.0.0.1:${opconHealth}/readyz`)) === 200).then(() =>
        mark('operatorController'),
      ),
    ]);
    log(`OLM v1 up in ${Math.max(timings.catalogd ?? 0, timings.operatorController ?? 0)}s: registry ${registry}, catalogd https://${catalogdAddr} (pid ${catalogd.c.pid}), operator-controller pid ${opcon.c.pid}; logs in ${dir}`);

    const push = (images: ImageToPush[]): PushedImage[] => {
      const digests: Record<string, { reference: string; digest: string }> = {};
      for (const i of images) {
        const ref = /^(.+):([^:/]+)$/.exec(i.reference);
        if (!ref) throw new Error(`olmv1-env: ${i.reference} has no tag`);
        const name: ImageName = { repository: ref[1]!, tag: ref[2]! };
        writeOciLayout(i.image, path.join(layouts, i.name), name);
        digests[i.name] = { reference: `${i.reference}@${i.image.manifestDigest}`, digest: i.image.manifestDigest };
      }
      writeFileSync(path.join(layouts, 'digests.json'), JSON.stringify(digests));
      return pushImages({ registry, outDir: layouts, names: images.map((i) => i.name), insecure: true, log: (m) => log(m) });
    };

    const catalogdGet = (urlPath: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        // Our CA only: what operator-controller trusts.
        const req = https.get(`https://${catalogdAddr}${urlPath}`, { ca: ca.certPem, agent: false, timeout: 10_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });

    const skopeo = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
    versions.skopeo = skopeo.stdout?.trim() ?? 'missing';
    versions.registry = spawnSync('/usr/bin/docker-registry', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? 'unknown';

    return {
      registry,
      catalogdUrl: `https://${catalogdAddr}`,
      catalogdCa: ca.certPem,
      dir,
      components: running.map((r) => r.c),
      versions,
      timings,
      push,
      catalogdGet,
      assertRunning,
      logTails,
      stop,
    };
  } catch (e) {
    await stop({ keepLogs: true });
    throw e;
  }
}

const RESOURCE_OF: Record<string, [group: string, resource: string]> = {
  CustomResourceDefinition: ['apiextensions.k8s.io', 'customresourcedefinitions'],
  Deployment: ['apps', 'deployments'],
  ServiceAccount: ['', 'serviceaccounts'],
  Service: ['', 'services'],
  ConfigMap: ['', 'configmaps'],
  Secret: ['', 'secrets'],
  PodDisruptionBudget: ['policy', 'poddisruptionbudgets'],
  NetworkPolicy: ['networking.k8s.io', 'networkpolicies'],
  ClusterRole: ['rbac.authorization.k8s.io', 'clusterroles'],
  ClusterRoleBinding: ['rbac.authorization.k8s.io', 'clusterrolebindings'],
  Role: ['rbac.authorization.k8s.io', 'roles'],
  RoleBinding: ['rbac.authorization.k8s.io', 'rolebindings'],
  ServiceMonitor: ['monitoring.coreos.com', 'servicemonitors'],
  PrometheusRule: ['monitoring.coreos.com', 'prometheusrules'],
};

/**
 * The installer ServiceAccount's rules for a bundle (upstream's
 * docs/howto/derive-service-account.md, without resourceNames): manage every
 * kind OLM v1 creates from it (the bundle's objects, plus the Deployment,
 * ServiceAccount and, for AllNamespaces, ClusterRoles and ClusterRoleBindings
 * it generates from the CSV), cluster-wide, because operator-controller
 * watches what it installed with this ServiceAccount's token in all
 * namespaces; and hold every rule the CSV grants, since RBAC lets nobody
 * grant what it does not have.
 */
export function installerRules(objects: Array<Record<string, any>>, extensionName: string): Array<Record<string, any>> {
  const csv = objects.find((o) => o.kind === 'ClusterServiceVersion');
  if (!csv) throw new Error('installerRules: the bundle has no ClusterServiceVersion');
  const kinds = new Set(['Deployment', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', ...objects.filter((o) => o !== csv).map((o) => o.kind as string)]);
  const byGroup = new Map<string, Set<string>>();
  for (const k of kinds) {
    const gr = RESOURCE_OF[k];
    if (!gr) throw new Error(`installerRules: no resource known for kind ${k}`);
    byGroup.set(gr[0], (byGroup.get(gr[0]) ?? new Set()).add(gr[1]));
  }
  const manage = [...byGroup].map(([group, resources]) => ({ apiGroups: [group], resources: [...resources].sort(), verbs: ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'] }));
  const spec = csv.spec.install.spec;
  const granted = [...(spec.clusterPermissions ?? []), ...(spec.permissions ?? [])].flatMap((p: Record<string, any>) => p.rules);
  return [
    ...manage,
    // Only needed with the OwnerReferencesPermissionEnforcement admission plugin; harmless elsewhere.
    { apiGroups: ['olm.operatorframework.io'], resources: ['clusterextensions/finalizers'], verbs: ['update'], resourceNames: [extensionName] },
    ...granted,
  ];
}
