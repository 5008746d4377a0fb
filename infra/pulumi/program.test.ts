/**
 * The Pulumi components and stack config under Pulumi's mocks: fast checks
 * of what gets declared and of every config error message. The real CLI,
 * engine and provider run them against a control plane in
 * test/pulumi/stacks.test.ts.
 */
import * as pulumi from '@pulumi/pulumi';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSettings } from '../defaults';
import { checkCatalogAnswers } from './cluster-checks';
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
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
      'flight-operator:index:FlightTicketOperator fo',
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
    expect(await new Promise((r) => op.serviceAccountName.apply(r))).toBe('flight-operator-controller');
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
    ['a release name that is not a DNS label', { ...base, 'flight-operator:releaseName': 'Team_B' }, {}, 'flight-operator:releaseName: invalid operator setting "releaseName"'],
    ['a watched namespace that is not a name', { ...base, 'flight-operator:watchNamespaces': '["Team_B"]' }, {}, 'flight-operator:watchNamespaces: invalid operator setting "watchNamespaces"'],
  ])('rejects %s, naming the setting', async (_what, config, env, message) => {
    // GIVEN a stack config with one bad setting WHEN the program reads it THEN the error names the key
    await expect(readConfig(config, env)).rejects.toThrow(message);
  });

  test('a good olm config reads typed, with the defaults', async () => {
    const c = await readConfig({ ...olm, 'flight-operator:bookingToken': 'x' }, { PULUMI_CONFIG_SECRET_KEYS: '["flight-operator:bookingToken"]' });
    expect(c.method).toBe('olm');
    expect(c.olm).toEqual({
      installOlm: 'never',
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

test('releaseName and watchNamespaces: a second install beside another (its own cluster-scoped names, its own namespaces watched)', async () => {
  // GIVEN a manifests stack with both set WHEN the program reads its config THEN the settings carry them
  const c = await readConfig({ 'flight-operator:kubeconfig': kubeconfig, 'flight-operator:releaseName': 'team-b', 'flight-operator:watchNamespaces': '["team-b"]' }, {});
  expect(c.settings).toMatchObject({ releaseName: 'team-b', watchNamespaces: ['team-b'] });
  // and unset, neither is: the defaults of the plain manifests
  const d = await readConfig({ 'flight-operator:kubeconfig': kubeconfig }, {});
  expect(d.settings.releaseName).toBeUndefined();
  expect(d.settings.watchNamespaces).toBeUndefined();
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

describe('FlightTicketOperator inputs', () => {
  test('settings may come from other resources: the objects carry the values once they resolve', async () => {
    // GIVEN an image and a booking URL that are outputs of other resources
    const r = await withMocks({});
    const image = new Promise<string>((resolve) => setTimeout(() => resolve('mirror.example/flight-operator/controller:0.3.0'), 50));
    new FlightTicketOperator('fo', {
      settings: { ...defaultSettings(), image: pulumi.output(image), bookingApiUrl: pulumi.output('https://booking.example:9443') },
      install: { method: 'manifests', crd: { retainOnDelete: true } },
    });
    await settle();
    // THEN the controller's objects carry them
    const objs = r.find((x) => x.name === 'fo-controller')!.inputs.objs;
    expect(objs.find((o: any) => o.kind === 'Deployment').spec.template.spec.containers[0].image).toBe('mirror.example/flight-operator/controller:0.3.0');
    expect(objs.find((o: any) => o.kind === 'ConfigMap' && o.metadata.name === 'flight-operator-controller-config').data.BOOKING_API_URL).toBe('https://booking.example:9443');
    expect(JSON.stringify(objs.find((o: any) => o.kind === 'NetworkPolicy').spec.egress)).toContain('"port":9443');
  });
});

describe('FlightTicketOperator (olm)', () => {
  test.each([['Automatic', { 'pulumi.com/waitFor': 'jsonpath={.status.state}=AtLatestKnown', 'pulumi.com/timeoutSeconds': '120' }], ['Manual', { 'pulumi.com/skipAwait': 'true' }]] as const)(
    '%s approval: the Subscription carries the provider await annotations, nothing else waits',
    async (approval, annotations) => {
      // GIVEN mocks WHEN the component is declared for OLM
      const r = await withMocks({});
      new FlightTicketOperator('fo', {
        settings: defaultSettings(),
        install: { method: 'olm', catalog: pulumi.output({ address: 'catalog.olm.svc:50051' }), catalogNamespace: 'olm', targetNamespaces: [], approval, timeoutSeconds: 120 },
      });
      await settle();
      // THEN the provider waits on the Subscription (Automatic) or not at all (Manual)
      const sub = r.find((x) => x.name === 'fo-subscription')!.inputs;
      expect(sub.metadata.annotations).toEqual(annotations);
      expect(sub.spec).toMatchObject({ name: 'flight-operator', channel: 'stable', installPlanApproval: approval });
      expect(r.find((x) => x.name === 'fo-catalog')!.inputs.spec).toMatchObject({ sourceType: 'grpc', address: 'catalog.olm.svc:50051' });
      expect(r.find((x) => x.name === 'fo-operatorgroup')!.inputs.spec).toEqual({});
    },
  );
});
