/**
 * Wiring informers to queues: event handlers that only enqueue keys, and
 * update predicates.
 *
 * Why predicates: our own status writes come back as watch updates. Without
 * a filter every status patch triggers another reconcile (self-triggered
 * loops). metadata.generation only moves on spec changes for resources with
 * a status subresource, so "generation changed" skips status-only updates.
 * deletionTimestamp, finalizers, labels and annotations do not always move
 * generation, so the default predicate also looks at those.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { semanticEqual } from './conditions';
import { objectKey, type Informer } from './informer';

export type UpdatePredicate<T> = (oldObj: T, newObj: T) => boolean;

/** True when spec changed (generation moved). Objects without generation: any change. */
export function generationChanged<T extends KubernetesObject>(oldObj: T, newObj: T): boolean {
  const a = oldObj.metadata?.generation;
  const b = newObj.metadata?.generation;
  if (a === undefined || b === undefined) return oldObj.metadata?.resourceVersion !== newObj.metadata?.resourceVersion;
  return a !== b;
}

/** generationChanged, or deletion started, or finalizers/labels/annotations/ownerReferences changed. */
export function specOrMetadataChanged<T extends KubernetesObject>(oldObj: T, newObj: T): boolean {
  const a = oldObj.metadata ?? {};
  const b = newObj.metadata ?? {};
  return (
    generationChanged(oldObj, newObj) ||
    String(a.deletionTimestamp ?? '') !== String(b.deletionTimestamp ?? '') ||
    !semanticEqual(a.finalizers, b.finalizers) ||
    !semanticEqual(a.labels, b.labels) ||
    !semanticEqual(a.annotations, b.annotations) ||
    !semanticEqual(a.ownerReferences, b.ownerReferences)
  );
}

export interface EnqueueOptions<T> {
  /** Filter updates; default specOrMetadataChanged. Adds and deletes always enqueue. */
  updatePredicate?: UpdatePredicate<T>;
  /** Key(s) to enqueue for an object; default objectKey. Return [] to skip. */
  keys?: (obj: T) => string[];
}

/**
 * Subscribes `enqueue` to an informer's add/update/delete. Returns an
 * unsubscribe function. The handlers do nothing but compute keys and enqueue.
 */
export function enqueueOnChange<T extends KubernetesObject>(informer: Informer<T>, enqueue: (key: string) => void, opts: EnqueueOptions<T> = {}): () => void {
  const pred = opts.updatePredicate ?? specOrMetadataChanged;
  const keys = opts.keys ?? ((o: T) => [objectKey(o)]);
  const push = (o: T) => {
    for (const k of keys(o)) enqueue(k);
  };
  const offs = [informer.onAdd(push), informer.onUpdate((a, b) => pred(a, b) && push(b)), informer.onDelete(push)];
  return () => {
    for (const off of offs) off();
  };
}

/**
 * For informers on owned objects (e.g. Secrets a controller creates): map a
 * child to the key of its controller owner of `ownerKind` (same namespace).
 */
export function ownerKeys(ownerKind: string, ownerApiVersion?: string): (obj: KubernetesObject) => string[] {
  return (obj) =>
    (obj.metadata?.ownerReferences ?? [])
      .filter((r) => r.kind === ownerKind && (!ownerApiVersion || r.apiVersion === ownerApiVersion) && r.controller)
      .map((r) => (obj.metadata?.namespace ? `${obj.metadata.namespace}/${r.name}` : r.name));
}
