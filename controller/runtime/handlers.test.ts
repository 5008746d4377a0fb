import type { KubernetesObject } from '@kubernetes/client-node';
import { FakeApiServer } from '../../test/support/fake-apiserver';
import { enqueueOnChange, generationChanged, ownerKeys, specOrMetadataChanged } from './handlers';
import { Informer } from './informer';

const rt = { group: 'example.com', version: 'v1', plural: 'widgets' };
const waitFor = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('predicates', () => {
  const base: KubernetesObject = { metadata: { name: 'a', generation: 1, resourceVersion: '1' } };
  it('generationChanged ignores status-only updates', () => {
    expect(generationChanged(base, { metadata: { ...base.metadata, resourceVersion: '2' } })).toBe(false);
    expect(generationChanged(base, { metadata: { ...base.metadata, generation: 2 } })).toBe(true);
    expect(generationChanged({ metadata: { resourceVersion: '1' } }, { metadata: { resourceVersion: '2' } })).toBe(true);
  });
  it('specOrMetadataChanged also sees deletion, finalizers, labels, annotations', () => {
    const m = base.metadata;
    expect(specOrMetadataChanged(base, { metadata: { ...m, resourceVersion: '2' } })).toBe(false);
    expect(specOrMetadataChanged(base, { metadata: { ...m, deletionTimestamp: new Date() } })).toBe(true);
    expect(specOrMetadataChanged(base, { metadata: { ...m, finalizers: ['f'] } })).toBe(true);
    expect(specOrMetadataChanged(base, { metadata: { ...m, labels: { a: 'b' } } })).toBe(true);
    expect(specOrMetadataChanged(base, { metadata: { ...m, annotations: { a: 'b' } } })).toBe(true);
  });
  it('ownerKeys maps a child to its controller owner', () => {
    const child = {
      metadata: {
        name: 'c',
        namespace: 'ns',
        ownerReferences: [
          { apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', uid: 'u', controller: true },
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u2' },
        ],
      },
    };
    expect(ownerKeys('Widget')(child)).toEqual(['ns/w']);
    expect(ownerKeys('Widget', 'other/v1')(child)).toEqual([]);
  });
});

describe('enqueueOnChange with the fake apiserver', () => {
  it('enqueues on add, spec change and delete, but not on our own status writes', async () => {
    const fake = new FakeApiServer();
    const client = fake.client();
    const inf = new Informer<any>({ lw: fake.listerWatcher(rt, 'ns'), name: 'widgets' });
    const keys: string[] = [];
    enqueueOnChange(inf, (k) => keys.push(k));
    inf.start();
    await inf.waitForSync();
    const w = await client.create<any>(rt, 'ns', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { a: 1 } });
    await waitFor(() => keys.length === 1);
    await client.patch(rt, 'ns', 'w', { status: { ok: true } }, 'application/merge-patch+json', { subresource: 'status' });
    await waitFor(() => inf.get('ns/w')?.status?.ok === true);
    expect(keys).toEqual(['ns/w']); // status-only: no enqueue
    await client.replace(rt, 'ns', 'w', { ...inf.get('ns/w'), spec: { a: 2 } });
    await waitFor(() => keys.length === 2);
    await client.delete(rt, 'ns', 'w');
    await waitFor(() => keys.length === 3);
    expect(keys).toEqual(['ns/w', 'ns/w', 'ns/w']);
    expect(inf.get('ns/w')).toBeUndefined();
    void w;
    await inf.stop();
  });
});
