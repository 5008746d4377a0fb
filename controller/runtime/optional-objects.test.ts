import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeClient, type Transport } from './client';
import { createLogger } from './logger';
import { readObjectFiles, runOptionalObjects, syncOptionalObjects, type OptionalObjectsOptions } from './optional-objects';

/** A fake API server: a Deployment, discovery that serves monitoring.example.com/v1 once `served` is set, and apply recorded. */
function fakeApi() {
  const state = { served: false, applies: [] as Array<{ path: string; query: unknown; contentType?: string; body: any }>, failApply: 0 };
  const transport: Transport = async (req) => {
    const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body), headers: {} });
    if (req.method === 'GET' && req.path === '/apis/apps/v1/namespaces/ops/deployments/ctl') return json(200, { metadata: { name: 'ctl', uid: 'dep-uid' } });
    if (req.method === 'GET' && req.path === '/apis/monitoring.example.com/v1') {
      return state.served
        ? json(200, { resources: [{ name: 'monitors', kind: 'Monitor', namespaced: true }, { name: 'monitors/status', kind: 'Monitor', namespaced: true }] })
        : json(404, { reason: 'NotFound', message: 'the server could not find the requested resource' });
    }
    if (req.method === 'PATCH') {
      if (state.failApply > 0) {
        state.failApply--;
        return json(500, { reason: 'InternalError', message: 'boom' });
      }
      state.applies.push({ path: req.path, query: req.query, contentType: req.contentType, body: JSON.parse(req.bodyText!) });
      return json(200, {});
    }
    return json(404, { reason: 'NotFound', message: `${req.method} ${req.path}` });
  };
  return { state, client: new KubeClient(transport) };
}

const MONITOR = { apiVersion: 'monitoring.example.com/v1', kind: 'Monitor', metadata: { name: 'm', namespace: 'elsewhere', labels: { a: 'b' } }, spec: { x: 1 } };

function options(client: KubeClient, lines: string[] = []): OptionalObjectsOptions {
  return {
    client,
    objects: [MONITOR],
    namespace: 'ops',
    owner: { apiVersion: 'apps/v1', kind: 'Deployment', resource: { group: 'apps', version: 'v1', plural: 'deployments' }, name: 'ctl' },
    fieldManager: 'test-manager',
    logger: createLogger({ level: 'info', sink: (l) => lines.push(l) }),
  };
}

describe('syncOptionalObjects', () => {
  it('applies nothing while the kind is not served, and says so', async () => {
    const api = fakeApi();
    const states = await syncOptionalObjects(options(api.client));
    expect([...states]).toEqual([['Monitor/m', 'unserved']]);
    expect(api.state.applies).toEqual([]);
  });

  it('once served: a forced server-side apply into the owner namespace, owned by the Deployment', async () => {
    const api = fakeApi();
    api.state.served = true;
    const states = await syncOptionalObjects(options(api.client));
    expect([...states]).toEqual([['Monitor/m', 'applied']]);
    expect(api.state.applies).toEqual([
      {
        path: '/apis/monitoring.example.com/v1/namespaces/ops/monitors/m',
        query: { fieldManager: 'test-manager', force: true },
        contentType: 'application/apply-patch+yaml',
        body: {
          ...MONITOR,
          metadata: { name: 'm', namespace: 'ops', labels: { a: 'b' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ctl', uid: 'dep-uid' }] },
        },
      },
    ]);
  });

  it('a failed apply is reported as failed, not thrown', async () => {
    const api = fakeApi();
    api.state.served = true;
    api.state.failApply = 1;
    const lines: string[] = [];
    expect([...(await syncOptionalObjects(options(api.client, lines)))]).toEqual([['Monitor/m', 'failed']]);
    expect(lines.join('\n')).toContain('optional object not applied');
  });
});

describe('runOptionalObjects', () => {
  afterEach(() => jest.useRealTimers());

  it('a kind served later (a CRD installed after the controller started) gets its object at the next interval, without a restart', async () => {
    jest.useFakeTimers();
    const api = fakeApi();
    const lines: string[] = [];
    const stop = new AbortController();
    const done = runOptionalObjects({ ...options(api.client, lines), intervalMs: 60_000 }, stop.signal);
    await jest.advanceTimersByTimeAsync(0);
    expect(api.state.applies).toHaveLength(0);
    // WHEN the CRD appears
    api.state.served = true;
    await jest.advanceTimersByTimeAsync(59_000);
    expect(api.state.applies).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1_000);
    // THEN it is applied at the next check, and kept applied (re-applied each interval)
    expect(api.state.applies).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(api.state.applies).toHaveLength(2);
    stop.abort();
    await done;
    // State changes are logged once each
    expect(lines.filter((l) => l.includes('does not serve its kind'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('optional object applied'))).toHaveLength(1);
  });
});

describe('readObjectFiles', () => {
  it('reads the *.json files of a ConfigMap volume (skipping ..data), and refuses one that is not an object', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'optional-objects-'));
    try {
      // What the kubelet writes: a timestamped folder, ..data pointing at it, a symlink per key.
      mkdirSync(path.join(dir, '..2026_12_07'));
      writeFileSync(path.join(dir, '..2026_12_07', 'monitor.json'), JSON.stringify(MONITOR));
      symlinkSync('..2026_12_07', path.join(dir, '..data'));
      symlinkSync('..data/monitor.json', path.join(dir, 'monitor.json'));
      expect(readObjectFiles(dir)).toEqual([MONITOR]);
      writeFileSync(path.join(dir, 'bad.json'), '{"kind":"X"}');
      expect(() => readObjectFiles(dir)).toThrow(/bad\.json: not a Kubernetes object/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
