/**
 * `pulumi preview | up | up | refresh | destroy` for real: the Pulumi CLI and
 * engine (v3.259.0), the Kubernetes provider (4.25.0) and our Node.js language
 * host, built from Go modules (tools/pulumi), against a control plane of this
 * file's own (its CRD and cluster-scoped RBAC are created and destroyed here,
 * which would pull them from under the other test files on the shared one).
 *
 *  - the `manifests` stack, from nothing, and back to nothing;
 *  - the README's own program (examples/pulumi): the operator and a ticket,
 *    booked by the controller running with the ServiceAccount token the stack
 *    created; destroy cancels the booking while the controller still runs;
 *  - the `olm` stack: OLM from its upstream chart, then the Subscription; the
 *    olm and catalog operators run beside the cluster (as in test/olm);
 *  - bad config, each failing `preview` with the setting named.
 * Timings go to .bench/results/pulumi.json (npm test leaves bench/results/ alone).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../testenv/binaries';
import { freePort, startCluster, type Cluster } from '../../testenv/cluster';
import { toolPath } from '../../infra/validate/operator-framework';
import { kubectl, loadKubeConfig, waitFor } from '../../testenv/kube';
import { pulumiToolchain, type PulumiResult } from '../../testenv/pulumi';
import { startOlm, type OlmEnv } from '../olm/olm-env';
import { installMonitoringCrds } from '../monitoring/tools';
import type { Child } from '../support/child-process';
import { startBookings, startController, waitForReady, type BookingEnv } from '../support/operator-env';
import { mintToken } from '../in-cluster/pod';
import { makeProject, type PulumiProject } from './pulumi-project';
import { testResultsFile } from '../support/results';

const TOKEN = 'pulumi-test-token-7f3a9c';
const timings: Record<string, number> = {};
let cluster: Cluster;
let work: string;
let bookings: BookingEnv;
let previousKubeconfig: string | undefined;

/** A project in its own folder; `stateDir` defaults to the backend every real stack of this file shares. */
function project(name: string, source: string, stackFiles: string[] = [], stateDir = path.join(work, 'state')): PulumiProject {
  mkdirSync(stateDir, { recursive: true });
  return makeProject({ dir: path.join(work, name), source, stackFiles, stateDir, passphraseFile: path.join(work, 'passphrase') });
}

async function exists(args: string[]): Promise<boolean> {
  return (await kubectl(['get', ...args, '-o', 'name'], { check: false })).code === 0;
}

/** Every file of the backend's state, as text. */
function stateText(): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(path.join(work, 'state'));
  return out.join('\n');
}

/** A second `up` and a `refresh` that must both find nothing to do (`--expect-no-changes` fails them otherwise). */
async function expectNoChanges(p: PulumiProject, stack: 'manifests' | 'olm'): Promise<void> {
  for (const command of ['up', 'refresh'] as const) {
    const r = await p.ok([command, '-s', stack, '--yes', '--skip-preview', '--non-interactive', '--expect-no-changes']);
    timings[`${stack}${command === 'up' ? 'SecondUp' : 'Refresh'}`] = r.seconds;
  }
}

async function initStack(p: PulumiProject, stack: string, config: Record<string, string>): Promise<void> {
  await p.ok(['stack', 'init', stack, '--secrets-provider', 'passphrase', '--non-interactive']);
  for (const [k, v] of Object.entries(config)) await p.ok(['config', 'set', '-s', stack, k, v]);
  await p.ok(['config', 'set', '-s', stack, '--secret', 'flight-operator:bookingToken', TOKEN]);
}

/** opm serving the committed catalog on a free port: what an olm stack's catalogAddress names. */
async function serveCatalog(): Promise<{ address: string; child: ChildProcess }> {
  const port = await freePort();
  const cacheDir = mkdtempSync(path.join(work, 'opm-cache-'));
  // Its own pprof port too: the default (localhost:6060) is taken whenever another opm serve runs.
  const opmLog = openSync(path.join(work, `opm-${port}.log`), 'a');
  const child = spawn(
    await toolPath('opm', 'opm'),
    ['serve', path.join(REPO_ROOT, 'olm-bundle', 'catalog'), '-p', String(port), `--pprof-addr=127.0.0.1:${await freePort()}`, `--cache-dir=${cacheDir}`, '--cache-enforce-integrity=false'],
    { stdio: ['ignore', opmLog, opmLog] },
  );
  const address = `127.0.0.1:${port}`;
  await waitFor(`opm serve on ${address}`, () => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  }), { timeoutMs: 60_000 });
  return { address, child };
}

/** The olm stack's settings for this file's cluster, booking service and catalog. */
function olmStackConfig(catalogAddress: string): Record<string, string> {
  return {
    'flight-operator:kubeconfig': cluster.kubeconfigPath,
    'flight-operator:bookingApiUrl': bookings.service.url,
    'flight-operator:catalogAddress': catalogAddress,
    'flight-operator:olmChart': pulumiToolchain().olmChart,
    'flight-operator:installOlm': 'always',
    // packageserver is an aggregated API server; on the kwok node nothing serves it.
    'flight-operator:olmPackageServer': 'false',
  };
}

/**
 * `pulumi up` of an olm stack from nothing, with OLM's operators started beside the cluster as soon as the
 * stack has created OLM's CRDs (the provider waits on the Subscription, which only OLM moves).
 * One operation at a time (`--parallel 1`): no object may hold the engine's only slot waiting for one
 * queued behind it (the chart's Deployments, awaited, stalled `up` behind their ServiceAccount and the CRDs).
 */
async function upWithOlmBeside(p: PulumiProject): Promise<{ up: PulumiResult; olm: OlmEnv }> {
  const interrupt = new AbortController();
  const upArgs = ['up', '-s', 'olm', '--yes', '--skip-preview', '--non-interactive', '--parallel', '1'];
  const up = p.run(upArgs, 900_000, interrupt.signal);
  const failed = (r: PulumiResult) => `pulumi ${upArgs.join(' ')} exited ${r.code} after ${r.seconds}s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  // `up` cannot finish before OLM runs: if it ends first, it failed; say why at once.
  const olmStarting = startOlm({ installClusterObjects: false, readyTimeoutMs: 600_000 });
  const olm = await Promise.race([olmStarting, up.then((r) => Promise.reject(new Error(`pulumi up ended before OLM started:\n${failed(r)}`)))]).catch(async (e) => {
    void olmStarting.then((o) => o.stop(), () => undefined); // no OLM left running when this fails
    // If OLM never started, `up` is still running: interrupt it, and show what it was doing.
    interrupt.abort();
    const r = await up;
    throw new Error(`${(e as Error).message}\n(up interrupted)\n${failed(r)}`);
  });
  const r = await up;
  if (r.code !== 0) {
    await olm.stop(); // the caller never gets it to stop
    throw new Error(failed(r));
  }
  return { up: r, olm };
}

beforeAll(async () => {
  pulumiToolchain(); // built by `npm test` before jest starts (minutes when cold)
  cluster = await startCluster({ log: (m) => process.stderr.write(`pulumi test cluster: ${m}\n`) });
  previousKubeconfig = process.env.FLIGHT_KUBECONFIG;
  process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
  work = mkdtempSync(path.join(os.tmpdir(), 'flight-pulumi-'));
  writeFileSync(path.join(work, 'passphrase'), 'a test passphrase', { mode: 0o600 });
  mkdirSync(path.join(work, 'state'));
  bookings = await startBookings();
}, 900_000);

afterAll(async () => {
  await bookings?.service.stop();
  await cluster?.stop();
  process.env.FLIGHT_KUBECONFIG = previousKubeconfig;
  // Projects, backends and logs of this run (pulumi's output is in a failing test's message)
  if (work) rmSync(work, { recursive: true, force: true });
  if (Object.keys(timings).length) {
    writeFileSync(
      testResultsFile('pulumi.json'),
      `${JSON.stringify({ measuredAt: new Date().toISOString(), loadavg: os.loadavg(), cpus: os.cpus().length, seconds: timings }, null, 2)}\n`,
    );
  }
}, 120_000);

describe('the manifests stack', () => {
  let p: PulumiProject;

  test('preview then up from nothing installs the CRD and the operator', async () => {
    // GIVEN an empty cluster and the committed manifests stack config, plus where the cluster and the booking service are
    p = project('manifests', REPO_ROOT, ['Pulumi.manifests.yaml']);
    await initStack(p, 'manifests', { 'flight-operator:kubeconfig': cluster.kubeconfigPath, 'flight-operator:bookingApiUrl': bookings.service.url });
    // WHEN preview, then up
    const preview = await p.ok(['preview', '-s', 'manifests', '--non-interactive']);
    timings.manifestsPreview = preview.seconds;
    expect(preview.stdout).toMatch(/\+ .*create/);
    expect(await exists(['crd', 'flighttickets.flights.com'])).toBe(false); // a preview changes nothing
    const up = await p.ok(['up', '-s', 'manifests', '--yes', '--skip-preview', '--non-interactive']);
    timings.manifestsUp = up.seconds;
    // THEN every object is there, the Deployment Available (the provider waited for it)
    await kubectl(['wait', '--for=condition=Established', 'crd/flighttickets.flights.com', '--timeout=10s']);
    for (const o of [
      ['namespace', 'flight-operator-system'],
      ['-n', 'flight-operator-system', 'serviceaccount', 'flight-operator-controller'],
      ['clusterrole', 'flight-operator-controller'],
      ['clusterrolebinding', 'flight-operator-controller'],
      ['-n', 'flight-operator-system', 'role,rolebinding,service,poddisruptionbudget'],
      ['-n', 'flight-operator-system', 'secret', 'flight-operator-booking-credentials'],
    ]) {
      expect(await exists(o)).toBe(true);
    }
    const dep = JSON.parse((await kubectl(['get', '-n', 'flight-operator-system', 'deployment', 'flight-operator-controller', '-o', 'json'])).stdout);
    expect(dep.status.availableReplicas).toBe(2);
    const secret = JSON.parse((await kubectl(['get', '-n', 'flight-operator-system', 'secret', 'flight-operator-booking-credentials', '-o', 'json'])).stdout);
    expect(Buffer.from(secret.data.token, 'base64').toString()).toBe(TOKEN);
    // The token is a secret everywhere Pulumi writes: not in its output, not in the state in clear.
    expect(`${preview.stdout}${preview.stderr}${up.stdout}${up.stderr}`).not.toContain(TOKEN);
    expect(stateText()).not.toContain(TOKEN);
    expect(stateText()).toContain('secure');
  }, 900_000);

  test('a second up changes nothing and refresh finds no drift', () => expectNoChanges(p, 'manifests'), 600_000);

  test('a stack made before the type tokens were the package\'s own (flights:index:*) renames, replaces nothing', async () => {
    // GIVEN the stack's state as 0.2.0 wrote it: the component typed flights:index:FlightTicketOperator (and its children's URNs with it)
    const file = path.join(p.dir, 'state.json');
    await p.ok(['stack', 'export', '-s', 'manifests', '--file', file]);
    const state = readFileSync(file, 'utf8');
    expect(state).toContain('flight-operator:index:FlightTicketOperator');
    writeFileSync(file, state.replaceAll('flight-operator:index:FlightTicketOperator', 'flights:index:FlightTicketOperator'));
    await p.ok(['stack', 'import', '-s', 'manifests', '--file', file]);
    // WHEN the program with the new token previews
    const preview = JSON.parse((await p.ok(['preview', '-s', 'manifests', '--non-interactive', '--json'])).stdout) as { steps?: Array<{ op: string; urn: string }> };
    // THEN every resource is kept (the aliases match the old URNs): nothing is created, deleted or replaced
    const ops = (preview.steps ?? []).map((st) => st.op);
    expect(ops.filter((op) => /create|delete|replace/.test(op))).toEqual([]);
    // and an up records the new names, after which nothing changes
    await p.ok(['up', '-s', 'manifests', '--yes', '--skip-preview', '--non-interactive']);
    await p.ok(['up', '-s', 'manifests', '--yes', '--skip-preview', '--non-interactive', '--expect-no-changes']);
    expect(JSON.stringify(JSON.parse((await p.ok(['stack', 'export', '-s', 'manifests'])).stdout))).not.toContain('flights:index:');
  }, 600_000);

  test('destroy leaves none of our objects', async () => {
    const destroy = await p.ok(['destroy', '-s', 'manifests', '--yes', '--skip-preview', '--non-interactive']);
    timings.manifestsDestroy = destroy.seconds;
    expect(await exists(['crd', 'flighttickets.flights.com'])).toBe(false);
    expect(await exists(['namespace', 'flight-operator-system'])).toBe(false);
    expect(await exists(['clusterrole', 'flight-operator-controller'])).toBe(false);
    expect(await exists(['clusterrolebinding', 'flight-operator-controller'])).toBe(false);
  }, 600_000);
});

describe("the README's program: the operator and a ticket", () => {
  let p: PulumiProject;
  let controller: Child | undefined;

  afterAll(async () => {
    await controller?.stop();
  });

  test('up installs the operator and the ticket; the controller, with the stack ServiceAccount, books it', async () => {
    // GIVEN the example program
    p = project('example', path.join(REPO_ROOT, 'examples', 'pulumi'));
    await p.ok(['stack', 'init', 'dev', '--secrets-provider', 'passphrase', '--non-interactive']);
    await p.ok(['config', 'set', 'kubeconfig', cluster.kubeconfigPath]);
    await p.ok(['config', 'set', 'bookingApiUrl', bookings.service.url]);
    await p.ok(['config', 'set', '--secret', 'bookingToken', TOKEN]);
    // WHEN up
    const up = await p.ok(['up', '--yes', '--skip-preview', '--non-interactive']);
    timings.exampleUp = up.seconds;
    // THEN the ticket exists, after its CRD; nothing books it until a controller runs
    const kc = loadKubeConfig();
    expect(await exists(['-n', 'default', 'ft', 'my-flight-ticket'])).toBe(true);
    // On the kwok node the pods do not run: run the controller beside the cluster
    // with a token of the ServiceAccount the stack created, under the RBAC it created.
    const token = await mintToken(kc, 'flights-system', 'flight-operator-controller');
    const cluster0 = kc.getCurrentCluster()!;
    const saKubeconfig = path.join(work, 'sa-kubeconfig');
    writeFileSync(
      saKubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: cluster0.server, 'certificate-authority-data': readFileSync(cluster.caFile).toString('base64') } }],
        users: [{ name: 'sa', user: { token } }],
        contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa', namespace: 'flights-system' } }],
        'current-context': 'sa',
      }),
      { mode: 0o600 },
    );
    controller = startController({
      namespace: 'default',
      bookingUrl: bookings.service.url,
      tokenFile: bookings.tokenFile,
      args: ['--leader-elect=true', '--leader-election-namespace=flights-system'],
      env: { KUBECONFIG: saKubeconfig },
    });
    const ticket = await waitForReady('default', 'my-flight-ticket', 60_000, controller);
    // The booking is named by the key the controller wrote on the ticket before it booked.
    expect(ticket.status?.bookingRef?.startsWith(`${ticket.metadata.uid}.`)).toBe(true);
    expect(ticket.metadata.annotations?.['flights.com/external-name']).toBe(ticket.status?.bookingRef);
    expect(await bookings.activeFor(ticket.metadata.uid)).toHaveLength(1);
  }, 900_000);

  test('destroy deletes the ticket while the controller still runs: the booking is cancelled, nothing is stuck', async () => {
    const uid = JSON.parse((await kubectl(['get', '-n', 'default', 'ft', 'my-flight-ticket', '-o', 'json'])).stdout).metadata.uid;
    const destroy = await p.ok(['destroy', '--yes', '--skip-preview', '--non-interactive']);
    timings.exampleDestroy = destroy.seconds;
    expect(await exists(['-n', 'default', 'ft', 'my-flight-ticket'])).toBe(false);
    expect(await bookings.activeFor(uid)).toEqual([]);
    expect(await exists(['crd', 'flighttickets.flights.com'])).toBe(false);
    expect(await exists(['namespace', 'flights-system'])).toBe(false);
  }, 600_000);
});

describe('the olm stack', () => {
  let p: PulumiProject;
  let olm: OlmEnv | undefined;
  let opm: ChildProcess | undefined;

  afterAll(async () => {
    await olm?.stop();
    opm?.kill('SIGKILL');
  });

  test('preview then up from nothing installs OLM from its chart, subscribes, and waits (the provider) until OLM installed the release', async () => {
    // GIVEN our catalog served by opm (the stack's catalogAddress) and no OLM in the cluster
    const catalog = await serveCatalog();
    opm = catalog.child;
    expect(await exists(['crd', 'subscriptions.operators.coreos.com'])).toBe(false);
    // AND prometheus-operator's CRDs, as a cluster running prometheus-operator has them (0.3.0's bundle
    // ships a ServiceMonitor and a PrometheusRule, and OLM fails its InstallPlan without them).
    await installMonitoringCrds();
    p = project('olm', REPO_ROOT, ['Pulumi.olm.yaml']);
    await initStack(p, 'olm', olmStackConfig(catalog.address));
    await p.ok(['config', 'rm', '-s', 'olm', 'flight-operator:catalogImage']);
    const preview = await p.ok(['preview', '-s', 'olm', '--non-interactive']);
    timings.olmPreview = preview.seconds;
    // WHEN up, with OLM's operators started beside the cluster
    const started = await upWithOlmBeside(p);
    olm = started.olm;
    const done = started.up;
    timings.olmUp = done.seconds;
    // THEN OLM installed the CSV and its Deployment; the stack exported it
    const outputs = JSON.parse((await p.ok(['stack', 'output', '-s', 'olm', '--json'])).stdout);
    expect(outputs).toMatchObject({ method: 'olm', olmInstalledByThisStack: true });
    expect(outputs.csvName).toMatch(/^flight-operator\.v\d+\.\d+\.\d+$/);
    // The Subscription is AtLatestKnown once OLM created the release's objects; the CSV then goes on to Succeeded.
    await kubectl(['wait', '-n', 'flight-operator-system', `csv/${outputs.csvName}`, '--for=jsonpath={.status.phase}=Succeeded', '--timeout=180s']);
    expect(await exists(['-n', 'flight-operator-system', 'deployment', 'flight-operator-controller'])).toBe(true);
    expect(await exists(['crd', 'flighttickets.flights.com'])).toBe(true);
    const sub = JSON.parse((await kubectl(['get', '-n', 'flight-operator-system', 'subscription', 'flight-operator', '-o', 'json'])).stdout);
    expect(sub.spec.config.env).toEqual([{ name: 'BOOKING_API_URL', value: bookings.service.url }]);
    expect(`${done.stdout}${done.stderr}`).not.toContain(TOKEN);
    expect(stateText()).not.toContain(TOKEN);
  }, 1_200_000);

  test('a second up changes nothing and refresh finds no drift', () => expectNoChanges(p, 'olm'), 600_000);

  test('destroy removes the operator (through its namespace: CSV, Deployment, RBAC) and then OLM', async () => {
    const destroy = await p.ok(['destroy', '-s', 'olm', '--yes', '--skip-preview', '--non-interactive'], 900_000);
    timings.olmDestroy = destroy.seconds;
    expect(await exists(['namespace', 'flight-operator-system'])).toBe(false);
    expect(await exists(['crd', 'subscriptions.operators.coreos.com'])).toBe(false);
    expect(await exists(['namespace', 'olm'])).toBe(false);
    const leftovers = (await kubectl(['get', 'clusterrole,clusterrolebinding', '-o', 'name'])).stdout.split('\n').filter((n) => /flight-operator/.test(n));
    expect(leftovers).toEqual([]);
  }, 900_000);
});

describe('an olm stack made before the move to helm.v4 (three helm.v3 Charts)', () => {
  /** A commit whose infra/pulumi/olm.ts used helm.v3.Chart: 0.3.0's recorded commit, the last landed before the move to helm.v4. */
  const V3_COMMIT = 'fb17e76';
  let olm: OlmEnv | undefined;
  let opm: ChildProcess | undefined;

  afterAll(async () => {
    await olm?.stop();
    opm?.kill('SIGKILL');
  });

  test('the current program (helm.v4) takes it over: no Kubernetes object deleted or replaced, OLM\'s CRDs kept (same uid), a second up changes nothing, destroy removes OLM', async () => {
    // GIVEN the olm stack as that commit's program made it (its own files, from git; this repo's node_modules)
    const oldSource = path.join(work, 'program-v3');
    mkdirSync(oldSource);
    execFileSync('bash', ['-c', `git -C "${REPO_ROOT}" archive ${V3_COMMIT} | tar -x -C "${oldSource}"`]);
    expect(readFileSync(path.join(oldSource, 'infra/pulumi/olm.ts'), 'utf8')).toContain('new k8s.helm.v3.Chart(');
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(oldSource, 'node_modules'));
    const catalog = await serveCatalog();
    opm = catalog.child;
    await installMonitoringCrds();
    const stateDir = path.join(work, 'state-v3');
    const old = project('olm-v3', oldSource, ['Pulumi.olm.yaml'], stateDir);
    await initStack(old, 'olm', olmStackConfig(catalog.address));
    await old.ok(['config', 'rm', '-s', 'olm', 'flight-operator:catalogImage']);
    const before = await upWithOlmBeside(old);
    olm = before.olm;
    const v3State = (await old.ok(['stack', 'export', '-s', 'olm'])).stdout;
    expect(v3State).toContain('kubernetes:helm.sh/v3:Chart');
    const crdUid = async () => JSON.parse((await kubectl(['get', 'crd', 'subscriptions.operators.coreos.com', '-o', 'json'])).stdout).metadata.uid as string;
    const uidBefore = await crdUid();
    // WHEN the current program previews and ups the same stack (same backend, same stack config)
    const cur = project('olm-v4', REPO_ROOT, [], stateDir);
    cpSync(path.join(old.dir, 'Pulumi.olm.yaml'), path.join(cur.dir, 'Pulumi.olm.yaml'));
    const preview = JSON.parse((await cur.ok(['preview', '-s', 'olm', '--non-interactive', '--json'])).stdout) as { steps?: Array<{ op: string; urn: string }>; changeSummary?: Record<string, number> };
    // THEN no Kubernetes object is created, deleted or replaced (only the Chart components change type):
    // OLM's objects are "same" (their aliases found them), and no step of a Kubernetes type creates or deletes
    expect(preview.changeSummary?.same ?? 0).toBeGreaterThan(20);
    // (a URN is urn:pulumi:<stack>::<project>::<parent types $ ... $ type>::<name>)
    const typeOf = (urn: string) => urn.split('::')[2]?.split('$').pop() ?? '';
    const kubeObjects = (preview.steps ?? []).filter((st) => typeOf(st.urn).startsWith('kubernetes:') && !typeOf(st.urn).startsWith('kubernetes:helm.sh/'));
    expect(kubeObjects.filter((st) => /create|delete|replace/.test(st.op)).map((st) => `${st.op} ${st.urn}`)).toEqual([]);
    const up = await cur.ok(['up', '-s', 'olm', '--yes', '--skip-preview', '--non-interactive', '--parallel', '2'], 900_000);
    timings.olmV3ToV4Up = up.seconds;
    expect(await crdUid()).toBe(uidBefore);
    const v4State = (await cur.ok(['stack', 'export', '-s', 'olm'])).stdout;
    expect(v4State).not.toContain('kubernetes:helm.sh/v3:Chart');
    expect(v4State).toContain('kubernetes:helm.sh/v4:Chart');
    // AND the operator is still installed, and a second up and a refresh find nothing to do
    expect(await exists(['-n', 'flight-operator-system', 'deployment', 'flight-operator-controller'])).toBe(true);
    await expectNoChanges(cur, 'olm');
    // AND destroy removes OLM as before
    await cur.ok(['destroy', '-s', 'olm', '--yes', '--skip-preview', '--non-interactive'], 900_000);
    expect(await exists(['crd', 'subscriptions.operators.coreos.com'])).toBe(false);
    expect(await exists(['namespace', 'olm'])).toBe(false);
  }, 1_800_000);
});

describe('bad config fails preview, naming the setting', () => {
  test.each<[string, Record<string, string>, RegExp]>([
    ['missing kubeconfig', { 'flight-operator:kubeconfig': '/nonexistent/kubeconfig' }, /flight-operator:kubeconfig: \/nonexistent\/kubeconfig does not exist/],
    ['unknown channel', { 'flight-operator:channel': 'beta' }, /flight-operator:channel: unknown channel "beta"/],
    ['invalid namespace name', { 'flight-operator:namespace': 'Flights_NS' }, /flight-operator:namespace: "Flights_NS" is not a namespace name/],
    ['a catalog that does not answer', { 'flight-operator:catalogAddress': '127.0.0.1:1' }, /flight-operator:catalogAddress: the catalog at 127.0.0.1:1 does not answer \(ECONNREFUSED\)/],
  ])('%s', async (name, bad, message) => {
    // GIVEN the olm stack with one bad setting (the catalog answers unless it is the bad one), in a backend of its own
    const srv = net.createServer().listen(0, '127.0.0.1');
    let r;
    try {
      await new Promise((resolve) => srv.once('listening', resolve));
      const slug = name.replace(/\W+/g, '-');
      const p = project(`bad-${slug}`, REPO_ROOT, ['Pulumi.olm.yaml'], path.join(work, `state-bad-${slug}`));
      await initStack(p, 'olm', {
        'flight-operator:kubeconfig': cluster.kubeconfigPath,
        'flight-operator:catalogAddress': `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
        ...bad,
      });
      await p.ok(['config', 'rm', '-s', 'olm', 'flight-operator:catalogImage']);
      // WHEN preview
      r = await p.run(['preview', '-s', 'olm', '--non-interactive']);
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
    // THEN it fails, and says which setting and why
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(message);
  }, 300_000);
});
