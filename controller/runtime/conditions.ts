/**
 * metav1.Condition helpers (apimachinery meta.SetStatusCondition semantics).
 *
 * Why: a reconcile that changes nothing must write nothing, or every status
 * write triggers a watch event, which triggers a reconcile, forever.
 * setCondition keeps lastTransitionTime unless `status` flips, and reports
 * whether anything changed; semanticEqual compares whole status objects.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  /** CamelCase machine-readable reason (required by the API, non-empty). */
  reason: string;
  message: string;
  /** RFC 3339 with second precision, as the apiserver stores metav1.Time. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string };

/**
 * metav1.Time wire format: whole seconds. Sub-second values would come back
 * truncated from the apiserver and make every comparison "changed".
 */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isStatusTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === 'True';
}

/**
 * Returns a new list with `cond` set (order preserved, new types appended)
 * and whether anything changed. lastTransitionTime is kept unless the status
 * changes (then it is cond.lastTransitionTime or `now`).
 */
export function setCondition(
  list: readonly Condition[] | undefined,
  cond: ConditionInput,
  now: Date = new Date(),
): { conditions: Condition[]; changed: boolean } {
  const current = list ? [...list] : [];
  const i = current.findIndex((c) => c.type === cond.type);
  if (i < 0) {
    const added: Condition = { ...cond, lastTransitionTime: cond.lastTransitionTime ?? formatTime(now) };
    return { conditions: [...current, clean(added)], changed: true };
  }
  const old = current[i];
  const next: Condition = clean({
    ...cond,
    lastTransitionTime: old.status !== cond.status ? (cond.lastTransitionTime ?? formatTime(now)) : old.lastTransitionTime,
  });
  if (conditionEqual(old, next)) return { conditions: current, changed: false };
  current[i] = next;
  return { conditions: current, changed: true };
}

/** Returns the list without `type`, and whether it was there. */
export function removeCondition(list: readonly Condition[] | undefined, type: string): { conditions: Condition[]; changed: boolean } {
  const current = list ? [...list] : [];
  const next = current.filter((c) => c.type !== type);
  return { conditions: next, changed: next.length !== current.length };
}

export function conditionEqual(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.lastTransitionTime === b.lastTransitionTime &&
    (a.observedGeneration ?? undefined) === (b.observedGeneration ?? undefined)
  );
}

/** Same set of conditions (by type), order ignored. */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const o = findCondition(y, c.type);
    return o !== undefined && conditionEqual(c, o);
  });
}

/**
 * Deep equality for JSON values where an absent key equals `undefined` and
 * `null` (JSON merge patch semantics). Use it to skip no-op status patches.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined) return b === null || b === undefined;
  if (b === null || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => semanticEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!semanticEqual(ao[k], bo[k])) return false;
  return true;
}

function clean(c: Condition): Condition {
  const out: Condition = { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: c.lastTransitionTime };
  if (c.observedGeneration !== undefined) out.observedGeneration = c.observedGeneration;
  return out;
}
