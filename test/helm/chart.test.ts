/**
 * The Helm chart `npm run synth` writes (infra/helm/), with the real helm CLI
 * (tools/helm, built from helm.sh/helm/v4): it lints; `helm template` with
 * the default values gives the plain install's objects (dist/, synthesized
 * here from the same charts); non-default values give what the same settings
 * synthesize to; and install, upgrade with changed values and uninstall work
 * on the test control plane, two releases side by side.
 */
import { App, Testing } from 'cdk8s';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { plainInstall } from '../../infra/charts/plain-install';
import { defaultSettings } from '../../infra/defaults';
import { writeHelmChart } from '../../infra/helm/write';
import { OperatorSettings } from '../../infra/settings';
import { ensureFamily } from '../../testenv/binaries';
import { kubeconfigPath, kubectl } from '../../testenv/kube';

const helmBin = join(ensureFamily('helm'), 'helm');
const work = mkdtempSync(join(tmpdir(), 'helm-chart-'));
const chart = join(work, 'flight-operator');
writeHelmChart(chart);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** helm with its own config, cache and data folders (nothing in the user's home). */
function helm(args: string[], opts: { kube?: boolean; check?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, HELM_CONFIG_HOME: join(work, 'config'), HELM_CACHE_HOME: join(work, 'cache'), HELM_DATA_HOME: join(work, 'data') };
  const full = opts.kube ? [...args, '--kubeconfig', kubeconfigPath()] : args;
  return new Promise((resolve, reject) => {
    const p = spawn(helmBin, full, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if ((opts.check ?? true) && code !== 0) reject(new Error(`helm ${args.join(' ')} exited ${code}:\n${stderr}${stdout}`));
      else resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const key = (o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objects: any[]) => Object.fromEntries(objects.map((o) => [key(o), o]));

async function template(release: string, namespace: string, values: object = {}, extra: string[] = []): Promise<any[]> {
  const file = join(work, `values-${release}.yaml`);
  writeFileSync(file, stringify(values));
  const { stdout } = await helm(['template', release, chart, '--namespace', namespace, '-f', file, ...extra]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** The plain install for these settings, as `npm run synth` writes it into dist/. */
function plain(settings: OperatorSettings) {
  const install = plainInstall(new App(), settings);
  return {
    operator: Testing.synth(install.operator),
    crd: Testing.synth(install.crd),
    monitoring: install.monitoring ? Testing.synth(install.monitoring) : [],
  };
}

describe('the Helm chart', () => {
  test('passes helm lint --strict', async () => {
    const { stdout } = await helm(['lint', '--strict', chart]);
    expect(stdout).toContain('0 chart(s) failed');
  });

  test('GIVEN the default values WHEN rendered with helm template THEN it is the plain install of dist/ (without the Namespace, which Helm owns), CRD included', async () => {
    const rendered = await template('flight-operator', 'flight-operator-system', {}, ['--include-crds']);
    const expected = plain(defaultSettings());
    // The one justified difference: `helm install --create-namespace` makes the release namespace.
    expect(byKey(rendered)).toEqual(byKey([...expected.crd, ...expected.operator.filter((o) => o.kind !== 'Namespace')]));
  });

  test('GIVEN monitoring.enabled THEN the monitoring objects of dist/ are rendered too', async () => {
    const off = await template('flight-operator', 'flight-operator-system');
    const on = await template('flight-operator', 'flight-operator-system', { monitoring: { enabled: true } });
    const added = on.filter((o) => !off.some((p) => key(p) === key(o)));
    expect(byKey(added)).toEqual(byKey(plain(defaultSettings()).monitoring));
  });

  test('GIVEN every knob changed in values WHEN rendered THEN it equals the plain install synthesized with the same settings', async () => {
    const egress = {
      ...defaultSettings().egress,
      apiServer: { to: [{ ipBlock: { cidr: '10.96.0.1/32' } }], ports: [6443] },
      bookingApi: { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [443] },
    };
    const knobs = {
      imagePullSecrets: ['mirror-pull'],
      replicas: 3,
      resources: { requests: { cpu: '200m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      nodeSelector: { pool: 'ops' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ops', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['ops'] }] }] } } },
      priorityClassName: 'platform-critical',
      labels: { team: 'payments' },
      annotations: { 'owner.example/contact': 'ops@example.com' },
      logLevel: 'debug',
      watchNamespaces: ['team-b-orders', 'team-b-refunds'],
    } as const;
    const values = {
      ...knobs,
      image: { repository: 'mirror.corp:5000/flight/controller' },
      bookingApi: {
        url: 'https://booking.corp.example/v1',
        credentialsSecret: 'corp-booking',
        caConfigMap: 'corp-ca',
        proxy: { httpProxy: 'http://proxy.corp:3128', httpsProxy: 'http://proxy.corp:3128', noProxy: '.svc,10.0.0.0/8' },
      },
      networkPolicy: { enabled: true, egress },
    };
    const rendered = await template('team-b', 'team-b-ops', values);
    const settings = defaultSettings({
      ...knobs,
      namespace: 'team-b-ops',
      releaseName: 'team-b',
      imageRepository: 'mirror.corp:5000/flight/controller',
      bookingApiUrl: 'https://booking.corp.example/v1',
      bookingCredentialsSecret: 'corp-booking',
      bookingApiCaConfigMap: 'corp-ca',
      bookingApiProxy: values.bookingApi.proxy,
      egress,
    });
    expect(byKey(rendered)).toEqual(byKey(plain(settings).operator.filter((o) => o.kind !== 'Namespace')));
    expect(rendered.filter((o) => o.kind.startsWith('Cluster')).map((o) => o.metadata.name)).toEqual(['team-b-controller', 'team-b-controller']);
    expect(rendered.filter((o) => o.kind === 'Role' && o.metadata.name === 'team-b-controller').map((o) => o.metadata.namespace)).toEqual(['team-b-orders', 'team-b-refunds']);
  });

  test('GIVEN networkPolicy.enabled false THEN no NetworkPolicy, as settings.networkPolicy false', async () => {
    const rendered = await template('flight-operator', 'flight-operator-system', { networkPolicy: { enabled: false } });
    expect(byKey(rendered)).toEqual(byKey(plain(defaultSettings({ networkPolicy: false })).operator.filter((o) => o.kind !== 'Namespace')));
  });
});

describe('helm install, upgrade and uninstall on the test control plane', () => {
  const a = { release: `fo-a-${process.pid}`, ns: `helm-a-${process.pid}` };
  const b = { release: `fo-b-${process.pid}`, ns: `helm-b-${process.pid}` };
  afterAll(async () => {
    for (const r of [a, b]) await helm(['uninstall', r.release, '--namespace', r.ns, '--ignore-not-found'], { kube: true, check: false });
    await kubectl(['delete', 'namespace', a.ns, b.ns, '--wait=false', '--ignore-not-found'], { check: false });
  });

  test('two releases install side by side, an upgrade applies changed values, uninstall removes the release but keeps the CRD', async () => {
    // GIVEN two releases in two namespaces WHEN installed
    for (const r of [a, b]) await helm(['install', r.release, chart, '--namespace', r.ns, '--create-namespace'], { kube: true });
    // THEN each has its own ClusterRole and ClusterRoleBinding, bound to its own ServiceAccount
    for (const r of [a, b]) {
      const { stdout } = await kubectl(['get', 'clusterrolebinding', `${r.release}-controller`, '-o', 'json']);
      const binding = JSON.parse(stdout);
      expect(binding.roleRef.name).toBe(`${r.release}-controller`);
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'flight-operator-controller', namespace: r.ns }]);
    }
    const deployment = async () => JSON.parse((await kubectl(['get', 'deployment', '-n', a.ns, 'flight-operator-controller', '-o', 'json'])).stdout);
    expect((await deployment()).spec.replicas).toBe(2);
    expect((await kubectl(['get', 'networkpolicy', '-n', a.ns, '-o', 'name'])).stdout.trim()).toBe('networkpolicy.networking.k8s.io/flight-operator-controller');
    await kubectl(['get', 'crd', 'flighttickets.flights.com']);

    // WHEN upgraded with changed values
    await helm(['upgrade', a.release, chart, '--namespace', a.ns, '--set', 'replicas=3', '--set', 'logLevel=debug', '--set', 'networkPolicy.enabled=false', '--set', 'labels.team=payments'], { kube: true });
    // THEN the objects follow them
    const upgraded = await deployment();
    expect(upgraded.spec.replicas).toBe(3);
    expect(upgraded.spec.template.spec.containers[0].args).toContain('--log-level=debug');
    expect(upgraded.metadata.labels.team).toBe('payments');
    expect((await kubectl(['get', 'networkpolicy', '-n', a.ns, '-o', 'name'])).stdout.trim()).toBe('');
    const { stdout: history } = await helm(['history', a.release, '--namespace', a.ns, '-o', 'json'], { kube: true });
    expect(JSON.parse(history).map((h: { revision: number }) => h.revision)).toEqual([1, 2]);

    // WHEN one release is uninstalled
    await helm(['uninstall', a.release, '--namespace', a.ns, '--wait'], { kube: true });
    // THEN its objects are gone, the other release's stay, and the CRD (crds/, never deleted by Helm) stays
    expect((await kubectl(['get', 'clusterrole', `${a.release}-controller`], { check: false })).code).not.toBe(0);
    expect((await kubectl(['get', 'deployment', '-n', a.ns, 'flight-operator-controller'], { check: false })).code).not.toBe(0);
    await kubectl(['get', 'clusterrole', `${b.release}-controller`]);
    await kubectl(['get', 'crd', 'flighttickets.flights.com']);
  }, 300_000);
});
