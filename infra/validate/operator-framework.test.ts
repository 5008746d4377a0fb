/**
 * The real operator-framework tools on hand-written bundles and catalogs, and
 * on the project's generated olm-bundle/. The tools are built by
 * tools/ensure.sh on first use (several minutes when cold): a build failure
 * fails these tests, it never skips them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  REPO_ROOT,
  ensureToolFamily,
  formatFindings,
  opmRender,
  opmValidate,
  parseJsonStream,
  validateBundle,
  type Finding,
} from './operator-framework';

const COLD_BUILD_MS = 45 * 60_000;
const DIGEST = 'sha256:' + '0'.repeat(64);
const IMAGE = `registry.example.com/flight-operator@${DIGEST}`;

const ANNOTATIONS = `annotations:
  operators.operatorframework.io.bundle.mediatype.v1: registry+v1
  operators.operatorframework.io.bundle.manifests.v1: manifests/
  operators.operatorframework.io.bundle.metadata.v1: metadata/
  operators.operatorframework.io.bundle.package.v1: flight-operator
  operators.operatorframework.io.bundle.channels.v1: stable
  operators.operatorframework.io.bundle.channel.default.v1: stable
`;

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: flighttickets.flights.com
spec:
  group: flights.com
  names: {kind: FlightTicket, listKind: FlightTicketList, plural: flighttickets, singular: flightticket}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                from: {type: string}
                to: {type: string}
                number: {type: string}
            status:
              type: object
              properties:
                bookingRef: {type: string}
`;

const CSV = `apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata:
  name: flight-operator.v0.1.0
  annotations:
    alm-examples: '[{"apiVersion":"flights.com/v1","kind":"FlightTicket","metadata":{"name":"example"},"spec":{"from":"AMS","to":"LIS","number":"TP123"}}]'
    capabilities: Basic Install
    categories: Developer Tools
    containerImage: ${IMAGE}
    createdAt: "2025-01-01T00:00:00Z"
    description: Books flights from FlightTicket resources.
    repository: https://example.com/flight-operator
    support: Example
    operatorframework.io/suggested-namespace: flight-operator
spec:
  displayName: Flight Operator
  description: Books flights from FlightTicket resources.
  version: 0.1.0
  minKubeVersion: 1.29.0
  maturity: alpha
  keywords: [flights]
  provider: {name: Example}
  maintainers: [{name: Example, email: ops@example.com}]
  links: [{name: Source, url: "https://example.com/flight-operator"}]
  icon:
    - base64data: PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=
      mediatype: image/svg+xml
  installModes:
    - {type: OwnNamespace, supported: true}
    - {type: SingleNamespace, supported: true}
    - {type: MultiNamespace, supported: false}
    - {type: AllNamespaces, supported: true}
  customresourcedefinitions:
    owned:
      - name: flighttickets.flights.com
        version: v1
        kind: FlightTicket
        displayName: Flight Ticket
        description: A flight booking.
        resources: [{kind: Deployment, version: v1}]
        specDescriptors:
          - {path: from, displayName: From, description: Origin airport}
          - {path: to, displayName: To, description: Destination airport}
          - {path: number, displayName: Number, description: Flight number}
        statusDescriptors:
          - {path: bookingRef, displayName: Booking reference, description: Reference}
  install:
    strategy: deployment
    spec:
      clusterPermissions:
        - serviceAccountName: flight-operator
          rules:
            - apiGroups: [flights.com]
              resources: [flighttickets, flighttickets/status]
              verbs: [get, list, watch, update, patch]
      deployments:
        - name: flight-operator
          spec:
            replicas: 1
            selector:
              matchLabels: {app: flight-operator}
            template:
              metadata:
                labels: {app: flight-operator}
              spec:
                serviceAccountName: flight-operator
                containers:
                  - name: manager
                    image: ${IMAGE}
                    resources:
                      requests: {cpu: 10m, memory: 64Mi}
                      limits: {memory: 128Mi}
  relatedImages:
    - {name: manager, image: "${IMAGE}"}
`;

/** The same CSV with the mistakes people make: each must be a named error. */
const BROKEN_CSV = CSV.replace('  displayName: Flight Operator\n', '') // required field
  .replace('  version: 0.1.0\n', '') // OperatorHub: spec.version must be set
  .replace('minKubeVersion: 1.29.0', 'minKubeVersion: "1.29"') // not strict semver
  .replace('capabilities: Basic Install', 'capabilities: Magic')
  .replace('categories: Developer Tools', 'categories: Flying Things')
  .replace(/ {20}resources:\n.*\n.*\n/, ''); // no requests: good-practices warning

let work: string;

function writeTree(root: string, files: Record<string, string>): string {
  for (const [rel, body] of Object.entries(files)) {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, body);
  }
  return root;
}

function dir(name: string): string {
  return path.join(work, name);
}

function named(findings: Finding[], validator: string, text: string | RegExp): boolean {
  return findings.some((f) => f.validator === validator && (typeof text === 'string' ? f.message.includes(text) : text.test(f.message)));
}

function catalog(channelEntries: Array<{ name: string; replaces?: string }>, bundles: string[]): string {
  const blobs: object[] = [
    { schema: 'olm.package', name: 'flight-operator', defaultChannel: 'stable' },
    { schema: 'olm.channel', package: 'flight-operator', name: 'stable', entries: channelEntries },
    ...bundles.map((version) => ({
      schema: 'olm.bundle',
      package: 'flight-operator',
      name: `flight-operator.v${version}`,
      image: `registry.example.com/flight-operator-bundle@${DIGEST}`,
      properties: [{ type: 'olm.package', value: { packageName: 'flight-operator', version } }],
    })),
  ];
  return blobs.map((b) => JSON.stringify(b, null, 2)).join('\n');
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'operator-framework-test-'));
  writeTree(dir('good-bundle'), {
    'metadata/annotations.yaml': ANNOTATIONS,
    'manifests/flights.com_flighttickets.yaml': CRD,
    'manifests/flight-operator.clusterserviceversion.yaml': CSV,
  });
  writeTree(dir('broken-bundle'), {
    // package name missing from annotations.yaml
    'metadata/annotations.yaml': ANNOTATIONS.replace(/.*package\.v1.*\n/, ''),
    'manifests/flights.com_flighttickets.yaml': CRD,
    'manifests/flight-operator.clusterserviceversion.yaml': BROKEN_CSV,
    // a Deployment belongs inside the CSV, not in manifests/
    'manifests/stray_apps_v1_deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: stray}\n',
    // policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25
    'manifests/old_policy_v1beta1_poddisruptionbudget.yaml':
      'apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: old}\nspec: {minAvailable: 1}\n',
  });
  writeTree(dir('old-api-bundle'), {
    'metadata/annotations.yaml': ANNOTATIONS,
    'manifests/flights.com_flighttickets.yaml': CRD,
    'manifests/flight-operator.clusterserviceversion.yaml': CSV.replace('minKubeVersion: 1.29.0', 'minKubeVersion: 1.21.0'),
    'manifests/old_policy_v1beta1_poddisruptionbudget.yaml':
      'apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: old}\nspec: {minAvailable: 1}\n',
  });
  writeTree(dir('catalog-ok'), {
    'flight-operator/catalog.json': catalog([{ name: 'flight-operator.v0.1.0' }, { name: 'flight-operator.v0.2.0', replaces: 'flight-operator.v0.1.0' }], ['0.1.0', '0.2.0']),
  });
  writeTree(dir('catalog-two-heads'), {
    // 0.2.0 replaces nothing: 0.1.0 and 0.2.0 are both heads of "stable"
    'flight-operator/catalog.json': catalog([{ name: 'flight-operator.v0.1.0' }, { name: 'flight-operator.v0.2.0' }], ['0.1.0', '0.2.0']),
  });
  // Build both families up front, so no single test carries a cold build.
  await ensureToolFamily('bundle-validate');
  await ensureToolFamily('opm');
}, COLD_BUILD_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('validateBundle (tools/bundle-validate)', () => {
  it('passes a complete minimal bundle with no errors and no warnings', async () => {
    const v = await validateBundle(dir('good-bundle'));
    expect(formatFindings(v)).toBe('');
    expect(v.bundleName).toBe('flight-operator.v0.1.0');
    // The operator-sdk suite=operatorframework set, plus the default validators.
    expect(v.validators).toEqual(
      expect.arrayContaining(['bundle-format', 'bundle', 'csv', 'crd', 'operatorhubv2', 'capabilities', 'categories', 'alpha-deprecated-apis', 'good-practices']),
    );
  });

  it('names each mistake in a broken bundle with the validator that caught it', async () => {
    const v = await validateBundle(dir('broken-bundle'));
    const report = formatFindings(v);
    const expected: Array<[string, string | RegExp]> = [
      ['bundle-format', 'Missing annotation "operators.operatorframework.io.bundle.package.v1"'],
      ['bundle-objects', 'kind Deployment is not supported'],
      ['csv', 'Field Spec.DisplayName'],
      ['csv', 'csv.Spec.MinKubeVersion has an invalid value: 1.29'],
      ['operatorhubv2', 'csv.Spec.Version must be set'],
      ['capabilities', '"Magic" is not a valid capabilities level'],
      ['categories', '"Flying Things" is not in the set of standard categories'],
      ['alpha-deprecated-apis', /removed in v1\.25.*PodDisruptionBudget/],
    ];
    for (const [validator, text] of expected) {
      if (!named(v.errors, validator, text)) throw new Error(`expected a ${validator} error matching ${text}; got:\n${report}`);
    }
    expect(named(v.warnings, 'good-practices', 'unable to find the resource requests for the container: (manager)')).toBe(true);
  });

  it('makes a removed API an error once the target Kubernetes (k8s-version or minKubeVersion) is past the removal', async () => {
    // policy/v1beta1 PodDisruptionBudget went away in 1.25; minKubeVersion is 1.21.0 here.
    const older = await validateBundle(dir('old-api-bundle'), { k8sVersion: '1.22' });
    expect(named(older.errors, 'alpha-deprecated-apis', /PodDisruptionBudget/)).toBe(false);
    expect(named(older.warnings, 'alpha-deprecated-apis', /removed in v1\.25.*PodDisruptionBudget/)).toBe(true);
    const current = await validateBundle(dir('old-api-bundle'));
    expect(current.k8sVersion).toBe('1.35');
    expect(named(current.errors, 'alpha-deprecated-apis', /removed in v1\.25.*PodDisruptionBudget/)).toBe(true);
  });

  it('rejects a path that is not a directory', async () => {
    await expect(validateBundle(dir('no-such-bundle'))).rejects.toThrow(/is not a directory/);
  });
});

describe('opm', () => {
  it('validates a minimal catalog: olm.package, olm.channel and olm.bundle', async () => {
    const v = await opmValidate(dir('catalog-ok'));
    expect(v).toEqual({ valid: true, output: '' });
  });

  it('fails a catalog whose channel has two heads', async () => {
    const v = await opmValidate(dir('catalog-two-heads'));
    expect(v.valid).toBe(false);
    expect(v.output).toMatch(/multiple channel heads/);
  });

  it('renders a bundle directory into an olm.bundle with inline objects, which validates as a catalog', async () => {
    const blobs = await opmRender(dir('good-bundle'));
    expect(blobs).toHaveLength(1);
    const [bundle] = blobs;
    expect(bundle).toMatchObject({ schema: 'olm.bundle', name: 'flight-operator.v0.1.0', package: 'flight-operator' });
    const props = bundle.properties as Array<{ type: string; value: any }>;
    expect(props).toEqual(
      expect.arrayContaining([
        { type: 'olm.package', value: { packageName: 'flight-operator', version: '0.1.0' } },
        { type: 'olm.gvk', value: { group: 'flights.com', kind: 'FlightTicket', version: 'v1' } },
      ]),
    );
    expect(props.filter((p) => p.type === 'olm.bundle.object')).toHaveLength(2);

    // Wrapped in a package and a channel, the rendered bundle is a valid catalog.
    const cat = writeTree(dir('catalog-rendered'), {
      'flight-operator/catalog.json': [
        { schema: 'olm.package', name: 'flight-operator', defaultChannel: 'stable' },
        { schema: 'olm.channel', package: 'flight-operator', name: 'stable', entries: [{ name: 'flight-operator.v0.1.0' }] },
        bundle,
      ]
        .map((b) => JSON.stringify(b))
        .join('\n'),
    });
    expect(await opmValidate(cat)).toEqual({ valid: true, output: '' });
  });

  it('rejects with opm\'s message when render fails', async () => {
    const empty = writeTree(dir('not-a-bundle'), { 'manifests/README': 'no CSV here\n', 'metadata/annotations.yaml': ANNOTATIONS });
    await expect(opmRender(empty)).rejects.toThrow(/opm render .* failed/);
  });
});

describe('the generated olm-bundle/', () => {
  const bundleDir = path.join(REPO_ROOT, 'olm-bundle');

  it('passes every bundle validator with no errors and no warnings', async () => {
    const v = await validateBundle(bundleDir);
    expect(formatFindings(v)).toBe('');
  });

  it('its catalog passes opm validate', async () => {
    const v = await opmValidate(path.join(bundleDir, 'catalog'));
    if (!v.valid) throw new Error(`opm validate olm-bundle/catalog:\n${v.output}`);
  });
});

describe('parseJsonStream', () => {
  it('splits concatenated JSON values, braces inside strings included', () => {
    expect(parseJsonStream('{"a":"}{"}\n{\n "b": [1, {"c": "\\"}"}]\n}\n')).toEqual([{ a: '}{' }, { b: [1, { c: '"}' }] }]);
  });
  it('refuses truncated output', () => {
    expect(() => parseJsonStream('{"a": 1')).toThrow(/truncated/);
  });
});
