/**
 * Pod Security admission (built into kube-apiserver) with the real
 * controller-manager, scheduler and a kwok node: a namespace enforcing
 * `restricted` rejects a privileged pod and runs a compliant Deployment.
 */
import { applyManifests, k8s, waitFor, waitForDeploymentAvailable } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';

const ns = useNamespace('psa-restricted', {
  labels: {
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'latest',
  },
});

const restrictedContainer: k8s.V1Container = {
  name: 'app',
  image: 'registry.example/flight-operator/app:test',
  securityContext: {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    runAsNonRoot: true,
    runAsUser: 65532,
    seccompProfile: { type: 'RuntimeDefault' },
  },
};

function deployment(name: string, container: k8s.V1Container, replicas = 2): k8s.V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [container] } },
    },
  };
}

describe('Pod Security admission, enforce=restricted', () => {
  test('rejects a privileged pod', async () => {
    const core = ns.kc.makeApiClient(k8s.CoreV1Api);
    const pod: k8s.V1Pod = {
      metadata: { name: 'privileged' },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:test', securityContext: { privileged: true } }] },
    };
    const err = await core.createNamespacedPod({ namespace: ns.name, body: pod }).then(
      () => undefined,
      (e: unknown) => e as k8s.ApiException<unknown>,
    );
    expect(err).toBeInstanceOf(k8s.ApiException);
    expect(err!.code).toBe(403);
    const body = typeof err!.body === 'string' ? JSON.parse(err!.body) : err!.body;
    expect(body.reason).toBe('Forbidden');
    expect(body.message).toContain('violates PodSecurity "restricted:latest"');
    expect(body.message).toContain('privileged');
  });

  test('admits a compliant Deployment, which becomes Available on the kwok node', async () => {
    await applyManifests(ns.kc, [deployment('web', restrictedContainer)], { namespace: ns.name });
    const d = await waitForDeploymentAvailable(ns.kc, ns.name, 'web');
    expect(d.status?.availableReplicas).toBe(2);
    const pods = await ns.kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: ns.name, labelSelector: 'app=web' });
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.status?.phase).toBe('Running');
      expect(p.spec?.nodeName).toBe('kwok-node-0'); // bound by kube-scheduler
      expect(p.status?.podIP).toMatch(/^10\.244\./); // made up by kwok
    }
  });

  test('a non-compliant Deployment is stored, but the ReplicaSet controller cannot create its pods', async () => {
    const root: k8s.V1Container = { name: 'app', image: 'registry.example/app:test' };
    await applyManifests(ns.kc, [deployment('root', root, 1)], { namespace: ns.name });
    const apps = ns.kc.makeApiClient(k8s.AppsV1Api);
    const failure = await waitFor('ReplicaFailure on the ReplicaSet of Deployment root', async () => {
      const rs = await apps.listNamespacedReplicaSet({ namespace: ns.name, labelSelector: 'app=root' });
      return rs.items[0]?.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
    });
    expect(failure.message).toContain('violates PodSecurity "restricted:latest"');
  });
});
