/**
 * The package the way a platform team meets it (issue 19): `npm pack`, then
 * projects of their own in temporary folders, each with its own package.json
 * and no path into this repo, that install the tarball and its peers from the
 * npm registry (through the npm cache):
 *  - a cdk8s app in TypeScript, on Node 20 (the package's lowest engine) with
 *    the lowest cdk8s, cdk8s-plus-27 and constructs the peer ranges allow:
 *    `tsc` against the shipped declarations, then the real `cdk8s synth`;
 *  - a Pulumi program in TypeScript, on the Node its @pulumi/pulumi needs, with
 *    the lowest and the current @pulumi/pulumi, compiled by `tsc`, then `pulumi preview`, `up` and `destroy` with the
 *    engine and Kubernetes provider built from Go modules (testenv/pulumi.ts),
 *    against a control plane of its own (its CRD is cluster-scoped).
 * Sizes and timings go to .bench/results/package.json.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { startCluster, type Cluster } from '../../testenv/cluster';
import { kubectl } from '../../testenv/kube';
import { pulumiEnv, pulumiToolchain } from '../../testenv/pulumi';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { LATEST_RELEASE } from '../../infra/releases';
import { testResultsFile } from '../support/results';
import { npmInstall, ok, pack, scratchProject, userEnv, type Packed } from './scratch';

/** Versions the scratch projects install: the lowest of each peer range, and the tools at the repo's pins. */
const repoPkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
const lowest = (name: string) => (repoPkg.peerDependencies[name] as string).replace(/^\^/, '');
const pinned = (name: string) => repoPkg.devDependencies[name] as string;
/** The lowest Node the package's engines allow, from the npm registry's `node` package. */
const LOWEST_NODE = (repoPkg.engines.node as string).replace(/^>=/, '');

const results: Record<string, unknown> = {};
let work: string;
let packed: Packed;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'flight-package-'));
  packed = await pack(work);
  results.tarball = { bytes: packed.size, unpackedBytes: packed.unpackedSize, files: packed.files.length, packSeconds: packed.seconds };
}, 600_000);

afterAll(() => {
  if (Object.keys(results).length) {
    writeFileSync(testResultsFile('package.json'), `${JSON.stringify({ measuredAt: new Date().toISOString(), loadavg: os.loadavg(), cpus: os.cpus().length, ...results }, null, 2)}\n`);
  }
  // The tarball and the scratch projects with their node_modules: about 1.1 GB a run
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the compiled library, its declarations and assets, and no source or repo tooling', () => {
  // GIVEN the packed package WHEN listing its files
  const files = packed.files;
  // THEN the three entries with declarations, the assets, the files the compiled code reads
  for (const f of ['package.json', 'lib/cdk8s.js', 'lib/cdk8s.d.ts', 'lib/pulumi/components.js', 'lib/pulumi/components.d.ts', 'lib/imports/flights.com.js', 'lib/imports/flights.com.d.ts',
    'lib/controller-image.json', 'lib/bundle-image.json', 'lib/icon.svg', 'lib/assets/flightticket-crd.yaml', 'lib/assets/flight-operator-dashboard.json', 'lib/assets/flight-operator.rules.yaml']) {
    expect(files).toContain(f);
  }
  // and nothing of the repo besides: no TypeScript source, tests, controller or test environment
  expect(files.filter((f) => !f.startsWith('lib/') && !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(f))).toEqual([]);
  expect(files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /test|testenv|controller\//.test(f))).toEqual([]);
  expect(path.basename(packed.tarball)).toBe(`flight-operator-${LATEST_RELEASE.version}.tgz`);
});

test('the compiled library requires only Node built-ins, its dependencies and its peers', () => {
  // GIVEN lib/ as packed (npm pack ran the build) WHEN collecting every bare require of its JavaScript
  const lib = path.join(__dirname, '..', '..', 'lib');
  const required = new Set<string>();
  for (const f of packed.files.filter((x) => x.endsWith('.js'))) {
    for (const m of readFileSync(path.join(lib, f.slice('lib/'.length)), 'utf8').matchAll(/require\("([^".][^"]*)"\)/g)) {
      required.add(m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0]);
    }
  }
  // THEN each is node:*, a dependency or a peer: nothing the repo has only for itself (client-node, prom-client)
  const allowed = new Set([...Object.keys(repoPkg.dependencies), ...Object.keys(repoPkg.peerDependencies)]);
  expect([...required].filter((m) => !m.startsWith('node:') && !allowed.has(m))).toEqual([]);
});

describe('a cdk8s app of its own', () => {
  test(`installs the tarball with the lowest peers on Node ${LOWEST_NODE}, type-checks against its declarations and synthesizes with the real cdk8s synth`, async () => {
    // GIVEN a TypeScript cdk8s app in a temp folder that depends on the tarball, the lowest peers and Node LOWEST_NODE
    const app = scratchProject(
      path.join(work, 'cdk8s-app'),
      {
        name: 'team-a-platform',
        scripts: { build: 'tsc', synth: 'cdk8s synth' },
        dependencies: { 'flight-operator': `file:${packed.tarball}`, cdk8s: lowest('cdk8s'), 'cdk8s-plus-27': lowest('cdk8s-plus-27'), constructs: lowest('constructs') },
        devDependencies: { node: LOWEST_NODE, 'cdk8s-cli': pinned('cdk8s-cli'), typescript: pinned('typescript'), '@types/node': pinned('@types/node') },
      },
      {
        'cdk8s.yaml': 'language: typescript\napp: node main.js\noutput: dist\n',
        'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, types: ['node'] }, include: ['main.ts'] }),
        'main.ts': `import { App, Chart } from 'cdk8s';
import { assetPath, CrdChart, defaultSettings, MonitoringChart, OperatorChart } from 'flight-operator/cdk8s';
import { FlightTicket } from 'flight-operator/flightticket';

const app = new App();
new CrdChart(app, 'crd');
const settings = defaultSettings({
  namespace: 'team-a-flights',
  replicas: 3,
  workers: 4,
  image: 'mirror.team-a.internal/flight-operator/controller:${LATEST_RELEASE.version}',
  bookingApiUrl: 'https://booking.team-a.internal:8443/v1',
});
new OperatorChart(app, 'operator', { settings });
new MonitoringChart(app, 'monitoring', { namespace: settings.namespace });
const tickets = new Chart(app, 'tickets', { namespace: 'team-a' });
new FlightTicket(tickets, 'ticket', { metadata: { name: 'cairo-london' }, spec: { from: 'Cairo', to: 'London', number: 2 } });
app.synth();
console.log(JSON.stringify({ node: process.version, crd: assetPath('crd'), dashboard: assetPath('dashboard') }));
`,
      },
    );
    const install = await npmInstall(app);
    const env = userEnv();
    // WHEN it builds and runs the real cdk8s synth (npm exec puts the app's node_modules/.bin, and so its Node, first)
    const tsc = await ok('npm', ['run', '-s', 'build'], { cwd: app, env });
    const synth = await ok('npm', ['run', '-s', 'synth'], { cwd: app, env });
    const printed = JSON.parse((await ok('npm', ['exec', '--', 'node', 'main.js'], { cwd: app, env })).stdout.trim().split('\n').pop()!);
    results.cdk8sApp = { node: printed.node, peers: { cdk8s: lowest('cdk8s'), 'cdk8s-plus-27': lowest('cdk8s-plus-27'), constructs: lowest('constructs') }, installSeconds: install.seconds, tscSeconds: tsc.seconds, synthSeconds: synth.seconds };

    // THEN it ran on the lowest Node and the objects carry the non-default settings
    expect(printed.node).toBe(`v${LOWEST_NODE}`);
    expect(readdirSync(path.join(app, 'dist')).sort()).toEqual(['crd.k8s.yaml', 'monitoring.k8s.yaml', 'operator.k8s.yaml', 'tickets.k8s.yaml']);
    const objects = (f: string) => parseAllDocuments(readFileSync(path.join(app, 'dist', f), 'utf8')).map((d) => d.toJSON());
    const operator = objects('operator.k8s.yaml');
    const find = (kind: string) => operator.find((o) => o.kind === kind);
    expect(find('Namespace').metadata.name).toBe('team-a-flights');
    const deployment = find('Deployment');
    expect(deployment.metadata.namespace).toBe('team-a-flights');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.containers[0].image).toBe(`mirror.team-a.internal/flight-operator/controller:${LATEST_RELEASE.version}`);
    expect(deployment.spec.template.spec.containers[0].args).toContain('--concurrency=4');
    expect(operator.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'flight-operator-controller-config').data.BOOKING_API_URL).toBe('https://booking.team-a.internal:8443/v1');
    // the NetworkPolicy lets the controller reach the booking API on the URL's port
    expect(JSON.stringify(find('NetworkPolicy').spec.egress)).toContain('"port":8443');
    expect(objects('monitoring.k8s.yaml').map((o) => o.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'ServiceMonitor']);
    // the typed FlightTicket from the CRD
    expect(objects('tickets.k8s.yaml')).toEqual([{ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: 'cairo-london', namespace: 'team-a' }, spec: { from: 'Cairo', to: 'London', number: 2 } }]);
    // the CRD from the constructs equals the CRD file the package ships, found from the compiled code inside node_modules
    expect(printed.crd).toBe(path.join(app, 'node_modules', 'flight-operator', 'lib', 'assets', 'flightticket-crd.yaml'));
    expect(objects('crd.k8s.yaml')).toEqual([parseAllDocuments(readFileSync(printed.crd, 'utf8'))[0].toJSON()]);
    expect(JSON.parse(readFileSync(printed.dashboard, 'utf8')).title).toBeTruthy();
  }, 1_200_000);
});

describe('a Pulumi program of its own', () => {
  let cluster: Cluster;
  let previousKubeconfig: string | undefined;
  const exists = async (args: string[]) => (await kubectl(['get', ...args, '-o', 'name'], { check: false })).code === 0;

  beforeAll(async () => {
    pulumiToolchain(); // built by `npm test` before jest starts
    cluster = await startCluster({ log: (m) => process.stderr.write(`package test cluster: ${m}\n`) });
    previousKubeconfig = process.env.FLIGHT_KUBECONFIG;
    process.env.FLIGHT_KUBECONFIG = cluster.kubeconfigPath;
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
    process.env.FLIGHT_KUBECONFIG = previousKubeconfig;
  }, 120_000);

  // @pulumi/kubernetes at its lowest and current alike: the provider plugin built here is that version (testenv/pulumi.ts).
  test.each([
    ['lowest', lowest('@pulumi/pulumi')],
    ['current', pinned('@pulumi/pulumi')],
  ])('with the %s @pulumi/pulumi (%s): installs the tarball; preview, up and destroy install and remove the operator with settings from other resources, keeping the CRD', async (which, pulumiSdk) => {
    // GIVEN a TypeScript Pulumi program in a temp folder that depends on the tarball and the peers
    const program = scratchProject(
      path.join(work, `pulumi-program-${which}`),
      {
        name: 'team-a-infra',
        main: 'bin/index.js',
        scripts: { build: 'tsc' },
        dependencies: {
          'flight-operator': `file:${packed.tarball}`,
          '@pulumi/pulumi': pulumiSdk,
          '@pulumi/kubernetes': lowest('@pulumi/kubernetes'),
          cdk8s: pinned('cdk8s'),
          'cdk8s-plus-27': pinned('cdk8s-plus-27'),
          constructs: pinned('constructs'),
        },
        // @pulumi/pulumi needs Node 22 or later (its engines); the repo's pin is one.
        devDependencies: { node: pinned('node'), typescript: pinned('typescript'), '@types/node': pinned('@types/node') },
      },
      {
        'Pulumi.yaml': 'name: team-a-infra\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: bin/index.js\n',
        'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, outDir: 'bin', types: ['node'] }, include: ['index.ts'] }),
        'index.ts': `import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { defaultSettings, FlightTicket, FlightTicketOperator } from 'flight-operator/pulumi';

const config = new pulumi.Config();
const provider = new k8s.Provider('cluster', { kubeconfig: config.require('kubeconfig'), enableServerSideApply: true });
// The booking endpoint as another resource of the program holds it.
const endpoint = new k8s.core.v1.ConfigMap('booking-endpoint', { metadata: { namespace: 'default' }, data: { url: config.require('bookingApiUrl') } }, { provider });
const operator = new FlightTicketOperator(
  'flights',
  {
    settings: { ...defaultSettings(), namespace: 'team-a-flights', replicas: 1, bookingApiUrl: endpoint.data.apply((d) => d.url) },
    bookingToken: config.requireSecret('bookingToken'),
    install: { method: 'manifests', crd: { retainOnDelete: true } },
  },
  { provider },
);
new FlightTicket('ticket', { metadata: { name: 'cairo-london', namespace: 'default' }, spec: { from: 'Cairo', to: 'London', number: 2 } }, { provider, dependsOn: operator.ready });
export const namespace = operator.namespace;
export const serviceAccount = operator.serviceAccountName;
`,
      },
    );
    const install = await npmInstall(program);
    const tsc = await ok('npm', ['run', '-s', 'build'], { cwd: program, env: userEnv() });
    const tc = pulumiToolchain();
    const base = pulumiEnv({ stateDir: path.join(work, `pulumi-state-${which}`), passphraseFile: path.join(work, 'passphrase') });
    writeFileSync(path.join(work, 'passphrase'), 'a test passphrase', { mode: 0o600 });
    // The engine and provider built here, the program's own Node and nothing of the repo's node_modules.
    const pulumiVars = Object.fromEntries(Object.entries(base).filter(([k]) => k.startsWith('PULUMI_')));
    const env = { ...userEnv(), ...pulumiVars, PATH: [tc.bin, path.join(program, 'node_modules', '.bin'), userEnv().PATH].join(path.delimiter) };
    const pulumi = (args: string[]) => ok(path.join(tc.bin, 'pulumi'), [...args, '--non-interactive'], { cwd: program, env });
    await pulumi(['stack', 'init', 'dev', '--secrets-provider', 'passphrase']);
    await pulumi(['config', 'set', 'kubeconfig', cluster.kubeconfigPath]);
    await pulumi(['config', 'set', 'bookingApiUrl', 'https://booking.team-a.internal:8443']);
    await pulumi(['config', 'set', '--secret', 'bookingToken', 'team-a-token']);

    // WHEN preview
    const preview = await pulumi(['preview']);
    // THEN it plans the component under the package's own type, and changes nothing
    expect(preview.stdout).toMatch(/\+ +flight-operator:index:FlightTicketOperator +flights +create/);
    expect(await exists(['namespace', 'team-a-flights'])).toBe(false);

    // WHEN up
    const up = await pulumi(['up', '--yes', '--skip-preview']);
    // THEN the operator runs with the settings, the URL taken from the other resource, and the ticket is there
    const dep = JSON.parse((await kubectl(['get', '-n', 'team-a-flights', 'deployment', 'flight-operator-controller', '-o', 'json'])).stdout);
    expect(dep.spec.replicas).toBe(1);
    expect(dep.status.availableReplicas).toBe(1);
    const cm = JSON.parse((await kubectl(['get', '-n', 'team-a-flights', 'configmap', 'flight-operator-controller-config', '-o', 'json'])).stdout);
    expect(cm.data.BOOKING_API_URL).toBe('https://booking.team-a.internal:8443');
    expect(await exists(['-n', 'default', 'ft', 'cairo-london'])).toBe(true);
    const outputs = JSON.parse((await pulumi(['stack', 'output', '--json'])).stdout);
    expect(outputs).toEqual({ namespace: 'team-a-flights', serviceAccount: 'flight-operator-controller' });

    // WHEN destroy
    const destroy = await pulumi(['destroy', '--yes', '--skip-preview']);
    // THEN everything is gone but the CRD, which the program asked to retain
    expect(await exists(['namespace', 'team-a-flights'])).toBe(false);
    expect(await exists(['clusterrole', 'flight-operator-controller'])).toBe(false);
    expect(await exists(['crd', 'flighttickets.flights.com'])).toBe(true);
    await kubectl(['delete', 'crd', 'flighttickets.flights.com', '--wait=true']);
    results[`pulumiProgram-${which}`] = {
      pulumiSdk,
      node: (await ok('node', ['--version'], { cwd: program, env })).stdout.trim(),
      installSeconds: install.seconds,
      tscSeconds: tsc.seconds,
      previewSeconds: preview.seconds,
      upSeconds: up.seconds,
      destroySeconds: destroy.seconds,
    };
  }, 1_800_000);
});
