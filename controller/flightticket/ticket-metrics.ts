/**
 * Ticket gauges for dashboards and alerts, computed at scrape time from the
 * informer caches (every replica has them, leader or not, so every replica
 * reports the same numbers; queries take max over the pods).
 *
 * flightticket_tickets{ready,reason}: tickets by their Ready condition
 *   (status True/False/Unknown and reason; a ticket without a Ready condition
 *   yet counts as ready="Unknown", reason="NoCondition").
 * flightticket_not_ready_oldest_seconds: how long the ticket that has been
 *   not Ready the longest has been so (since its Ready condition's
 *   lastTransitionTime, or its creation when it has none); 0 when all are Ready.
 */
import type { Registry } from 'prom-client';
import type { Condition } from '../runtime/conditions';
import { findCondition } from '../runtime/conditions';
import { getOrCreateGauge } from '../runtime/metrics';

/** The part of a cached ticket the gauges read. */
export interface CachedTicket {
  metadata?: { creationTimestamp?: string | Date };
  status?: { conditions?: Condition[] };
}

const parse = (t: string | Date | undefined): number | undefined => {
  if (t === undefined) return undefined;
  const ms = new Date(t).getTime();
  return Number.isNaN(ms) ? undefined : ms;
};

export function ticketMetrics(registry: Registry, list: () => readonly CachedTicket[], now: () => number = Date.now): void {
  getOrCreateGauge(registry, {
    name: 'flightticket_tickets',
    help: 'FlightTickets in the cache by Ready condition status and reason.',
    labelNames: ['ready', 'reason'] as const,
    collect() {
      // Reset first: a reason no ticket has any more must disappear, not stay at its last count.
      this.reset();
      const counts = new Map<string, { ready: string; reason: string; n: number }>();
      for (const t of list()) {
        const c = findCondition(t.status?.conditions, 'Ready');
        const ready = c?.status ?? 'Unknown';
        const reason = c?.reason || 'NoCondition';
        const k = `${ready}\u0000${reason}`;
        const e = counts.get(k) ?? { ready, reason, n: 0 };
        e.n++;
        counts.set(k, e);
      }
      for (const { ready, reason, n } of counts.values()) this.set({ ready, reason }, n);
    },
  });
  getOrCreateGauge(registry, {
    name: 'flightticket_not_ready_oldest_seconds',
    help: 'Seconds the longest-not-Ready FlightTicket has been not Ready (since its Ready condition last changed, or its creation); 0 when all are Ready.',
    collect() {
      const t = now();
      let oldest = 0;
      for (const ticket of list()) {
        const c = findCondition(ticket.status?.conditions, 'Ready');
        if (c?.status === 'True') continue;
        const since = parse(c?.lastTransitionTime) ?? parse(ticket.metadata?.creationTimestamp);
        if (since !== undefined) oldest = Math.max(oldest, (t - since) / 1000);
      }
      this.set(oldest);
    },
  });
}
