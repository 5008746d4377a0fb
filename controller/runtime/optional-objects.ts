/**
 * Objects of kinds the cluster may not serve (a CRD someone else installs,
 * e.g. prometheus-operator's ServiceMonitor), kept applied once it does.
 *
 * A package manager that applies them itself fails when the kind is
 * missing (OLM fails the whole InstallPlan), so they travel as plain data
 * (files, e.g. a mounted ConfigMap) and this loop applies them server-side
 * when discovery lists their kind, re-checking every interval: a CRD
 * installed later makes them appear without a reinstall, and an object
 * deleted by hand comes back. Each carries an ownerReference to `owner`
 * (the controller's Deployment), so deleting the owner garbage-collects
 * them. Knows nothing of what the objects are.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubernetesObject } from './client-node';
import { sleep } from './backoff';
import { KubeClient, PatchType, errorCode, isNotFound, resourcePath, type ResourceType } from './client';
import type { Logger } from './logger';

export interface OptionalObjectsOwner {
  readonly apiVersion: string;
  readonly kind: string;
  /** Its API resource, to read its uid. */
  readonly resource: ResourceType;
  readonly name: string;
}

export interface OptionalObjectsOptions {
  readonly client: KubeClient;
  /** Namespaced objects; they go into `namespace` (the owner's), whatever they say. */
  readonly objects: readonly KubernetesObject[];
  readonly namespace: string;
  readonly owner: OptionalObjectsOwner;
  readonly fieldManager: string;
  readonly logger: Logger;
}

export type OptionalObjectState = 'applied' | 'unserved' | 'failed';

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** The `*.json` files of `dir` (a ConfigMap volume's `..data` entries are skipped), each one object, by file name. */
export function readObjectFiles(dir: string): KubernetesObject[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort()
    .map((f) => {
      const o = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as KubernetesObject;
      if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new Error(`${path.join(dir, f)}: not a Kubernetes object (apiVersion, kind and metadata.name are required)`);
      return o;
    });
}

const objectId = (o: KubernetesObject) => `${o.kind}/${o.metadata?.name}`;

/**
 * One pass: discovery for each group/version the objects use (a 404 means
 * not served), then a server-side apply of each object whose kind is
 * served. Returns each object's state; never throws for one object.
 */
export async function syncOptionalObjects(o: OptionalObjectsOptions, signal?: AbortSignal): Promise<Map<string, OptionalObjectState>> {
  const states = new Map<string, OptionalObjectState>();
  if (!o.objects.length) return states;
  const owner = await o.client.get(o.owner.resource, o.namespace, o.owner.name, signal);
  const ownerRef = { apiVersion: o.owner.apiVersion, kind: o.owner.kind, name: o.owner.name, uid: owner.metadata!.uid! };
  const discovered = new Map<string, ApiResource[] | undefined>();
  for (const obj of o.objects) {
    const id = objectId(obj);
    try {
      const gv = obj.apiVersion!;
      if (!discovered.has(gv)) {
        try {
          const list = await o.client.request<{ resources?: ApiResource[] }>({ method: 'GET', path: gv.includes('/') ? `/apis/${gv}` : `/api/${gv}`, signal });
          discovered.set(gv, list.resources ?? []);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          discovered.set(gv, undefined);
        }
      }
      const res = discovered.get(gv)?.find((r) => r.kind === obj.kind && !r.name.includes('/'));
      if (!res) {
        states.set(id, 'unserved');
        continue;
      }
      const [group, version] = gv.includes('/') ? gv.split('/') : ['', gv];
      const body = {
        ...obj,
        metadata: { ...obj.metadata, namespace: res.namespaced ? o.namespace : undefined, ownerReferences: [ownerRef] },
      };
      delete (body.metadata as Record<string, unknown>).resourceVersion;
      await o.client.request({
        method: 'PATCH',
        path: resourcePath({ group, version, plural: res.name, namespaced: res.namespaced }, o.namespace, obj.metadata!.name!),
        body,
        contentType: PatchType.Apply,
        query: { fieldManager: o.fieldManager, force: true },
        signal,
      });
      states.set(id, 'applied');
    } catch (err) {
      if (signal?.aborted) throw err;
      o.logger.warn('optional object not applied; retrying at the next interval', { object: id, err, code: errorCode(err) });
      states.set(id, 'failed');
    }
  }
  return states;
}

/**
 * syncOptionalObjects at start and then every intervalMs until `signal`
 * aborts. Logs each object's state when it changes (so "waiting for the
 * API" is said once, not every interval).
 */
export async function runOptionalObjects(o: OptionalObjectsOptions & { intervalMs: number }, signal: AbortSignal): Promise<void> {
  const last = new Map<string, OptionalObjectState>();
  while (!signal.aborted) {
    try {
      for (const [id, state] of await syncOptionalObjects(o, signal)) {
        if (last.get(id) === state) continue;
        last.set(id, state);
        if (state === 'applied') o.logger.info('optional object applied', { object: id });
        else if (state === 'unserved') o.logger.info('optional object waits: the cluster does not serve its kind', { object: id });
      }
    } catch (err) {
      if (signal.aborted) return;
      o.logger.warn('optional objects: cannot read their owner; retrying at the next interval', { owner: `${o.owner.kind}/${o.owner.name}`, err, code: errorCode(err) });
    }
    await sleep(o.intervalMs, signal);
  }
}
