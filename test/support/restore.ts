/**
 * What the restore tests measure and do the way a user would: the booking
 * service's record of every booking (to count what a restore created,
 * cancelled or changed) and of the HTTP calls that could change one, and the
 * export / strip / re-apply of tickets.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { Booking } from '../../controller/booking/client';
import { ADOPT_ANNOTATION, EXTERNAL_NAME_ANNOTATION } from '../../controller/flightticket/ticket';
import { kubectl, waitFor } from '../../testenv/kube';
import type { Child } from './child-process';
import { waitForReady, type BookingEnv, type Ticket } from './operator-env';

/** The tickets both restore tests book before the restore: mixed routes, seat counts and spellings. */
export const RESTORE_TICKETS: Array<[string, { from: string; to: string; number: number }]> = [
  ['cairo-london', { from: 'Cairo', to: 'London', number: 2 }],
  ['paris-rome', { from: 'Paris', to: 'Rome', number: 4 }],
  ['tokyo-sydney', { from: 'Tokyo', to: 'Sydney', number: 1 }],
  ['mixed-case', { from: 'new york', to: 'TORONTO', number: 3 }],
  ['ten-seats', { from: 'Doha', to: 'Delhi', number: 10 }],
];

/** Every booking the service holds, by id. */
export function allBookings(env: BookingEnv): Map<string, Booking> {
  const out = new Map<string, Booking>();
  let afterSeq: number | undefined;
  for (;;) {
    const page = env.service.store.list({ limit: 1000, ...(afterSeq !== undefined ? { afterSeq } : {}) });
    for (const b of page.items) out.set(b.id, b);
    if (!page.more) return out;
    afterSeq = page.lastSeq;
  }
}

export interface BookingDiff {
  created: Booking[];
  cancelled: Booking[];
  /** Active before and after, but changed (version went up): seats, orphaned, owner. */
  changed: Array<{ before: Booking; after: Booking }>;
}

export function diffBookings(before: Map<string, Booking>, after: Map<string, Booking>): BookingDiff {
  const diff: BookingDiff = { created: [], cancelled: [], changed: [] };
  for (const [id, b] of after) {
    const was = before.get(id);
    if (!was) diff.created.push(b);
    else if (was.state === 'active' && b.state === 'cancelled') diff.cancelled.push(b);
    else if (b.version !== was.version) diff.changed.push({ before: was, after: b });
  }
  return diff;
}

/** booking_http_requests_total of the calls that can change a booking, by "METHOD route", from the service's /metrics. */
export async function writeCalls(env: BookingEnv): Promise<Record<string, number>> {
  const token = readFileSync(env.tokenFile, 'utf8').trim();
  const res = await fetch(`${env.service.url}/metrics`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  // Never read "no calls" out of a page that is not the metrics (a 401 once made every count 0).
  if (res.status !== 200 || !text.includes('# TYPE booking_http_requests_total counter')) throw new Error(`booking service /metrics: ${res.status} ${text.slice(0, 200)}`);
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^booking_http_requests_total\{method="([A-Z]+)",route="([^"]+)",code="\d+"\} (\d+)/gm)) {
    if (m[1] === 'GET') continue;
    const k = `${m[1]} ${m[2]}`;
    out[k] = (out[k] ?? 0) + Number(m[3]);
  }
  return out;
}

/** What changed between two writeCalls() readings (only non-zero entries). */
export function callDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/**
 * `kubectl get ft -A -o yaml`, stripped as docs/backup-restore.md tells a
 * user to (the fields the API server owns: uid, resourceVersion,
 * creationTimestamp, generation, managedFields, status), optionally marked
 * flights.com/adopt=true. Annotations, flights.com/external-name among them, stay.
 */
export function stripExport(exported: string, opts: { adopt?: boolean; only?: string[] } = {}): string {
  const list = parse(exported) as { items: Array<{ metadata: Record<string, unknown> & { name: string; annotations?: Record<string, string> }; status?: unknown }> };
  const items = list.items
    .filter((t) => !opts.only || opts.only.includes(t.metadata.name))
    .map((t) => {
      const { uid: _u, resourceVersion: _r, creationTimestamp: _c, generation: _g, managedFields: _m, ...metadata } = t.metadata;
      const annotations = { ...t.metadata.annotations, ...(opts.adopt ? { [ADOPT_ANNOTATION]: 'true' } : {}) };
      const { status: _s, ...rest } = t;
      return { ...rest, metadata: { ...metadata, annotations } };
    });
  return stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** Sum of one counter over the label sets whose text includes every `match`, from a controller's /metrics. */
export async function counter(port: number, name: string, ...match: string[]): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !match.every((m) => line.includes(m))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The uid of kube-system: the controller's cluster identity. */
export async function kubeSystemUid(): Promise<string> {
  return (await kubectl(['get', 'namespace', 'kube-system', '-o', 'jsonpath={.metadata.uid}'])).stdout.trim();
}

/** Ready for its current generation and its booking recorded in flights.com/external-name (the write right after the Ready status). */
export function waitForBooked(namespace: string, name: string, controller: Child): Promise<Ticket> {
  return waitFor(
    `${namespace}/${name} Ready with its booking recorded in ${EXTERNAL_NAME_ANNOTATION}`,
    async () => {
      const t = await waitForReady(namespace, name, 60_000, controller);
      return t.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION] === t.status?.bookingRef ? t : undefined;
    },
    { timeoutMs: 60_000 },
  );
}
