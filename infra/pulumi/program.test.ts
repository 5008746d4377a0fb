/**
 * The Pulumi program under Pulumi's mocks: which resources each stack
 * declares and with what. (`pulumi up` against a real cluster needs the
 * Pulumi CLI, which is not built here yet: see the closing notes.)
 */
import * as pulumi from '@pulumi/pulumi';

interface Registered {
  type: string;
  name: string;
  inputs: any;
}

async function runProgram(config: Record<string, string>): Promise<Registered[]> {
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
  jest.isolateModules(() => require('./index'));
  // Let the mocked registrations settle.
  await new Promise((r) => setTimeout(r, 200));
  return registered;
}

describe('the Pulumi program', () => {
  afterEach(() => jest.resetModules());

  test('the manifests stack installs the CRD group, then the operator group, from the cdk8s charts', async () => {
    // GIVEN the manifests stack WHEN the program runs
    const r = await runProgram({ 'flight-operator:installMethod': 'manifests', 'flight-operator:namespace': 'flights' });
    // THEN
    const groups = r.filter((x) => x.type === 'kubernetes:yaml/v2:ConfigGroup');
    expect(groups.map((g) => g.name)).toEqual(['flight-operator-crd', 'flight-operator-operator']);
    const kinds = (g: Registered) => (g.inputs.objs as any[]).map((o) => o.kind);
    expect(kinds(groups[0])).toEqual(['CustomResourceDefinition']);
    expect(kinds(groups[1])).toEqual(expect.arrayContaining(['Namespace', 'ServiceAccount', 'ClusterRole', 'Deployment', 'PodDisruptionBudget']));
    expect(groups[1].inputs.objs.find((o: any) => o.kind === 'Deployment').metadata.namespace).toBe('flights');
  });

  test('the olm stack installs OLM, then subscribes to flight-operator on the stable channel', async () => {
    const r = await runProgram({
      'flight-operator:installMethod': 'olm',
      'flight-operator:olmManifests': JSON.stringify(['olm/crds.yaml', 'olm/olm.yaml']),
      'flight-operator:catalogAddress': '127.0.0.1:50051',
    });
    expect(r.filter((x) => x.type === 'kubernetes:yaml/v2:ConfigFile').map((x) => x.inputs.file)).toEqual(['olm/crds.yaml', 'olm/olm.yaml']);
    const byKind = (kind: string) => r.find((x) => x.inputs?.kind === kind)?.inputs;
    expect(byKind('CatalogSource').spec).toMatchObject({ sourceType: 'grpc', address: '127.0.0.1:50051' });
    expect(byKind('OperatorGroup').spec).toEqual({ targetNamespaces: ['flight-operator-system'] });
    expect(byKind('Subscription').spec).toMatchObject({ name: 'flight-operator', channel: 'stable', sourceNamespace: 'olm', installPlanApproval: 'Automatic' });
  });

  test('a bad setting in stack config stops the program with the field named', async () => {
    await expect(
      (async () => {
        pulumi.runtime.setAllConfig({ 'flight-operator:replicas': '0' });
        await pulumi.runtime.setMocks({ newResource: (a) => ({ id: 'x', state: a.inputs }), call: (a) => a.inputs }, 'flight-operator', 'test', false);
        jest.isolateModules(() => require('./index'));
      })(),
    ).rejects.toThrow('invalid operator setting "replicas": must be a whole number of at least 1, got 0');
  });
});
