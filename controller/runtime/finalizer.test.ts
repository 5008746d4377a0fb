import { FakeApiServer } from '../../test/support/fake-apiserver';
import { addFinalizerPatch, ensureFinalizer, hasFinalizer, isBeingDeleted, patchStatus, removeFinalizer, removeFinalizerPatch } from './finalizer';

const rt = { group: 'example.com', version: 'v1', plural: 'widgets' };
const F = 'example.com/cleanup';

function setup() {
  const fake = new FakeApiServer();
  const client = fake.client();
  const obj = fake.seed(rt, { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'ns' }, spec: { a: 1 } });
  return { fake, client, obj };
}

describe('finalizer patches', () => {
  it('builds rv-guarded JSON patches', () => {
    const o = { metadata: { name: 'w', resourceVersion: '5' } };
    expect(addFinalizerPatch(o, F)).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '5' },
      { op: 'add', path: '/metadata/finalizers', value: [F] },
    ]);
    const o2 = { metadata: { name: 'w', resourceVersion: '5', finalizers: ['x', F, 'y', F] } };
    expect(addFinalizerPatch(o2, F)).toBeUndefined();
    expect(removeFinalizerPatch(o2, F)).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '5' },
      { op: 'remove', path: '/metadata/finalizers/3' },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    expect(() => addFinalizerPatch({ metadata: { name: 'w' } }, F)).toThrow(/resourceVersion/);
  });
});

describe('ensureFinalizer / removeFinalizer', () => {
  it('adds once, then is a no-op without a request', async () => {
    const { fake, client, obj } = setup();
    const updated = await ensureFinalizer(client, rt, obj, F);
    expect(updated!.metadata!.finalizers).toEqual([F]);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'PATCH', contentType: 'application/json-patch+json', path: '/apis/example.com/v1/namespaces/ns/widgets/w' });
    const n = fake.requests.length;
    expect(await ensureFinalizer(client, rt, updated!, F)).toBeUndefined();
    expect(fake.requests.length).toBe(n);
    // appends to an existing list
    const again = await ensureFinalizer(client, rt, updated!, 'other');
    expect(again!.metadata!.finalizers).toEqual([F, 'other']);
    expect(hasFinalizer(again!, 'other')).toBe(true);
  });

  it('fails with 409 on a stale object instead of clobbering', async () => {
    const { fake, client, obj } = setup();
    await ensureFinalizer(client, rt, obj, 'someone-else'); // obj is now stale
    const err = await ensureFinalizer(client, rt, obj, F).catch((e) => e);
    expect(err.code).toBe(409);
    expect(fake.getObject(rt, 'ns', 'w')!.metadata.finalizers).toEqual(['someone-else']);
  });

  it('removing the last finalizer of a deleted object lets it go; 404 counts as done', async () => {
    const { fake, client, obj } = setup();
    const withF = (await ensureFinalizer(client, rt, obj, F))!;
    await client.delete(rt, 'ns', 'w');
    const deleting = fake.getObject(rt, 'ns', 'w')!;
    expect(isBeingDeleted(deleting)).toBe(true);
    expect(isBeingDeleted(withF)).toBe(false);
    await removeFinalizer(client, rt, deleting, F);
    expect(fake.getObject(rt, 'ns', 'w')).toBeUndefined();
    expect(await removeFinalizer(client, rt, deleting, F)).toBeUndefined(); // 404 swallowed
    expect(await removeFinalizer(client, rt, { metadata: { name: 'w', resourceVersion: '1' } }, F)).toBeUndefined(); // absent
  });
});

describe('patchStatus', () => {
  it('merge-patches /status only, optionally guarded by resourceVersion', async () => {
    const { fake, client, obj } = setup();
    const out = await patchStatus<any>(client, rt, { namespace: 'ns', name: 'w' }, { phase: 'Ready', conditions: [{ type: 'Ready' }] });
    expect(out.status).toEqual({ phase: 'Ready', conditions: [{ type: 'Ready' }] });
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'PATCH',
      path: '/apis/example.com/v1/namespaces/ns/widgets/w/status',
      contentType: 'application/merge-patch+json',
      body: { status: { phase: 'Ready', conditions: [{ type: 'Ready' }] } },
    });
    const removed = await patchStatus<any>(client, rt, { namespace: 'ns', name: 'w' }, { phase: null });
    expect(removed.status).toEqual({ conditions: [{ type: 'Ready' }] });
    const err = await patchStatus(client, rt, { namespace: 'ns', name: 'w' }, { phase: 'X' }, { resourceVersion: obj.metadata.resourceVersion }).catch((e) => e);
    expect(err.code).toBe(409);
  });
});
