/**
 * In-memory fake of the apiserver's REST semantics, for unit tests only.
 *
 * Why: the interesting bugs in controllers are about concurrency control
 * (stale resourceVersion -> 409), patch semantics and deletion with
 * finalizers. A fake that enforces those catches them without a cluster.
 * Implements: create (AlreadyExists), get, list (labelSelector a=b[,c=d]),
 * replace (409 on stale resourceVersion), patch (JSON patch incl. `test`,
 * JSON merge patch; 409 if the patched object names a stale resourceVersion;
 * /status subresource), delete (finalizers -> deletionTimestamp), watch
 * subscribers, and fault injection. Not a full apiserver: no validation,
 * no field selectors, no server-side apply.
 */
import { KubeClient, resourcePath, type RequestOptions, type ResourceType, type TransportResponse } from '../../controller/runtime/client';
import type { ListerWatcher, WatchEventType } from '../../controller/runtime/informer';

type Obj = Record<string, any>;
type Req = RequestOptions & { bodyText?: string };

interface Parsed {
  collection: string; // path of the collection incl. namespace
  namespace?: string;
  name?: string;
  subresource?: string;
}

function parsePath(path: string): Parsed {
  const seg = path.split('/').filter(Boolean);
  // api/v1/... or apis/g/v/...
  const base = seg[0] === 'api' ? 2 : 3;
  const rest = seg.slice(base);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = decodeURIComponent(rest[1]);
    rest.splice(0, 2);
  }
  const collection = '/' + [...seg.slice(0, base), ...(namespace ? ['namespaces', namespace] : []), rest[0]].join('/');
  return { collection, namespace, name: rest[1] !== undefined ? decodeURIComponent(rest[1]) : undefined, subresource: rest[2] };
}

function status(code: number, reason: string, message: string, extra: Obj = {}): TransportResponse {
  return { status: code, headers: {}, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, ...extra }) };
}
const ok = (obj: unknown, code = 200): TransportResponse => ({ status: code, headers: {}, body: JSON.stringify(obj) });
const clone = <T>(o: T): T => structuredClone(o);

function pointer(path: string): string[] {
  return path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 subset: add, remove, replace, test. Throws on failure (-> 422, as the apiserver). */
export function applyJsonPatch(doc: Obj, ops: Array<{ op: string; path: string; value?: unknown }>): Obj {
  const out = clone(doc);
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop()!;
    let parent: any = out;
    for (const p of parts) {
      parent = Array.isArray(parent) ? parent[Number(p)] : parent?.[p];
      if (parent === undefined || parent === null) throw new Error(`path ${op.path} not found`);
    }
    const isArr = Array.isArray(parent);
    const idx = last === '-' ? parent.length : Number(last);
    switch (op.op) {
      case 'test': {
        const cur = isArr ? parent[idx] : parent[last];
        if (JSON.stringify(cur) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
        break;
      }
      case 'add':
        if (isArr) parent.splice(idx, 0, clone(op.value));
        else parent[last] = clone(op.value);
        break;
      case 'replace':
        if (isArr ? idx >= parent.length : !(last in parent)) throw new Error(`replace: ${op.path} missing`);
        if (isArr) parent[idx] = clone(op.value);
        else parent[last] = clone(op.value);
        break;
      case 'remove':
        if (isArr ? idx >= parent.length : !(last in parent)) throw new Error(`remove: ${op.path} missing`);
        if (isArr) parent.splice(idx, 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`op ${op.op} unsupported by the fake`);
    }
  }
  return out;
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Obj = target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as Obj) : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

export interface FakeWatchEvent {
  type: WatchEventType;
  object: Obj;
}

export class FakeApiServer {
  private rv = 100;
  private uid = 0;
  private readonly store = new Map<string, Map<string, Obj>>(); // collection -> name -> obj
  private readonly watchers = new Set<{ collection: string; cb: (e: FakeWatchEvent) => void }>();
  /** Every request seen, for assertions. */
  readonly requests: Array<{ method: string; path: string; contentType?: string; body?: unknown; query?: Obj }> = [];
  /** Return a response to short-circuit a request (fault injection), or undefined to proceed. */
  interceptor?: (req: Req) => TransportResponse | undefined | Promise<TransportResponse | undefined>;
  now: () => Date = () => new Date();

  /** A KubeClient whose transport is this fake. */
  client(): KubeClient {
    return new KubeClient((req) => this.handle(req));
  }

  /** Direct write, bypassing the REST layer (test setup). */
  seed(rt: ResourceType, obj: Obj): Obj {
    const col = resourcePath(rt, obj.metadata?.namespace);
    return this.createIn(col, clone(obj));
  }

  /** Current stored object (a copy). */
  getObject(rt: ResourceType, namespace: string | undefined, name: string): Obj | undefined {
    const o = this.store.get(resourcePath(rt, namespace))?.get(name);
    return o && clone(o);
  }

  listObjects(rt: ResourceType, namespace?: string): Obj[] {
    return [...(this.store.get(resourcePath(rt, namespace))?.values() ?? [])].map(clone);
  }

  /** An informer ListerWatcher backed by this fake (events from every write). */
  listerWatcher<T>(rt: ResourceType, namespace?: string): ListerWatcher<T> {
    const collection = resourcePath(rt, namespace);
    return {
      list: async () => ({ items: this.listObjects(rt, namespace) as T[], resourceVersion: String(this.rv) }),
      watch: async (_opts, onEvent) => {
        const w = { collection, cb: (e: FakeWatchEvent) => onEvent(e.type, clone(e.object)) };
        this.watchers.add(w);
        return () => void this.watchers.delete(w);
      },
    };
  }

  async handle(req: Req): Promise<TransportResponse> {
    const body = req.bodyText !== undefined ? JSON.parse(req.bodyText) : undefined;
    this.requests.push({ method: req.method, path: req.path, contentType: req.contentType, body, query: req.query });
    const injected = await this.interceptor?.(req);
    if (injected) return injected;
    const p = parsePath(req.path);
    const col = this.store.get(p.collection);
    const existing = p.name !== undefined ? col?.get(p.name) : undefined;
    switch (req.method) {
      case 'GET': {
        if (p.name === undefined) {
          const sel = String(req.query?.labelSelector ?? '');
          const items = [...(col?.values() ?? [])].filter((o) => matchLabels(o, sel));
          return ok({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
        }
        return existing ? ok(existing) : status(404, 'NotFound', `${p.name} not found`);
      }
      case 'POST': {
        const name = body?.metadata?.name ?? (body?.metadata?.generateName ? `${body.metadata.generateName}${(++this.uid).toString(36)}` : undefined);
        if (!name) return status(422, 'Invalid', 'metadata.name required');
        if (col?.has(name)) return status(409, 'AlreadyExists', `${name} already exists`);
        body.metadata.name = name;
        if (p.namespace) body.metadata.namespace = p.namespace;
        return ok(this.createIn(p.collection, body), 201);
      }
      case 'PUT': {
        if (!existing) return status(404, 'NotFound', `${p.name} not found`);
        const rv = body?.metadata?.resourceVersion;
        if (rv && rv !== existing.metadata.resourceVersion) return conflict(p.name!);
        return ok(this.write(p, existing, body));
      }
      case 'PATCH': {
        if (!existing) return status(404, 'NotFound', `${p.name} not found`);
        let patched: Obj;
        try {
          if (req.contentType === 'application/json-patch+json') patched = applyJsonPatch(existing, body);
          else if (req.contentType === 'application/merge-patch+json') patched = applyMergePatch(existing, body) as Obj;
          else return status(415, 'UnsupportedMediaType', `${req.contentType} unsupported by the fake`);
        } catch (err) {
          return status(422, 'Invalid', (err as Error).message);
        }
        const rv = patched.metadata?.resourceVersion;
        if (rv && rv !== existing.metadata.resourceVersion) return conflict(p.name!);
        return ok(this.write(p, existing, patched));
      }
      case 'DELETE': {
        if (!existing) return status(404, 'NotFound', `${p.name} not found`);
        if (existing.metadata.finalizers?.length) {
          if (!existing.metadata.deletionTimestamp) {
            const next = clone(existing);
            next.metadata.deletionTimestamp = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
            this.bump(next);
            col!.set(p.name!, next);
            this.emit(p.collection, 'MODIFIED', next);
          }
          return ok(col!.get(p.name!));
        }
        col!.delete(p.name!);
        this.bump(existing);
        this.emit(p.collection, 'DELETED', existing);
        return ok({ kind: 'Status', status: 'Success' });
      }
    }
    return status(405, 'MethodNotAllowed', req.method);
  }

  private createIn(collection: string, obj: Obj): Obj {
    obj.metadata = obj.metadata ?? {};
    obj.metadata.uid = obj.metadata.uid ?? `uid-${++this.uid}`;
    obj.metadata.creationTimestamp = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
    obj.metadata.generation = 1;
    this.bump(obj);
    let col = this.store.get(collection);
    if (!col) this.store.set(collection, (col = new Map()));
    col.set(obj.metadata.name, obj);
    this.emit(collection, 'ADDED', obj);
    return clone(obj);
  }

  /** Stores `next` (main resource ignores status changes; /status changes only status). */
  private write(p: Parsed, existing: Obj, next: Obj): Obj {
    let stored: Obj;
    if (p.subresource === 'status') {
      stored = clone(existing);
      stored.status = next.status;
    } else {
      stored = clone(next);
      if (existing.status !== undefined) stored.status = existing.status;
      else delete stored.status;
      stored.metadata = { ...next.metadata, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp };
      if (JSON.stringify(next.spec) !== JSON.stringify(existing.spec)) stored.metadata.generation = (existing.metadata.generation ?? 1) + 1;
      else stored.metadata.generation = existing.metadata.generation;
    }
    const col = this.store.get(p.collection)!;
    if (stored.metadata.deletionTimestamp && !stored.metadata.finalizers?.length) {
      col.delete(p.name!);
      this.bump(stored);
      this.emit(p.collection, 'DELETED', stored);
      return clone(stored);
    }
    this.bump(stored);
    col.set(p.name!, stored);
    this.emit(p.collection, 'MODIFIED', stored);
    return clone(stored);
  }

  private bump(obj: Obj): void {
    obj.metadata.resourceVersion = String(++this.rv);
  }

  private emit(collection: string, type: WatchEventType, obj: Obj): void {
    for (const w of this.watchers) {
      // A cluster-wide watcher sees every namespace of the same resource.
      const clusterWide = collection.replace(/\/namespaces\/[^/]+/, '');
      if (w.collection === collection || w.collection === clusterWide) w.cb({ type, object: obj });
    }
  }
}

function conflict(name: string): TransportResponse {
  return status(409, 'Conflict', `Operation cannot be fulfilled on ${name}: the object has been modified; please apply your changes to the latest version and try again`);
}

function matchLabels(o: Obj, selector: string): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return o.metadata?.labels?.[k.trim()] === v?.trim();
  });
}
