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
  resourcePath,
} from './client';
import { makeInstrumentedApiClient, mergePatchOptions } from './typed-client';
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

const kcOptions = (port: number, path = '') => ({
  clusters: [{ name: 'c', server: `http://127.0.0.1:${port}${path}`, skipTLSVerify: true }],
  contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
  currentContext: 'c',
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
    kc.loadFromOptions({ ...kcOptions(port), users: [{ name: 'u', token: 'sekret' }] });
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

  it('asks client-node for the auth once per authTtlMs, not per request', async () => {
    // GIVEN a client whose auth is good for a minute
    const spy = jest.spyOn(kc, 'applySecurityAuthentication');
    try {
      const c = KubeClient.fromKubeConfig(kc, { authTtlMs: 60_000 });
      respond = (_req, res) => json(res, 200, { metadata: { name: 'a' } });
      // WHEN it sends five requests, three of them at once
      await c.get(cms, 'ns', 'a');
      await Promise.all([c.get(cms, 'ns', 'a'), c.get(cms, 'ns', 'b'), c.create(cms, 'ns', {})]);
      await c.get(cms, 'ns', 'a');
      // THEN every one carried the token, and client-node was asked once
      expect(seen.map((s) => s.auth)).toEqual(Array(5).fill('Bearer sekret'));
      expect(spy).toHaveBeenCalledTimes(1);
      // AND with authTtlMs 0 it is asked for every request, as client-node itself does
      const every = KubeClient.fromKubeConfig(kc, { authTtlMs: 0 });
      await every.get(cms, 'ns', 'a');
      await every.get(cms, 'ns', 'a');
      expect(spy).toHaveBeenCalledTimes(3);
    } finally {
      spy.mockRestore();
    }
  });

  it('a 401 asks for the auth again and resends once when the credentials changed (an exec token expired, a token rotated)', async () => {
    const user = kc.getCurrentUser() as { token?: string };
    let accepted = 'Bearer sekret';
    respond = (req, res) => (req.headers.authorization === accepted ? json(res, 200, { metadata: { name: 'a' } }) : json(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }));
    const registry = new Registry();
    const c = KubeClient.fromKubeConfig(kc, { registry, authTtlMs: 60_000 });
    try {
      await c.get(cms, 'ns', 'a');
      // WHEN the credentials change while the client still holds the old ones
      user.token = 'rotated';
      accepted = 'Bearer rotated';
      // THEN the request succeeds on its second try, with the new token
      await expect(c.get(cms, 'ns', 'a')).resolves.toEqual({ metadata: { name: 'a' } });
      expect(seen.map((s) => s.auth)).toEqual(['Bearer sekret', 'Bearer sekret', 'Bearer rotated']);
      // AND a 401 with unchanged credentials fails after one request, as before
      seen.length = 0;
      accepted = 'Bearer nobody';
      const e = await c.get(cms, 'ns', 'a').catch((err) => err);
      expect(e).toBeInstanceOf(KubeApiError);
      expect(e.code).toBe(401);
      expect(seen).toHaveLength(1);
      expect(await registry.metrics()).toMatch(/rest_client_requests_total\{code="401",method="GET",host="[^"]+"\} 1/);
    } finally {
      user.token = 'sekret';
    }
  });

  it('a caller abort, a timeout and a refused connection reject the request; the next one goes through', async () => {
    const registry = new Registry();
    const c = KubeClient.fromKubeConfig(kc, { registry });
    respond = (req, res) => (req.url!.includes('hang') ? undefined : json(res, 200, { metadata: { name: 'a' } }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const aborted = await c.get(cms, 'ns', 'hang', ac.signal).catch((e) => e);
    expect(aborted.name).toBe('AbortError');
    const timedOut = await c.get(cms, 'ns', 'hang', AbortSignal.timeout(100)).catch((e) => e);
    expect(timedOut.name).toBe('TimeoutError');
    await expect(c.get(cms, 'ns', 'a')).resolves.toEqual({ metadata: { name: 'a' } });
    expect(await registry.metrics()).toMatch(/rest_client_requests_total\{code="<error>",method="GET",host="[^"]+"\} 2/);

    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const nowhere = new k8s.KubeConfig();
    nowhere.loadFromOptions({ ...kcOptions(port), users: [{ name: 'u', token: 't' }] });
    expect((await KubeClient.fromKubeConfig(nowhere).get(cms, 'ns', 'a').catch((e) => e)).code).toBe('ECONNREFUSED');
  });

  it('keeps a path prefix of the server URL and joins repeated response headers like fetch', async () => {
    const prefixed = new k8s.KubeConfig();
    const port = (server.address() as AddressInfo).port;
    prefixed.loadFromOptions({ ...kcOptions(port, '/k8s/clusters/c1/'), users: [{ name: 'u', token: 'sekret' }] });
    respond = (_req, res) => {
      res.writeHead(429, [['content-type', 'application/json'], ['retry-after', '2'], ['x-a', '1'], ['x-a', '2']]);
      res.end(JSON.stringify({ kind: 'Status', code: 429, reason: 'TooManyRequests' }));
    };
    const e = await KubeClient.fromKubeConfig(prefixed).list(cms, 'ns', { labelSelector: 'a=b c' }).catch((err) => err);
    expect(seen[0].url).toBe('/k8s/clusters/c1/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db+c&limit=500');
    expect(e.retryAfterMs).toBe(2000);
    expect(e.headers['x-a']).toBe('1, 2');
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
