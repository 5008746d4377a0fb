/**
 * KubeClient: a small REST client for ANY resource, addressed by
 * group/version/plural, on top of client-node's auth and undici (see kubeConfigTransport).
 *
 * Why not only the generated client-node APIs:
 * - CustomObjectsApi builds /apis/{group}/... so it cannot reach core
 *   resources (ConfigMaps, Events); the typed APIs cannot reach CRs. The
 *   informer, finalizer, events and leader election code must be generic.
 * - The generated (de)serializer turns MicroTime fields (Lease renewTime) into
 *   Dates on the way out and leaves them as strings on the way in; raw JSON
 *   keeps the wire format under our control.
 * - One place to count rest_client_requests_total and to turn HTTP failures
 *   into errors that carry `code`, `reason` and Retry-After.
 *
 * Transport is the seam for tests: a function from request to status+body.
 */
import { ApiException, HttpMethod, KubeConfig, RequestContext, type KubernetesObject } from './client-node';
import { createHash } from 'node:crypto';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import type { Registry } from 'prom-client';
import { flatHeaders, USER_AGENT } from './headers';
import { restClientMetrics, type RestClientMetrics } from './metrics';

/** Identifies a resource collection. group '' = core (/api/v1). */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  /** Default true. */
  namespaced?: boolean;
}

export type HttpVerb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method: HttpVerb;
  /** Absolute API path, e.g. /api/v1/namespaces/x/configmaps. */
  path: string;
  query?: Query;
  /** Serialized as JSON unless already a string. */
  body?: unknown;
  /** Default application/json when there is a body. */
  contentType?: string;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Transport = (req: RequestOptions & { bodyText?: string }) => Promise<TransportResponse>;

/** The content types the apiserver accepts for PATCH. */
export const PatchType = {
  JsonPatch: 'application/json-patch+json',
  MergePatch: 'application/merge-patch+json',
  StrategicMergePatch: 'application/strategic-merge-patch+json',
  Apply: 'application/apply-patch+yaml',
} as const;
export type PatchType = (typeof PatchType)[keyof typeof PatchType];

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

/**
 * A failed API call. Extends client-node's ApiException so `err.code` works
 * the same as for the generated clients.
 */
export class KubeApiError extends ApiException<unknown> {
  /** metav1.Status reason, e.g. NotFound, Conflict, AlreadyExists, Expired. */
  readonly reason?: string;
  /** From Retry-After (seconds) or Status.details.retryAfterSeconds. */
  readonly retryAfterMs?: number;

  constructor(code: number, message: string, body: unknown, headers: Record<string, string>) {
    super(code, message, body, headers);
    // ApiException's constructor builds its own verbose message; keep ours.
    this.message = message;
    this.name = 'KubeApiError';
    const status = body as { reason?: string; details?: { retryAfterSeconds?: number } } | undefined;
    this.reason = typeof status?.reason === 'string' ? status.reason : undefined;
    const ra = Number(headers['retry-after'] ?? status?.details?.retryAfterSeconds);
    if (Number.isFinite(ra) && ra >= 0) this.retryAfterMs = ra * 1000;
  }
}

/** HTTP status of any client-node / KubeClient / Watch error, else undefined. */
export function errorCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; body?: { code?: unknown } } | null | undefined;
  for (const v of [e?.code, e?.statusCode, e?.body?.code]) if (typeof v === 'number') return v;
  return undefined;
}
export const isNotFound = (err: unknown) => errorCode(err) === 404;
/** 409 because of a stale resourceVersion (not AlreadyExists). */
export const isConflict = (err: unknown) => errorCode(err) === 409 && (err as KubeApiError).reason !== 'AlreadyExists';
export const isAlreadyExists = (err: unknown) => errorCode(err) === 409 && (err as KubeApiError).reason === 'AlreadyExists';
export const isGone = (err: unknown) => errorCode(err) === 410;

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** /api/v1/... or /apis/group/version/..., with optional namespace, name and subresource. */
export function resourcePath(rt: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  if ((rt.namespaced ?? true) && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${rt.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface KubeClientOptions {
  /** Count requests as rest_client_requests_total{code,method,host}. */
  registry?: Registry;
  /** Host label for metrics (default: from the kubeconfig's server). */
  host?: string;
  /** See KubeConfigTransportOptions.authTtlMs (fromKubeConfig only). */
  authTtlMs?: number;
}

export class KubeClient {
  private readonly metrics?: RestClientMetrics;
  private readonly host: string;

  /** Prefer KubeClient.fromKubeConfig; this constructor is the test seam. */
  constructor(
    private readonly transport: Transport,
    opts: KubeClientOptions = {},
    /** Kept so watch-based code (informers) can reuse the same credentials. */
    readonly kubeConfig?: KubeConfig,
  ) {
    this.metrics = opts.registry ? restClientMetrics(opts.registry) : undefined;
    this.host = opts.host ?? 'fake';
  }

  static fromKubeConfig(kc: KubeConfig, opts: KubeClientOptions = {}): KubeClient {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    return new KubeClient(kubeConfigTransport(kc, { authTtlMs: opts.authTtlMs }), { host: new URL(cluster.server).host, ...opts }, kc);
  }

  /** Raw call. Resolves with the parsed JSON body; throws KubeApiError on non-2xx. */
  async request<T = unknown>(opts: RequestOptions): Promise<T> {
    const bodyText = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const start = performance.now();
    let res: TransportResponse;
    try {
      res = await this.transport({ ...opts, bodyText, contentType: opts.contentType ?? (bodyText !== undefined ? 'application/json' : undefined) });
    } catch (err) {
      this.metrics?.observe(opts.method, this.host, '<error>', (performance.now() - start) / 1000);
      throw err;
    }
    this.metrics?.observe(opts.method, this.host, res.status, (performance.now() - start) / 1000);
    let parsed: unknown = undefined;
    if (res.body) {
      try {
        parsed = JSON.parse(res.body);
      } catch {
        parsed = res.body;
      }
    }
    if (res.status < 200 || res.status > 299) {
      const st = parsed as { message?: string; reason?: string } | undefined;
      const detail = typeof st === 'object' && st?.message ? `${st.reason ?? ''} ${st.message}`.trim() : String(parsed ?? '').slice(0, 200);
      throw new KubeApiError(res.status, `${opts.method} ${opts.path}: ${res.status} ${detail}`, parsed, res.headers);
    }
    return parsed as T;
  }

  get<T = KubernetesObject>(rt: ResourceType, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>({ method: 'GET', path: resourcePath(rt, namespace, name), signal });
  }

  /** One page of a list; pass `continue` from the previous page's metadata. */
  listPage<T = KubernetesObject>(
    rt: ResourceType,
    namespace: string | undefined,
    query: Query = {},
    signal?: AbortSignal,
  ): Promise<{ items: T[]; metadata?: { resourceVersion?: string; continue?: string } }> {
    return this.request({ method: 'GET', path: resourcePath(rt, namespace), query, signal });
  }

  /** All pages (limit 500 per page, like client-go's pager). */
  async list<T = KubernetesObject>(
    rt: ResourceType,
    namespace?: string,
    opts: {
      labelSelector?: string;
      fieldSelector?: string;
      limit?: number;
      signal?: AbortSignal;
      /**
       * Applied to each page's items as the page arrives, so only the
       * transformed objects pile up: with 50,000 objects the raw list (managed
       * fields and all) did not fit beside the cache in a 160 MiB heap (docs/scale.md).
       */
      transform?: (item: T) => T;
    } = {},
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.listPage<T>(
        rt,
        namespace,
        { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit ?? 500, continue: cont },
        opts.signal,
      );
      for (const item of page.items ?? []) items.push(opts.transform ? opts.transform(item) : item);
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  create<T = KubernetesObject>(rt: ResourceType, namespace: string | undefined, body: unknown, query?: Query): Promise<T> {
    return this.request<T>({ method: 'POST', path: resourcePath(rt, namespace), body, query });
  }

  /** PUT: optimistic concurrency via body.metadata.resourceVersion (409 if stale). */
  replace<T = KubernetesObject>(rt: ResourceType, namespace: string | undefined, name: string, body: unknown, subresource?: string): Promise<T> {
    return this.request<T>({ method: 'PUT', path: resourcePath(rt, namespace, name, subresource), body });
  }

  patch<T = KubernetesObject>(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType,
    opts: { subresource?: string; fieldManager?: string; force?: boolean; signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.request<T>({
      method: 'PATCH',
      path: resourcePath(rt, namespace, name, opts.subresource),
      body: patch,
      contentType: type,
      query: { fieldManager: opts.fieldManager, force: opts.force },
      signal: opts.signal,
    });
  }

  delete<T = unknown>(rt: ResourceType, namespace: string | undefined, name: string, body?: unknown): Promise<T> {
    return this.request<T>({ method: 'DELETE', path: resourcePath(rt, namespace, name), body });
  }
}

/** Options of kubeConfigTransport. */
export interface KubeConfigTransportOptions {
  /**
   * How long the headers and connection pool that client-node's auth produced
   * are reused before it is asked again (default 5 000 ms; 0 = every request,
   * as client-node itself does). A 401 always asks again at once.
   */
  authTtlMs?: number;
}

/** What client-node's auth gives one request: headers (token, impersonation) and the pool to send on. */
interface Auth {
  headers: Record<string, string>;
  dispatcher: Dispatcher;
  /** The shared pool (retired on a timeout or network error); false for undici's global dispatcher. */
  pooled: boolean;
  expiresAt: number;
}

/**
 * Transport over client-node's auth (certs, tokens, exec plugins) and one
 * shared undici Agent, sending with `dispatcher.request()`.
 *
 * Two costs of the plain client-node path are gone (with the other HTTP
 * client's fetch, about a fifth of the controller's CPU under a burst in a
 * profile: docs/scale.md, the CPU section):
 * - client-node 2.0.1 builds a NEW undici Agent for every request
 *   (KubeConfig.applySecurityAuthentication -> createDispatcher) and reads the
 *   CA / certificate / key files again. Reusing those Agents would mean one TLS
 *   connection per request idling in its own pool: under a burst hundreds of
 *   sockets and ~150 MiB of native memory (measured with bench/controller.ts).
 *   So we keep one Agent while the TLS material stays the same (a changed
 *   certificate gets a new one), and ask client-node for the auth at most every
 *   `authTtlMs`, not per request. What that can delay: a rotated token or
 *   certificate file is seen up to authTtlMs later (client-node's own token
 *   file auth re-reads the file only every 60 s anyway), an exec plugin's
 *   expired credential is replaced up to authTtlMs late: a 401 therefore asks
 *   client-node again and, when the credentials changed, sends the request once
 *   more (a 401 is decided before the apiserver does anything with it).
 * - undici's WHATWG fetch (Request, Response, Headers, web streams) around
 *   what is one HTTP/1.1 exchange with a string body each way.
 * Differences from fetch on the wire: no `Accept-Encoding` (the apiserver
 *   gzips only responses over 128 KiB; in-cluster, not compressing costs less
 *   CPU on both ends) and redirects are not followed (the apiserver sends none
 *   for API paths; a 3xx becomes a KubeApiError like any non-2xx).
 */
export function kubeConfigTransport(kc: KubeConfig, opts: KubeConfigTransportOptions = {}): Transport {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const authTtlMs = opts.authTtlMs ?? 5_000;
  const base = new URL(cluster.server);
  const origin = base.origin;
  const prefix = base.pathname.replace(/\/+$/, '');
  let shared: { key: string; dispatcher: Dispatcher } | undefined;
  let auth: Auth | undefined;
  let refreshing: Promise<Auth> | undefined;

  /** client-node's auth for one throw-away request context, mapped onto the shared Agent. */
  const applyAuth = async (): Promise<Auth> => {
    const ctx = new RequestContext(`${cluster.server}/`, HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    const fresh = ctx.getDispatcher();
    let dispatcher: Dispatcher;
    if (fresh) {
      const key = await tlsFingerprint(kc);
      if (shared?.key === key) {
        void fresh.close(); // never connected: closing is free
      } else {
        const old = shared;
        shared = { key, dispatcher: fresh };
        if (old) void old.dispatcher.close(); // lets requests in progress finish
      }
      dispatcher = shared.dispatcher;
    } else {
      dispatcher = getGlobalDispatcher(); // what fetch used when client-node gave no dispatcher
    }
    return { headers: { ...ctx.getHeaders() }, dispatcher, pooled: fresh !== undefined, expiresAt: performance.now() + authTtlMs };
  };
  /** One refresh at a time: callers arriving meanwhile wait for it. */
  const refresh = (): Promise<Auth> => {
    refreshing ??= applyAuth().then(
      (a) => {
        refreshing = undefined;
        return (auth = a);
      },
      (err: unknown) => {
        refreshing = undefined;
        throw err;
      },
    );
    return refreshing;
  };
  /** The auth to send with: the last one while it is fresh and its pool not retired, else a new one. */
  const current = (): Auth | Promise<Auth> =>
    auth && performance.now() < auth.expiresAt && (!auth.pooled || auth.dispatcher === shared?.dispatcher) ? auth : refresh();

  /**
   * Stop handing out `failed`'s connections without aborting anything on it:
   * requests in progress there finish (close() is graceful), new ones dial a
   * fresh pool. Needed because undici does NOT drop the socket of a request
   * that timed out: measured through a frozen TCP proxy, the next request
   * reused the same dead socket and hung too. The backstop destroy() only
   * runs long after every bounded request on it has ended.
   */
  const retire = (failed: Dispatcher) => {
    if (shared?.dispatcher !== failed) return; // already retired
    shared = undefined;
    void failed.close().catch(() => undefined);
    setTimeout(() => void failed.destroy().catch(() => undefined), 120_000).unref();
  };

  const send = async (req: RequestOptions & { bodyText?: string }, path: string, a: Auth): Promise<TransportResponse> => {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT };
    if (req.bodyText !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    Object.assign(headers, a.headers); // auth last, as client-node's setHeaderParam after ours did
    try {
      const res = await a.dispatcher.request({ origin, path, method: req.method, headers, body: req.bodyText, signal: req.signal });
      const body = await res.body.text();
      return { status: res.statusCode, headers: flatHeaders(res.headers), body };
    } catch (err) {
      // A timeout or a network error may mean a half-dead socket: retire its
      // pool (gracefully, see retire). A caller's own abort (a reconcile
      // stopped on lease loss) says nothing about the connection.
      const callerAborted = req.signal?.aborted && (req.signal.reason as Error | undefined)?.name !== 'TimeoutError';
      if (a.pooled && !callerAborted) {
        retire(a.dispatcher);
        if (auth === a) auth = undefined;
      }
      throw err;
    }
  };

  return async (req) => {
    let qs = '';
    if (req.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) q.set(k, String(v));
      qs = q.toString();
    }
    const path = `${prefix}${req.path}${qs ? `?${qs}` : ''}`;
    const a = await current();
    const res = await send(req, path, a);
    if (res.status !== 401 || authTtlMs <= 0) return res;
    // Maybe credentials that expired since we asked client-node (exec plugin, rotated token): ask again.
    if (auth === a) auth = undefined;
    const again = await refresh();
    if (sameHeaders(again.headers, a.headers) && again.dispatcher === a.dispatcher) return res;
    return send(req, path, again);
  };
}



function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** What decides the TLS connection: CA, client certificate and key, server name. */
async function tlsFingerprint(kc: KubeConfig): Promise<string> {
  const opts: { ca?: unknown; cert?: unknown; key?: unknown; servername?: string; rejectUnauthorized?: boolean } = {};
  // applyOptions is private in the typings but is what applySecurityAuthentication itself calls.
  await (kc as unknown as { applyOptions(o: object): Promise<void> }).applyOptions(opts);
  return createHash('sha256')
    .update(JSON.stringify([kc.getCurrentCluster()?.server, String(opts.ca ?? ''), String(opts.cert ?? ''), String(opts.key ?? ''), opts.servername, opts.rejectUnauthorized]))
    .digest('hex');
}
