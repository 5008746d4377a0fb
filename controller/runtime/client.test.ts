import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import {
  KubeApiError,
  KubeClient,
  PatchType,
  apiVersionOf,
  errorCode,
  isAlreadyExists,
  isConflict,
  isNotFound,
  makeInstrumentedApiClient,
  mergePatchOptions,
  resourcePath,
} from './client';
import { stripManagedFields } from './informer';

const cms = { group: '', version: 'v1', plural: 'configmaps' };
const widgets = { group: 'example.com', version: 'v1', plural: 'widgets' };
const nodes = { group: '', version: 'v1', plural: 'nodes', namespaced: false };

describe('paths', () => {
  it('builds core, group, cluster-scoped and subresource paths', () => {
    expect(resourcePath(cms, 'ns')).toBe('/api/v1/namespaces/ns/configmaps');
    expect(resourcePath(cms, 'ns', 'a')).toBe('/api/v1/namespaces/ns/configmaps/a');
    expect(resourcePath(cms)).toBe('/api/v1/configmaps');
    expect(resourcePath(widgets, 'ns', 'a', 'status')).toBe('/apis/example.com/v1/namespaces/ns/widgets/a/status');
    expect(resourcePath(nodes, 'ignored', 'n1')).toBe('/api/v1/nodes/n1');
    expect(apiVersionOf(widgets)).toBe('example.com/v1');
    expect(apiVersionOf(cms)).toBe('v1');
  });
});

describe('KubeClient over a local HTTP server', () => {
  let server: http.Server;
  let kc: k8s.KubeConfig;
  const seen: Array<{ method: string; url: string; ct?: string; auth?: string; body: string }> = [];
  let respond: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, ct: req.headers['content-type'], auth: req.headers.authorization, body });
        respond(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'sekret' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => (seen.length = 0));

  const json = (res: http.ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  it('sends auth, query, JSON body and content type; counts rest_client_requests_total', async () => {
    const registry = new Registry();
    const c = KubeClient.fromKubeConfig(kc, { registry });
    respond = (req, res) => json(res, 200, { kind: 'ConfigMap', metadata: { name: 'a' }, echo: req.url });
    const out = await c.patch<any>(cms, 'ns', 'a', [{ op: 'add', path: '/x', value: 1 }], PatchType.JsonPatch, { fieldManager: 'me' });
    expect(out.metadata.name).toBe('a');
    expect(seen[0]).toMatchObject({ method: 'PATCH', url: '/api/v1/namespaces/ns/configmaps/a?fieldManager=me', ct: 'application/json-patch+json', auth: 'Bearer sekret' });
    expect(JSON.parse(seen[0].body)).toEqual([{ op: 'add', path: '/x', value: 1 }]);
    const text = await registry.metrics();
    expect(text).toMatch(/rest_client_requests_total\{code="200",method="PATCH",host="127\.0\.0\.1:\d+"\} 1/);
  });

  it('paginates list with limit/continue and keeps the first page RV', async () => {
    const c = KubeClient.fromKubeConfig(kc);
    respond = (req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (!u.searchParams.get('continue')) json(res, 200, { metadata: { resourceVersion: '5', continue: 'tok' }, items: [{ metadata: { name: 'a' } }] });
      else json(res, 200, { metadata: { resourceVersion: '5' }, items: [{ metadata: { name: 'b' } }] });
    };
    const r = await c.list(cms, 'ns', { labelSelector: 'app=x', limit: 1 });
    expect(r.items.map((i) => i.metadata!.name)).toEqual(['a', 'b']);
    expect(r.resourceVersion).toBe('5');
    expect(seen.map((s) => s.url)).toEqual([
      '/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dx&limit=1',
      '/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dx&limit=1&continue=tok',
    ]);
  });

  it('applies a list transform to each page as it arrives, before the next page is asked for', async () => {
    // GIVEN two pages of objects carrying managed fields
    const c = KubeClient.fromKubeConfig(kc);
    respond = (req, res) => {
      const u = new URL(req.url!, 'http://x');
      const page = u.searchParams.get('continue') ? 'b' : 'a';
      json(res, 200, { metadata: { resourceVersion: '5', ...(page === 'a' ? { continue: 'tok' } : {}) }, items: [{ metadata: { name: page, managedFields: [{ manager: 'm' }] } }] });
    };
    // WHEN listed with the informer's transform
    const requestsWhenTransformed: number[] = [];
    const r = await c.list(cms, 'ns', {
      limit: 1,
      transform: (o) => (requestsWhenTransformed.push(seen.length), stripManagedFields(o)),
    });
    // THEN every item comes back transformed, page 1's before page 2 was requested
    expect(r.items).toEqual([{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }]);
    expect(requestsWhenTransformed).toEqual([1, 2]);
  });

  it('turns non-2xx into KubeApiError with code, reason and Retry-After', async () => {
    const c = KubeClient.fromKubeConfig(kc);
    respond = (_req, res) => json(res, 409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'the object has been modified' });
    const e1 = await c.get(cms, 'ns', 'a').catch((e) => e);
    expect(e1).toBeInstanceOf(KubeApiError);
    expect(e1).toBeInstanceOf(k8s.ApiException);
    expect(e1.code).toBe(409);
    expect(e1.message).toBe('GET /api/v1/namespaces/ns/configmaps/a: 409 Conflict the object has been modified');
    expect(isConflict(e1)).toBe(true);
    respond = (_req, res) => json(res, 409, { kind: 'Status', code: 409, reason: 'AlreadyExists', message: 'exists' });
    const e2 = await c.create(cms, 'ns', {}).catch((e) => e);
    expect(isAlreadyExists(e2)).toBe(true);
    expect(isConflict(e2)).toBe(false);
    respond = (_req, res) => json(res, 429, { kind: 'Status', code: 429, reason: 'TooManyRequests' }, { 'retry-after': '3' });
    const e3 = await c.get(cms, 'ns', 'a').catch((e) => e);
    expect(e3.retryAfterMs).toBe(3000);
    respond = (_req, res) => json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    expect(isNotFound(await c.get(cms, 'ns', 'a').catch((e) => e))).toBe(true);
    expect(errorCode(Object.assign(new Error('x'), { statusCode: 410 }))).toBe(410);
  });

  it('VERIFIES the client-node 2.0.1 trap: generated PATCH defaults to JSON Patch; mergePatchOptions() switches to merge patch', async () => {
    respond = (_req, res) => json(res, 200, { metadata: { name: 'a' } });
    const registry = new Registry();
    const api = makeInstrumentedApiClient(kc, k8s.CustomObjectsApi, registry);
    const req = { group: 'example.com', version: 'v1', namespace: 'ns', plural: 'widgets', name: 'a', body: { status: { x: 1 } } };
    await api.patchNamespacedCustomObjectStatus(req);
    await api.patchNamespacedCustomObjectStatus(req, mergePatchOptions());
    expect(seen.map((s) => s.ct)).toEqual(['application/json-patch+json', 'application/merge-patch+json']);
    expect(seen[1].url).toBe('/apis/example.com/v1/namespaces/ns/widgets/a/status');
    expect(seen[1].auth).toBe('Bearer sekret');
    expect(await registry.metrics()).toMatch(/rest_client_requests_total\{code="200",method="PATCH",host="127\.0\.0\.1:\d+"\} 2/);
  });
});
