/**
 * The control plane itself: the version we built, readiness, kubectl, the
 * kwok node, the controller-manager's work and RBAC.
 */
import { pinnedKubernetesVersion } from '../../testenv/binaries';
import { k8s, kubectl, loadKubeConfig, rawGet, waitFor } from '../../testenv/kube';

const kc = loadKubeConfig();

describe('control plane', () => {
  test('/version reports the version the binaries were built as', async () => {
    const expected = process.env.FLIGHT_EXPECT_K8S_VERSION;
    expect(expected).toMatch(/^v1\.\d+\.\d+/);
    const r = await rawGet(kc, '/version');
    expect(r.status).toBe(200);
    const v = JSON.parse(r.body);
    expect(v.gitVersion).toBe(expected);
    const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(expected!)!;
    expect(v).toMatchObject({ major, minor });
    if (process.env.FLIGHT_K8S_SOURCE === 'tools/k8s') expect(v.gitVersion).toBe(pinnedKubernetesVersion());
    // The typed client sees the same.
    const info = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(info.gitVersion).toBe(expected);
  });

  test('/readyz is ok and checks etcd', async () => {
    const r = await rawGet(kc, '/readyz?verbose');
    expect(r.status).toBe(200);
    expect(r.body).toContain('[+]etcd ok');
    expect(r.body.trim().split('\n').pop()).toBe('readyz check passed');
  });

  test('kubectl is the same version and talks to the server', async () => {
    const { stdout } = await kubectl(['version', '-o', 'json']);
    const v = JSON.parse(stdout);
    expect(v.clientVersion.gitVersion).toBe(v.serverVersion.gitVersion);
    const nodes = await kubectl(['get', 'nodes', '-o', 'name']);
    expect(nodes.stdout).toMatch(/^node\//m);
  });

  test('the kwok node is Ready and schedulable', async () => {
    const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode();
    const kwok = nodes.items.filter((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake');
    expect(kwok).toHaveLength(1);
    const node = kwok[0]!;
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // The controller-manager's node lifecycle controller removed the not-ready taint.
    expect(node.spec?.taints ?? []).toEqual([]);
    expect(node.spec?.unschedulable ?? false).toBe(false);
  });

  test('kwok keeps renewing the node Lease, so the node never turns NotReady', async () => {
    const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    const read = () => coordination.readNamespacedLease({ name: 'kwok-node-0', namespace: 'kube-node-lease' });
    const first = await read();
    expect(first.spec?.holderIdentity).toBeTruthy(); // kwok's controller id
    expect(first.spec?.leaseDurationSeconds).toBe(40);
    const renewed = await waitFor(
      'the node Lease to be renewed',
      async () => {
        const l = await read();
        return new Date(l.spec!.renewTime!).getTime() > new Date(first.spec!.renewTime!).getTime() && l;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(renewed.spec?.holderIdentity).toBe(first.spec?.holderIdentity);
    const events = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace: 'default', fieldSelector: 'reason=NodeNotReady' });
    expect(events.items.map((e) => e.message)).toEqual([]);
  });

  test('the controller-manager made the default ServiceAccount and the root CA ConfigMap', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    expect(sa.metadata?.name).toBe('default');
    const cm = await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' });
    expect(cm.data?.['ca.crt']).toContain('BEGIN CERTIFICATE');
  });

  test('RBAC decides: the admin may do anything, another user nothing', async () => {
    expect((await kubectl(['auth', 'can-i', '*', '*'])).stdout.trim()).toBe('yes');
    const other = await kubectl(['auth', 'can-i', 'list', 'pods', '--as=someone', '-n', 'default'], { check: false });
    expect(other.stdout.trim()).toBe('no');
    // Bootstrap RBAC gives the scheduler its own role.
    const sched = await kubectl(['auth', 'can-i', 'create', 'pods', '--subresource=binding', '--as=system:kube-scheduler', '-n', 'default'], { check: false });
    expect(sched.stdout.trim()).toBe('yes');
  });

  test('service account tokens are issued and accepted', async () => {
    const { stdout: token } = await kubectl(['create', 'token', 'default', '-n', 'default', '--duration=10m']);
    const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createTokenReview({ body: { spec: { token: token.trim() } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe('system:serviceaccount:default:default');
  });
});
