/**
 * Finalizer and status helpers for any resource (group/version/plural).
 *
 * Finalizers are written with a JSON Patch that also `replace`s
 * metadata.resourceVersion with the version we read. The apiserver treats a
 * resourceVersion in the patched object as a precondition, so if our cache
 * is stale the patch fails with 409 Conflict instead of clobbering a list
 * that someone else changed meanwhile (the whole patch is atomic).
 *
 * Why not a `test` op: a failed test makes the apiserver answer 422 Invalid
 * (verified in test/runtime/finalizer.test.ts), which callers would log as a
 * bug instead of a routine "cache was stale, retry" conflict.
 *
 * Status is written as a JSON merge patch on the /status subresource
 * (controllers must not touch spec; /status ignores everything but status).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { PatchType, type JsonPatchOp, type KubeClient, type ResourceType } from './client';

function meta(obj: KubernetesObject): { namespace?: string; name: string; resourceVersion: string; finalizers: string[] } {
  const m = obj.metadata;
  if (!m?.name) throw new Error('object has no metadata.name');
  if (!m.resourceVersion) throw new Error(`${m.name}: no metadata.resourceVersion (read it from the API or cache first)`);
  return { namespace: m.namespace, name: m.name, resourceVersion: m.resourceVersion, finalizers: m.finalizers ?? [] };
}

export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

export function isBeingDeleted(obj: KubernetesObject): boolean {
  return !!obj.metadata?.deletionTimestamp;
}

/** The JSON patch ensureFinalizer sends, or undefined if nothing to do. Exposed for tests and for callers batching ops. */
export function addFinalizerPatch(obj: KubernetesObject, finalizer: string): JsonPatchOp[] | undefined {
  const m = meta(obj);
  if (m.finalizers.includes(finalizer)) return undefined;
  const rv: JsonPatchOp = { op: 'replace', path: '/metadata/resourceVersion', value: m.resourceVersion };
  return obj.metadata?.finalizers
    ? [rv, { op: 'add', path: '/metadata/finalizers/-', value: finalizer }]
    : [rv, { op: 'add', path: '/metadata/finalizers', value: [finalizer] }];
}

/** The JSON patch removeFinalizer sends, or undefined if absent. Removes every occurrence. */
export function removeFinalizerPatch(obj: KubernetesObject, finalizer: string): JsonPatchOp[] | undefined {
  const m = meta(obj);
  if (!m.finalizers.includes(finalizer)) return undefined;
  const ops: JsonPatchOp[] = [{ op: 'replace', path: '/metadata/resourceVersion', value: m.resourceVersion }];
  // Remove from the end so earlier indices stay valid.
  for (let i = m.finalizers.length - 1; i >= 0; i--) if (m.finalizers[i] === finalizer) ops.push({ op: 'remove', path: `/metadata/finalizers/${i}` });
  return ops;
}

/**
 * Adds `finalizer` if missing. Returns the updated object, or undefined when
 * it was already present (no request made). Throws a 409 KubeApiError if
 * `obj` is stale: requeue and try again with fresh data.
 */
export async function ensureFinalizer<T extends KubernetesObject>(
  client: KubeClient,
  rt: ResourceType,
  obj: T,
  finalizer: string,
  opts: { signal?: AbortSignal } = {},
): Promise<T | undefined> {
  const ops = addFinalizerPatch(obj, finalizer);
  if (!ops) return undefined;
  const m = meta(obj);
  return client.patch<T>(rt, m.namespace, m.name, ops, PatchType.JsonPatch, { signal: opts.signal });
}

/**
 * Removes `finalizer` if present. Returns the updated object (possibly
 * already gone server-side if it was the last finalizer of a deleted object),
 * or undefined when absent. A 404 (object already gone) counts as done.
 */
export async function removeFinalizer<T extends KubernetesObject>(
  client: KubeClient,
  rt: ResourceType,
  obj: T,
  finalizer: string,
  opts: { signal?: AbortSignal } = {},
): Promise<T | undefined> {
  const ops = removeFinalizerPatch(obj, finalizer);
  if (!ops) return undefined;
  const m = meta(obj);
  try {
    return await client.patch<T>(rt, m.namespace, m.name, ops, PatchType.JsonPatch, { signal: opts.signal });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/**
 * JSON merge patch of `status` onto the /status subresource. Pass
 * `resourceVersion` to make it conditional (409 if the object changed since);
 * without it the write is last-writer-wins for the fields you send. Arrays
 * (e.g. conditions) are replaced whole; a null value deletes a field.
 */
export async function patchStatus<T extends KubernetesObject>(
  client: KubeClient,
  rt: ResourceType,
  ref: { namespace?: string; name: string },
  status: Record<string, unknown>,
  opts: { resourceVersion?: string; fieldManager?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const body: Record<string, unknown> = { status };
  if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
  return client.patch<T>(rt, ref.namespace, ref.name, body, PatchType.MergePatch, { subresource: 'status', fieldManager: opts.fieldManager, signal: opts.signal });
}
