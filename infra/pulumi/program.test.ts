/**
 * The Pulumi components and stack config under Pulumi's mocks: fast checks
 * of what gets declared and of every config error message. The real CLI,
 * engine and provider run them against a control plane in
 * test/pulumi/stacks.test.ts.
 */
import * as pulumi from '@pulumi/pulumi';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSettings } from '../defaults';
import { checkCatalogAnswers, waitForCsvSucceeded } from './cluster-checks';
import { FlightTicketOperator } from './flightticket-operator';
import { readStackConfig } from './stack-config';

interface Registered {
  type: string;
  name: string;
  inputs: any;
}

const dir = mkdtempSync(join(tmpdir(), 'flight-pulumi-unit-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncontexts:\n  - name: test\n    context: {cluster: c, user: u}\ncurrent-context: test\n');

async function withMocks(config: Record<string, string>): Promise<Registered[]> {
  const registered: Registered[] = [];
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'flight-operator',
    'test',
    false,
  );
  return registered;
}

const settle = () => new Promise((r) => setTimeout(r, 200));

async function readConfig(config: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  await withMocks(config);
  return readStackConfig(new pulumi.Config('flight-operator'), env);
}

describe('FlightTicketOperator (manifests)', () => {
  test('declares the namespace, the credentials Secret, the CRD group, then the controller group, from the cdk8s charts', async () => {
    // GIVEN mocks WHEN the component is declared with a token
    const r = await withMocks({});
    const op = new FlightTicketOperator('fo', { settings: defaultSettings({ namespace: 'flights' }), bookingToken: pulumi.secret('t0ken'), install: { method: 'manifests' } });
    await settle();
    // THEN
    expect(r.map((x) => `${x.type} ${x.name}`)).toEqual([
      'flights:index:FlightTicketOperator fo',
      'kubernetes:core/v1:Namespace fo-namespace',
      'kubernetes:core/v1:Secret fo-booking-credentials',
      'kubernetes:yaml/v2:ConfigGroup fo-crd',
      'kubernetes:yaml/v2:ConfigGroup fo-controller',
    ]);
    const byName = (n: string) => r.find((x) => x.name === n)!.inputs;
    expect(byName('fo-namespace').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(byName('fo-booking-credentials').metadata).toMatchObject({ name: 'flight-operator-booking-credentials', namespace: 'flights' });
    expect(byName('fo-crd').objs.map((o: any) => o.kind)).toEqual(['CustomResourceDefinition']);
    const kinds = byName('fo-controller').objs.map((o: any) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(['ServiceAccount', 'ClusterRole', 'Deployment', 'PodDisruptionBudget']));
    expect(kinds).not.toContain('Namespace'); // declared once, above
    expect(op.serviceAccountName).toBe('flight-operator-controller');
  });
});

describe('stack config', () => {
  const base = { 'flight-operator:kubeconfig': kubeconfig };
  const olm = { ...base, 'flight-operator:installMethod': 'olm', 'flight-operator:catalogAddress': '127.0.0.1:50051' };

  test.each<[string, Record<string, string>, NodeJS.ProcessEnv, string]>([
    ['a missing kubeconfig', { 'flight-operator:kubeconfig': join(dir, 'nope') }, {}, `flight-operator:kubeconfig: ${join(dir, 'nope')} does not exist`],
    ['no kubeconfig at all', {}, { KUBECONFIG: join(dir, 'absent') }, `flight-operator:kubeconfig: ${join(dir, 'absent')} does not exist`],
    ['an unknown context', { ...base, 'flight-operator:context': 'prod' }, {}, 'flight-operator:context: no context "prod" in'],
    ['an invalid namespace name', { ...base, 'flight-operator:namespace': 'Flight_Ops' }, {}, 'flight-operator:namespace: "Flight_Ops" is not a namespace name'],
    ['an unknown install method', { ...base, 'flight-operator:installMethod': 'helm' }, {}, 'flight-operator:installMethod: must be one of manifests, olm, got "helm"'],
    ['zero replicas', { ...base, 'flight-operator:replicas': '0' }, {}, 'flight-operator:replicas: invalid operator setting "replicas": must be a whole number of at least 1, got 0'],
    ['a token in clear text', { ...base, 'flight-operator:bookingToken': 'x' }, { PULUMI_CONFIG_SECRET_KEYS: '[]' }, 'flight-operator:bookingToken: is stored in clear text'],
    ['an unknown channel', { ...olm, 'flight-operator:channel': 'beta' }, {}, 'flight-operator:channel: unknown channel "beta" of package flight-operator (the catalog has: stable)'],
    ['no catalog', { ...base, 'flight-operator:installMethod': 'olm' }, {}, 'flight-operator:catalogAddress: set exactly one of catalogAddress'],
    ['a catalog address without a port', { ...olm, 'flight-operator:catalogAddress': 'catalog' }, {}, 'flight-operator:catalogAddress: "catalog" is not host:port'],
    ['an OLM chart that is not a chart', { ...olm, 'flight-operator:olmChart': dir }, {}, 'flight-operator:olmChart: '],
  ])('rejects %s, naming the setting', async (_what, config, env, message) => {
    // GIVEN a stack config with one bad setting WHEN the program reads it THEN the error names the key
    await expect(readConfig(config, env)).rejects.toThrow(message);
  });

  test('a good olm config reads typed, with the defaults', async () => {
    const c = await readConfig({ ...olm, 'flight-operator:bookingToken': 'x' }, { PULUMI_CONFIG_SECRET_KEYS: '["flight-operator:bookingToken"]' });
    expect(c.method).toBe('olm');
    expect(c.olm).toEqual({
      installOlm: 'auto',
      olmChart: undefined,
      olmPackageServer: true,
      olmNamespace: 'olm',
      catalog: { address: '127.0.0.1:50051' },
      catalogNamespace: 'olm',
      targetNamespaces: ['flight-operator-system'],
      approval: 'Automatic',
    });
    expect(pulumi.Output.isInstance(c.bookingToken)).toBe(true);
  });
});

describe('checkCatalogAnswers', () => {
  test('a catalog that does not answer fails with the setting named; one that does passes', async () => {
    // GIVEN a port nobody listens on
    const srv = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as net.AddressInfo).port;
    await expect(checkCatalogAnswers(`127.0.0.1:${port}`)).resolves.toBeUndefined();
    await new Promise((r) => srv.close(r));
    // THEN after it closed, the check fails naming the key and the reason
    await expect(checkCatalogAnswers(`127.0.0.1:${port}`)).rejects.toThrow(`flight-operator:catalogAddress: the catalog at 127.0.0.1:${port} does not answer (ECONNREFUSED)`);
  });
});

describe('waitForCsvSucceeded', () => {
  test('GIVEN OLM failed the InstallPlan THEN the wait ends at once with OLM\'s message, not after its timeout', async () => {
    // GIVEN an API server whose Subscription carries OLM's InstallPlanFailed condition (what a cluster
    // without prometheus-operator's CRDs shows for the 0.3.0 bundle) and no installed CSV
    const olmMessage = 'api-server resource not found installing ServiceMonitor flight-operator-controller: GroupVersionKind monitoring.coreos.com/v1, Kind=ServiceMonitor not found on the cluster.';
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'Subscription',
        metadata: { name: 'flight-operator', namespace: 'ops' },
        status: {
          state: 'AtLatestKnown',
          currentCSV: 'flight-operator.v0.3.0',
          conditions: [
            { type: 'CatalogSourcesUnhealthy', status: 'False', reason: 'AllCatalogSourcesHealthy' },
            { type: 'InstallPlanFailed', status: 'True', reason: 'InstallComponentFailed', message: olmMessage },
          ],
        },
      }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'flight-pulumi-unit-')), 'kubeconfig');
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }));
    try {
      // WHEN the program waits for the CSV
      const wait = waitForCsvSucceeded({ kubeconfig }, 'ops', 'flight-operator', 3000);
      // THEN it fails with OLM's own words, naming the Subscription
      await expect(wait).rejects.toThrow(`Subscription ops/flight-operator: OLM failed to install flight-operator.v0.3.0 (InstallComponentFailed): ${olmMessage}`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
