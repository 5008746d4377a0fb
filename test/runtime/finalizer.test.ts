/**
 * Finalizer and status helpers against a real apiserver (ConfigMaps and
 * Services; no CRD needed): a stale cache gets 409 instead of clobbering, a
 * finalizer holds deletion until removed, /status merge patch.
 */
import * as k8s from '@kubernetes/client-node';
import { KubeClient, PatchType } from '../../controller/runtime/client';
import { ensureFinalizer, isBeingDeleted, patchStatus, removeFinalizer } from '../../controller/runtime/finalizer';
import { loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { configmaps } from './helpers';

const ns = useNamespace('rt-finalizer');
const F = 'example.com/cleanup';
let client: KubeClient;
beforeAll(() => {
  client = KubeClient.fromKubeConfig(loadKubeConfig());
});

const newCM = (name: string) => client.create<k8s.V1ConfigMap>(configmaps, ns.name, { metadata: { name }, data: { a: '1' } });

describe('finalizers on a real apiserver', () => {
  test('ensureFinalizer adds once; a stale object gets 409 and changes nothing', async () => {
    const fresh = await newCM('f1');
    const withF = (await ensureFinalizer(client, configmaps, fresh, F))!;
    expect(withF.metadata!.finalizers).toEqual([F]);
    expect(await ensureFinalizer(client, configmaps, withF, F)).toBeUndefined();

    // Someone else changes the object; our copy `withF` is now stale.
    await client.patch(configmaps, ns.name, 'f1', { metadata: { finalizers: [F, 'other.io/keep'] } }, PatchType.MergePatch);
    const err = await removeFinalizer(client, configmaps, withF, F).catch((e) => e);
    expect(err.code).toBe(409);
    expect(err.reason).toBe('Conflict');
    const now = await client.get<k8s.V1ConfigMap>(configmaps, ns.name, 'f1');
    expect(now.metadata!.finalizers).toEqual([F, 'other.io/keep']); // nothing clobbered

    const err2 = await ensureFinalizer(client, configmaps, fresh, 'late.io/x').catch((e) => e);
    expect(err2.code).toBe(409);

    // With fresh data it works, and keeps the other finalizer.
    const removed = (await removeFinalizer(client, configmaps, now, F))!;
    expect(removed.metadata!.finalizers).toEqual(['other.io/keep']);
    await removeFinalizer(client, configmaps, removed, 'other.io/keep');
  });

  test('a JSON Patch `test` op on a stale resourceVersion fails with 422, not 409 (why we replace the RV instead)', async () => {
    const cm = await newCM('f2');
    await client.patch(configmaps, ns.name, 'f2', { data: { a: '2' } }, PatchType.MergePatch);
    const err = await client
      .patch(configmaps, ns.name, 'f2', [
        { op: 'test', path: '/metadata/resourceVersion', value: cm.metadata!.resourceVersion },
        { op: 'add', path: '/metadata/finalizers', value: [F] },
      ], PatchType.JsonPatch)
      .catch((e) => e);
    expect(err.code).toBe(422);
  });

  test('a finalizer holds deletion until removeFinalizer; then the object is gone', async () => {
    const cm = (await ensureFinalizer(client, configmaps, await newCM('f3'), F))!;
    await client.delete(configmaps, ns.name, 'f3');
    const deleting = await client.get<k8s.V1ConfigMap>(configmaps, ns.name, 'f3');
    expect(isBeingDeleted(deleting)).toBe(true);
    expect(isBeingDeleted(cm)).toBe(false);
    await removeFinalizer(client, configmaps, deleting, F);
    const err = await client.get(configmaps, ns.name, 'f3').catch((e) => e);
    expect(err.code).toBe(404);
    expect(await removeFinalizer(client, configmaps, deleting, F)).toBeUndefined(); // already gone: fine
  });

  test('patchStatus merge-patches the /status subresource (Service load balancer status)', async () => {
    const services = { group: '', version: 'v1', plural: 'services' };
    await client.create(services, ns.name, {
      metadata: { name: 's1' },
      spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] },
    });
    const out = await patchStatus<k8s.V1Service>(client, services, { namespace: ns.name, name: 's1' }, { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } });
    expect(out.status!.loadBalancer!.ingress![0].ip).toBe('192.0.2.10');
    // spec is untouched by a status write, and a stale guarded write gets 409
    const err = await patchStatus(client, services, { namespace: ns.name, name: 's1' }, { loadBalancer: {} }, { resourceVersion: '1' }).catch((e) => e);
    expect(err.code).toBe(409);
  });
});
