/**
 * One namespace per test file:
 *
 *   const ns = useNamespace('psa', { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } });
 *   test('...', async () => { ... ns.name ... });
 *
 * The name is known at once (for describe-time use); the namespace is created
 * in beforeAll and deleted in afterAll (without waiting for its finalizers,
 * so the next file need not wait for the namespace controller).
 */
import { randomBytes } from 'node:crypto';
import { k8s, loadKubeConfig, statusCode, waitFor } from './kube';

export interface TestNamespace {
  readonly name: string;
  readonly kc: k8s.KubeConfig;
}

export interface NamespaceOptions {
  labels?: Record<string, string>;
  /** Keep it after the file (debugging). Default: FLIGHT_KEEP_NAMESPACES=1. */
  keep?: boolean;
}

export function useNamespace(prefix = 'test', opts: NamespaceOptions = {}): TestNamespace {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  let kc: k8s.KubeConfig | undefined;
  const handle: TestNamespace = {
    name,
    get kc() {
      kc ??= loadKubeConfig();
      return kc;
    },
  };

  beforeAll(async () => {
    const core = handle.kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name, labels: { 'flight-operator.test/namespace': 'true', ...opts.labels } } } });
    // The namespace is usable once the controller-manager made its default ServiceAccount.
    await waitFor(`ServiceAccount ${name}/default`, () => core.readNamespacedServiceAccount({ name: 'default', namespace: name }), { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    if (opts.keep ?? process.env.FLIGHT_KEEP_NAMESPACES === '1') return;
    try {
      await handle.kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name });
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
  });

  return handle;
}
