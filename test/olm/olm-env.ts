/**
 * A real Operator Lifecycle Manager on the test control plane, all on the
 * host (no pods, no images):
 *
 *   - OLM's CRDs (tools/olm: the v0.46.0 module's deploy/chart/crds),
 *     applied server-side (the ClusterServiceVersion CRD is 814 KB, too big
 *     for client-side apply's last-applied annotation);
 *   - prometheus-operator's ServiceMonitor and PrometheusRule CRDs
 *     (tools/prometheus-crds), which a cluster running prometheus-operator
 *     has (option monitoringCrds): the 0.3.0 bundle ships those kinds, and
 *     OLM fails the InstallPlan of a bundle whose kinds the cluster does not
 *     serve; from 0.4.0 the controller creates them when they are served;
 *   - the namespaces OLM's own manifests create: `olm` (OLM and the global
 *     catalogs) and `operators` with its `global-operators` OperatorGroup,
 *     plus the OLMConfig `cluster`;
 *   - the `olm` operator (CSVs, OperatorGroups) and the `catalog` operator
 *     (CatalogSources, Subscriptions, InstallPlans) as host processes
 *     against the test kubeconfig;
 *   - `opm serve olm-bundle/catalog` (the inline flavour: every
 *     olm.bundle carries its manifests as olm.bundle.object, image "", so the
 *     catalog operator never starts a bundle-unpack Job, which would need a
 *     kubelet and an image pull).
 *
 *   const olm = await startOlm();          // beforeAll, long timeout (cold builds)
 *   ... CatalogSource {sourceType: grpc, address: olm.catalogAddress} in olm.namespace ...
 *   olm.assertRunning();                   // in every wait loop: a dead component fails at once
 *   await olm.stop();                      // afterAll
 *
 * Ports. opm gets a free port for gRPC and another for pprof (127.0.0.1).
 * The olm and catalog operators have NO flag for their health/metrics port
 * (pkg/lib/server: ":8080", or ":8443" when --tls-cert and --tls-key are
 * given, on all interfaces), so olm serves plain HTTP on :8080 and catalog
 * serves HTTPS on :8443 with a throw-away self-signed certificate. A port
 * already taken is not fatal for them (the listener error is only logged,
 * cmd/olm/main.go and cmd/catalog/main.go); readiness is therefore read from
 * their logs, and /healthz is checked only when the port was ours.
 *
 * Lifetime. Every component runs detached (its own process group) with its
 * log in a file under logDir. stop() sends SIGTERM to each group, then
 * SIGKILL after a grace period. A small guard process (plain Node, holding
 * the read end of a pipe only this process writes to) does the same when
 * this process dies without calling stop() (jest worker killed, OOM...).
 * A binary that cannot be built or found, or a component that exits before
 * it is ready, is an Error carrying its log tail: the tests fail, never skip.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { toolPath, REPO_ROOT } from '../../infra/validate/operator-framework';
import { issue } from '../../testenv/certs';
import { k8s, kubeconfigPath, kubectl, loadKubeConfig, statusCode, waitFor } from '../../testenv/kube';
import { freePort } from '../../testenv/cluster';
import { installMonitoringCrds } from '../monitoring/tools';
import { hostProcesses, type HostProcess, type Launched } from '../support/host-processes';

/** OLM's own namespace: the catalog operator's --namespace, i.e. the global catalog namespace. */
export const OLM_NAMESPACE = 'olm';
/** Where upstream puts the global (AllNamespaces) OperatorGroup. */
export const OPERATORS_NAMESPACE = 'operators';
/**
 * Label for CatalogSources that point at an opm serve of ours. startOlm()
 * deletes those left behind by an earlier run that was killed: OLM resolves a
 * Subscription against every catalog in the global namespace, and one it
 * cannot reach fails the resolution of all of them ("error using
 * catalogsource olm/x: failed to list bundles ... connection refused").
 */
export const CATALOG_LABEL = 'flight-operator.test/olm-env';

/** One of OLM's host processes. */
export type OlmComponent = HostProcess & { readonly name: 'olm' | 'catalog' | 'opm' };

/** One of OLM's processes as hostProcesses launched it. */
type Running = Launched & { c: OlmComponent };

export interface OlmEnv {
  readonly namespace: string;
  /** host:port of `opm serve`, for CatalogSource spec.address. */
  readonly catalogAddress: string;
  readonly catalogPort: number;
  /** The File-Based Catalog opm serves: a snapshot of the source taken at start (others may regenerate olm-bundle/ meanwhile). */
  readonly catalogDir: string;
  /** The catalog directory the snapshot was taken from. */
  readonly sourceCatalogDir: string;
  /** Logs of all components (kept after stop() when keepLogs or FLIGHT_KEEP_OLM=1). */
  readonly dir: string;
  readonly components: readonly OlmComponent[];
  /** Versions of the binaries (tools/olm VERSIONS, opm version). */
  readonly versions: Record<string, string>;
  /** Seconds from startOlm() to each milestone. */
  readonly timings: Record<string, number>;
  /** Throws (with the log tail) when any component has exited. */
  assertRunning(): void;
  /**
   * A catalog update as a registry pod restart delivers it: stops opm, replaces
   * the served snapshot with `catalogDir`, starts opm again on the same port;
   * resolves once it serves again.
   */
  updateCatalog(catalogDir: string): Promise<void>;
  /** Stops opm (the catalog stops answering) and does not start it again. */
  stopCatalog(): Promise<void>;
  /** The last lines of every component's log, for failure messages. */
  logTails(lines?: number): string;
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

export interface StartOlmOptions {
  /** FBC directory to serve. Default: olm-bundle/catalog (the inline flavour). */
  catalogDir?: string;
  /** How long each component may take to become ready. Default 120 s (2 busy cores). */
  readyTimeoutMs?: number;
  /**
   * Apply OLM's CRDs, namespaces, global OperatorGroup and OLMConfig first.
   * Default true. False when something else installs them (the Pulumi `olm`
   * stack does, from OLM's chart): then startOlm only waits for the CRDs to
   * be Established and runs the operators.
   */
  installClusterObjects?: boolean;
  /**
   * Install prometheus-operator's ServiceMonitor and PrometheusRule CRDs
   * (test/monitoring/tools.ts installMonitoringCrds) before OLM starts, as a
   * cluster with prometheus-operator has them: release 0.3.0's bundle
   * carries those kinds, and OLM fails the InstallPlan of a bundle holding a
   * kind the cluster does not serve; from 0.4.0 the head's controller
   * creates them when they are served. Default: installClusterObjects.
   * False for a cluster without prometheus-operator
   * (test/olm/no-prometheus-operator.test.ts), or when the caller installs
   * them itself (test/pulumi, before `pulumi up`).
   */
  monitoringCrds?: boolean;
  /**
   * The catalog operator runs as `[...catalogOperatorPrefix, catalog, ...args]`.
   * For a real node (testenv/real-node inNodeNetwork()): a CatalogSource with
   * spec.image gets a registry pod, which the catalog operator dials by its
   * Service's name (`<name>.<namespace>.svc:50051`), so it must run where the
   * cluster's DNS and Service IPs are. Its health port is then not the host's:
   * readiness is read from its log only.
   */
  catalogOperatorPrefix?: string[];
  log?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


/** True when nothing listens on :port (all interfaces), as OLM's servers bind it. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** GET url; resolves with the status code (0 on a connection error). TLS certificates are not checked (self-signed, ours). */
export function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { timeout: 3000, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/**
 * A lock per cluster (keyed by kubeconfig path), held from startOlm() to
 * stop(): test files in parallel jest workers, or the demo beside a test run,
 * take turns instead of running two OLMs against one API server. A lock whose
 * holder died is taken over.
 */
async function clusterLock(kubeconfig: string, log: (m: string) => void): Promise<() => void> {
  const lock = path.join(os.tmpdir(), `flight-olm-${createHash('sha256').update(path.resolve(kubeconfig)).digest('hex').slice(0, 16)}.lock`);
  let said = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      let alive = false;
      try {
        if (holder) process.kill(holder, 0);
        alive = holder > 0;
      } catch {
        alive = false;
      }
      // Our own process: an earlier startOlm() here failed before stop() existed, or was never stopped.
      if ((!alive && holder) || holder === process.pid) rmSync(lock, { recursive: true, force: true });
      else {
        if (!said) log(`waiting for the OLM of process ${holder || '(starting)'} on this cluster to stop (${lock})`);
        said = true;
        await sleep(1000);
      }
    }
  }
}

export async function startOlm(opts: StartOlmOptions = {}): Promise<OlmEnv> {
  const t0 = Date.now();
  const log = opts.log ?? ((m: string) => process.stderr.write(`olm-env: ${m}\n`));
  const timings: Record<string, number> = {};
  const mark = (k: string) => (timings[k] = Math.round((Date.now() - t0) / 10) / 100);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const catalogDir = path.resolve(opts.catalogDir ?? path.join(REPO_ROOT, 'olm-bundle', 'catalog'));
  if (!existsSync(catalogDir)) throw new Error(`olm-env: catalog directory ${catalogDir} does not exist (npm run bundle generates it)`);

  // Binaries: built from upstream modules on first use (minutes), cached afterwards.
  const [olmBin, catalogBin, opmBin] = await Promise.all([toolPath('olm', 'olm'), toolPath('olm', 'catalog'), toolPath('opm', 'opm')]);
  const crdDir = path.join(path.dirname(olmBin), 'crds');
  if (!existsSync(crdDir)) throw new Error(`olm-env: OLM's CRDs are missing: ${crdDir} (tools/olm/build.sh copies them there)`);
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path.join(path.dirname(olmBin), 'VERSIONS'), 'utf8').split('\n')) {
    const [k, v] = line.split('=');
    if (k && v) versions[k] = v;
  }
  mark('binaries');

  const kubeconfig = kubeconfigPath();
  // One OLM per cluster at a time: two olm operators would fight over every CSV.
  const releaseLock = await clusterLock(kubeconfig, log);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-olm-'));
  mkdirSync(path.join(dir, 'opm-cache'));
  const servedCatalog = path.join(dir, 'catalog');
  cpSync(catalogDir, servedCatalog, { recursive: true });

  const installClusterObjects = opts.installClusterObjects ?? true;
  // 1. CRDs (server-side: the CSV CRD exceeds the 256 KiB annotation limit), then Established.
  if (installClusterObjects) await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=flight-olm-env', '-f', crdDir], { timeoutMs: 120_000 });
  else {
    // Someone else is creating them: `kubectl wait` fails at once on an object that does not exist yet.
    const deadline = Date.now() + readyTimeoutMs;
    while ((await kubectl(['get', '-f', crdDir, '-o', 'name'], { check: false })).code !== 0) {
      if (Date.now() > deadline) throw new Error(`olm-env: OLM's CRDs did not appear within ${readyTimeoutMs / 1000}s`);
      await sleep(500);
    }
  }
  await kubectl(['wait', '--for=condition=Established', '--timeout=90s', '-f', crdDir], { timeoutMs: 100_000 });
  mark('crds');
  // 1b. The prometheus-operator CRDs the bundles from 0.3.0 on need (the cluster's, not OLM's: server-side, idempotent).
  if (opts.monitoringCrds ?? installClusterObjects) {
    await installMonitoringCrds();
    mark('monitoringCrds');
  }

  // 2. What OLM's own manifests create besides its Deployments (deploy/chart/templates 00, 03, 13).
  const base = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OLM_NAMESPACE } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATORS_NAMESPACE } },
    { apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: 'global-operators', namespace: OPERATORS_NAMESPACE } },
    { apiVersion: 'operators.coreos.com/v1', kind: 'OLMConfig', metadata: { name: 'cluster' } },
  ];
  if (installClusterObjects) {
    await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=flight-olm-env', '-f', '-'], {
      input: base.map((o) => JSON.stringify(o)).join('\n'),
    });
  }
  await kubectl(['delete', 'catalogsource', '-n', OLM_NAMESPACE, '-l', `${CATALOG_LABEL}=true`, '--ignore-not-found', '--wait=false']);
  mark('namespaces');

  // 3. The components: host processes with a parent-death guard.
  const procs = hostProcesses({ dir, label: 'olm-env', log });
  const running = procs.running as readonly Running[];
  const launch = (name: OlmComponent['name'], bin: string, args: string[], env: NodeJS.ProcessEnv = {}, logName?: string) => procs.launch(name, bin, args, env, logName) as Running;
  const { assertRunning, logTails, logHas } = procs;
  const waitReady = (r: Running, what: string, ready: () => Promise<boolean>) => procs.waitReady(r, what, ready, readyTimeoutMs);
  const stop = async (o: { keepLogs?: boolean } = {}) => {
    await procs.stopAll();
    releaseLock();
    const keep = o.keepLogs || process.env.FLIGHT_KEEP_OLM === '1';
    if (keep) log(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };

  try {
    // opm serve: gRPC on a free port (it binds all interfaces), pprof on loopback,
    // our own cache dir (so nothing is left in /tmp after a SIGKILL), rebuilt at
    // start: --cache-enforce-integrity defaults to true with --cache-dir and
    // would refuse the empty directory.
    const catalogPort = await freePort();
    const pprofPort = await freePort();
    const opmArgs = [
      'serve',
      servedCatalog,
      '-p',
      String(catalogPort),
      `--pprof-addr=127.0.0.1:${pprofPort}`,
      '-t',
      path.join(dir, 'opm-termination.log'),
      `--cache-dir=${path.join(dir, 'opm-cache')}`,
      '--cache-enforce-integrity=false',
    ];
    const opm = launch('opm', opmBin, opmArgs);
    const opmServing = (r: Running) =>
      waitReady(r, '"serving registry" and its gRPC port accepting connections', async () => {
        if (!logHas(r, /serving registry/)) return false;
        return new Promise<boolean>((resolve) => {
          const s = net.connect(catalogPort, '127.0.0.1');
          s.once('connect', () => (s.destroy(), resolve(true)));
          s.once('error', () => resolve(false));
        });
      });
    let currentOpm = opm;
    const stopCatalog = () => procs.stopOne(currentOpm);
    const updateCatalog = async (newCatalog: string) => {
      await stopCatalog();
      rmSync(servedCatalog, { recursive: true, force: true });
      cpSync(path.resolve(newCatalog), servedCatalog, { recursive: true });
      rmSync(path.join(dir, 'opm-cache'), { recursive: true, force: true });
      mkdirSync(path.join(dir, 'opm-cache'));
      // Its own log: "serving registry" in the old one must not count as ready.
      currentOpm = launch('opm', opmBin, opmArgs, {}, `opm-${running.length}-${Date.now()}.log`);
      await opmServing(currentOpm);
    };

    // The health ports OLM hard-codes; whether they are ours decides if /healthz proves anything.
    const [own8080, own8443] = await Promise.all([portFree(8080), portFree(8443)]);
    if (!own8080) log('port 8080 is taken: the olm operator will run without its health/metrics endpoint (not fatal)');
    if (!own8443) log('port 8443 is taken: the catalog operator will run without its health/metrics endpoint (not fatal)');

    // catalog: TLS only to move its health/metrics listener to :8443.
    const cert = issue({ subject: { commonName: 'catalog-operator.local' }, server: true, dnsNames: ['localhost'], ips: ['127.0.0.1'], validDays: 2 });
    writeFileSync(path.join(dir, 'catalog-tls.crt'), cert.certPem);
    writeFileSync(path.join(dir, 'catalog-tls.key'), cert.keyPem, { mode: 0o600 });
    // Without a kubelet these images are never pulled: they are only used for
    // pod-backed catalogs (sourceType configmap, grpc with spec.image) and
    // bundle-unpack Jobs, which an inline grpc-address catalog never needs.
    const dummy = (n: string) => `registry.invalid/flight-olm-test/${n}:unused`;
    const olm = launch('olm', olmBin, ['--namespace', OLM_NAMESPACE, '--writeStatusName', '', '--writePackageServerStatusName', ''], {
      // cmd/olm has no --kubeconfig flag: controller-runtime's GetConfigOrDie reads $KUBECONFIG.
      KUBECONFIG: kubeconfig,
      OPERATOR_NAMESPACE: OLM_NAMESPACE,
      OPERATOR_NAME: 'olm-operator',
    });
    const prefix = opts.catalogOperatorPrefix ?? [];
    const catalog = launch('catalog', prefix[0] ?? catalogBin, [
      ...prefix.slice(1),
      ...(prefix.length ? [catalogBin] : []),
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      OLM_NAMESPACE,
      '--writeStatusName',
      '',
      '--tls-cert',
      path.join(dir, 'catalog-tls.crt'),
      '--tls-key',
      path.join(dir, 'catalog-tls.key'),
      `--configmapServerImage=${dummy('configmap-operator-registry')}`,
      `--opmImage=${dummy('opm')}`,
      `--util-image=${dummy('olm')}`,
    ]);

    await Promise.all([
      opmServing(opm).then(() => mark('opm')),
      // The CSV controller's workers are the last to start (controller-runtime log).
      waitReady(olm, 'its ClusterServiceVersion workers to start', async () => {
        if (!logHas(olm, /"Starting workers".*"controllerKind":"ClusterServiceVersion"|Starting workers.*ClusterServiceVersion/)) return false;
        return own8080 ? (await probe('http://127.0.0.1:8080/healthz')) === 200 : true;
      }).then(() => mark('olm')),
      waitReady(catalog, '"starting workers..."', async () => {
        if (!logHas(catalog, /starting workers/)) return false;
        return own8443 && !prefix.length ? (await probe('https://127.0.0.1:8443/healthz')) === 200 : true;
      }).then(() => mark('catalog')),
    ]);

    const opmVersion = await new Promise<string>((resolve) => {
      const p = spawn(opmBin, ['version'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      p.on('close', () => resolve(/OpmVersion:"([^"]+)"/.exec(out)?.[1] ?? out.trim()));
      p.on('error', () => resolve('unknown'));
    });
    versions.opm = opmVersion;
    log(`OLM up in ${Math.max(timings.opm ?? 0, timings.olm ?? 0, timings.catalog ?? 0)}s: olm pid ${olm.c.pid}, catalog pid ${catalog.c.pid}, opm serve 127.0.0.1:${catalogPort} (pid ${opm.c.pid}); logs in ${dir}`);

    return {
      namespace: OLM_NAMESPACE,
      catalogAddress: `127.0.0.1:${catalogPort}`,
      catalogPort,
      catalogDir: servedCatalog,
      sourceCatalogDir: catalogDir,
      dir,
      components: running.map((r) => r.c),
      versions,
      timings,
      assertRunning,
      updateCatalog,
      stopCatalog,
      logTails,
      stop,
    };
  } catch (e) {
    await stop({ keepLogs: true });
    throw e;
  }
}

/** Polls fn like testenv's waitFor, but fails at once (with the logs) when an OLM component (v0's or v1's) dies. */
export function waitWithOlm<T>(
  olm: Pick<OlmEnv, 'assertRunning' | 'logTails'>,
  description: string,
  fn: () => Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number; diagnose?: () => Promise<string> } = {},
): Promise<T> {
  class Dead extends Error {
    constructor(readonly cause: unknown) {
      super((cause as Error).message);
    }
  }
  return waitFor(
    description,
    async () => {
      try {
        olm.assertRunning();
      } catch (e) {
        throw new Dead(e);
      }
      return fn();
    },
    { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 500, rethrow: Dead },
  ).catch(async (e: Error) => {
    const extra = opts.diagnose ? await opts.diagnose().catch((d: Error) => `(diagnosis failed: ${d.message})`) : '';
    throw new Error(`${e.message}${extra ? `\n${extra}` : ''}\n${olm.logTails()}`);
  });
}

/**
 * The manifests of one bundle as a File-Based Catalog carries them inline
 * (olm.bundle.object properties, base64 JSON), read from catalogDir: what
 * OLM receives from opm serve. Default: the head of the package's default
 * channel.
 */
export function catalogBundleObjects(catalogDir: string, pkg: string, bundleName?: string): Array<Record<string, any>> {
  const blobs: Array<Record<string, any>> = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ya?ml|json)$/.test(f)) for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) if (doc.contents) blobs.push(doc.toJS());
    }
  };
  walk(catalogDir);
  let name = bundleName;
  if (!name) {
    const pkgBlob = blobs.find((b) => b.schema === 'olm.package' && b.name === pkg);
    const channel = blobs.find((b) => b.schema === 'olm.channel' && b.package === pkg && b.name === pkgBlob?.defaultChannel);
    const entries: Array<{ name: string; replaces?: string; skips?: string[] }> = channel?.entries ?? [];
    const replaced = new Set(entries.flatMap((e) => [e.replaces, ...(e.skips ?? [])]).filter(Boolean));
    name = entries.find((e) => !replaced.has(e.name))?.name;
  }
  const bundle = blobs.find((b) => b.schema === 'olm.bundle' && b.package === pkg && b.name === name);
  if (!bundle) throw new Error(`olm-env: no olm.bundle ${name ?? '(no channel head)'} of package ${pkg} in ${catalogDir}`);
  return (bundle.properties as Array<{ type: string; value: { data: string } }>)
    .filter((p) => p.type === 'olm.bundle.object')
    .map((p) => JSON.parse(Buffer.from(p.value.data, 'base64').toString('utf8')));
}

const OLM_V1A1 = { group: 'operators.coreos.com', version: 'v1alpha1' } as const;

/** An operators.coreos.com/v1alpha1 object (CSV, Subscription, InstallPlan, CatalogSource), or undefined when there is none. */
export async function getOlmObject(plural: string, namespace: string, name: string): Promise<Record<string, any> | undefined> {
  try {
    return (await loadKubeConfig().makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ ...OLM_V1A1, plural, namespace, name })) as Record<string, any>;
  } catch (e) {
    if (statusCode(e) === 404) return undefined;
    throw e;
  }
}

export async function listOlmObjects(plural: string, namespace: string): Promise<Array<Record<string, any>>> {
  return ((await loadKubeConfig().makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({ ...OLM_V1A1, plural, namespace })) as { items: Array<Record<string, any>> }).items;
}

/**
 * Waits for the Subscription to report `csv` as installed and current, at the
 * latest version it knows, and returns it. The catalog operator writes that
 * status on its own sync, which can come after the CSV has succeeded (CI once
 * read installedCSV a moment too early), so a test must wait for it rather
 * than read it once.
 */
export function waitSubscriptionAt(
  olm: Pick<OlmEnv, 'assertRunning' | 'logTails'>,
  namespace: string,
  name: string,
  csv: string,
  opts: { timeoutMs?: number; diagnose?: () => Promise<string> } = {},
): Promise<Record<string, any>> {
  let last: unknown;
  return waitWithOlm(
    olm,
    `Subscription ${namespace}/${name} at ${csv} (installedCSV, currentCSV, AtLatestKnown)`,
    async () => {
      const sub = await getOlmObject('subscriptions', namespace, name);
      const s = sub?.status;
      last = { state: s?.state, currentCSV: s?.currentCSV, installedCSV: s?.installedCSV };
      return s?.installedCSV === csv && s?.currentCSV === csv && s?.state === 'AtLatestKnown' ? sub : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 120_000, intervalMs: 250, diagnose: async () => `last Subscription status: ${JSON.stringify(last)}${opts.diagnose ? `\n${await opts.diagnose()}` : ''}` },
  );
}

/**
 * A grpc CatalogSource in OLM's global namespace pointing at `address`
 * (default: this env's opm serve), labelled so a later startOlm() removes it
 * if it is left behind. With waitReady, resolves once the catalog operator
 * reports it READY.
 */
export async function createCatalogSource(olm: OlmEnv, name: string, opts: { address?: string; displayName?: string; waitReady?: boolean } = {}): Promise<void> {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'CatalogSource',
      metadata: { name, namespace: olm.namespace, labels: { [CATALOG_LABEL]: 'true' } },
      spec: { sourceType: 'grpc', address: opts.address ?? olm.catalogAddress, displayName: opts.displayName ?? 'Flight Operator (test)', publisher: 'flight-operator tests' },
    }),
  });
  if (opts.waitReady ?? true) {
    await waitWithOlm(olm, `CatalogSource ${olm.namespace}/${name} READY`, async () => (await getOlmObject('catalogsources', olm.namespace, name))?.status?.connectionState?.lastObservedState === 'READY', {
      timeoutMs: 120_000,
    });
  }
}
