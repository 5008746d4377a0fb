import { EventRecorder } from './events';
import { FakeApiServer } from '../../test/support/fake-apiserver';
import { createLogger } from './logger';

const ev = { group: '', version: 'v1', plural: 'events' };
const obj = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'ns', uid: 'u1', resourceVersion: '7' } };

function setup(extra: Partial<ConstructorParameters<typeof EventRecorder>[0]> = {}) {
  const fake = new FakeApiServer();
  let now = new Date('2025-01-01T00:00:00Z');
  const logs: string[] = [];
  const rec = new EventRecorder({
    client: fake.client(),
    component: 'test-operator',
    instance: 'pod-1',
    now: () => now,
    logger: createLogger({ sink: (l) => logs.push(l) }),
    ...extra,
  });
  return { fake, rec, logs, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('EventRecorder', () => {
  it('creates a core/v1 Event with involvedObject, source and reporting fields', async () => {
    const { fake, rec } = setup();
    rec.normal(obj, 'Created', 'made the thing');
    await rec.flush();
    const [e] = fake.listObjects(ev, 'ns');
    expect(e).toMatchObject({
      involvedObject: { apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', namespace: 'ns', uid: 'u1', resourceVersion: '7' },
      reason: 'Created',
      message: 'made the thing',
      type: 'Normal',
      source: { component: 'test-operator', host: 'pod-1' },
      reportingComponent: 'test-operator',
      reportingInstance: 'pod-1',
      count: 1,
      firstTimestamp: '2025-01-01T00:00:00Z',
      lastTimestamp: '2025-01-01T00:00:00Z',
    });
    expect(e.metadata.name).toMatch(/^w\.[0-9a-f]+$/);
  });

  it('aggregates identical events within the window by patching count/lastTimestamp', async () => {
    const { fake, rec, advance } = setup({ windowMs: 60_000 });
    rec.warning(obj, 'Failed', 'boom');
    rec.warning(obj, 'Failed', 'boom'); // concurrent: serialized, not two creates
    await rec.flush();
    advance(30_000);
    rec.warning(obj, 'Failed', 'boom');
    rec.warning(obj, 'Failed', 'different');
    await rec.flush();
    const events = fake.listObjects(ev, 'ns');
    expect(events).toHaveLength(2);
    const boom = events.find((e) => e.message === 'boom')!;
    expect(boom.count).toBe(3);
    expect(boom.firstTimestamp).toBe('2025-01-01T00:00:00Z');
    expect(boom.lastTimestamp).toBe('2025-01-01T00:00:30Z');
    expect(fake.requests.filter((r) => r.method === 'PATCH').every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
    advance(120_000); // outside the window: new Event
    rec.warning(obj, 'Failed', 'boom');
    await rec.flush();
    expect(fake.listObjects(ev, 'ns')).toHaveLength(3);
  });

  it('recreates when the aggregated Event expired (404 on patch)', async () => {
    const { fake, rec, advance } = setup();
    rec.normal(obj, 'R', 'm');
    await rec.flush();
    const [e] = fake.listObjects(ev, 'ns');
    await fake.client().delete(ev, 'ns', e.metadata.name);
    advance(1000);
    rec.normal(obj, 'R', 'm');
    await rec.flush();
    const after = fake.listObjects(ev, 'ns');
    expect(after).toHaveLength(1);
    expect(after[0].count).toBe(1);
  });

  it('never throws into the caller; failures are logged and dropped', async () => {
    const { fake, rec, logs } = setup();
    fake.interceptor = () => ({ status: 403, headers: {}, body: JSON.stringify({ code: 403, reason: 'Forbidden', message: 'no' }) });
    expect(() => rec.warning(obj, 'X', 'y')).not.toThrow();
    expect(() => rec.event({} as any, 'Normal', 'X', 'y')).not.toThrow();
    await rec.flush();
    expect(logs.join('')).toMatch(/could not record event/);
  });

  it('puts events about cluster-scoped objects in the default namespace and truncates long messages', async () => {
    const { fake, rec } = setup();
    rec.normal({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }, 'R', 'x'.repeat(5000));
    await rec.flush();
    const [e] = fake.listObjects(ev, 'default');
    expect(e.message.length).toBe(1024);
    expect(e.message.endsWith('...')).toBe(true);
  });
});
