import { createRegistry } from '../runtime/metrics';
import { ticketMetrics, type CachedTicket } from './ticket-metrics';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ready = (status: 'True' | 'False' | 'Unknown', reason: string, since: string): CachedTicket => ({
  metadata: { creationTimestamp: '2026-01-01T10:00:00Z' },
  status: { conditions: [{ type: 'Ready', status, reason, message: '', lastTransitionTime: since }] },
});

async function scrape(tickets: CachedTicket[]) {
  const registry = createRegistry({ defaultMetrics: false });
  const cache = { tickets };
  ticketMetrics(registry, () => cache.tickets, () => NOW);
  return { text: () => registry.metrics(), cache };
}

describe('ticket gauges', () => {
  test('GIVEN tickets in several Ready states WHEN scraped THEN they are counted by ready status and reason', async () => {
    const s = await scrape([
      ready('True', 'Booked', '2026-01-01T11:00:00Z'),
      ready('True', 'Booked', '2026-01-01T11:00:00Z'),
      ready('False', 'SoldOut', '2026-01-01T11:50:00Z'),
      { metadata: { creationTimestamp: '2026-01-01T11:59:00Z' } },
    ]);
    const text = await s.text();
    expect(text).toContain('flightticket_tickets{ready="True",reason="Booked"} 2');
    expect(text).toContain('flightticket_tickets{ready="False",reason="SoldOut"} 1');
    expect(text).toContain('flightticket_tickets{ready="Unknown",reason="NoCondition"} 1');
  });

  test('GIVEN a ticket not Ready for 10 minutes and one without conditions for 1 minute THEN the oldest not-Ready age is 600 s', async () => {
    const s = await scrape([ready('True', 'Booked', '2026-01-01T08:00:00Z'), ready('False', 'SoldOut', '2026-01-01T11:50:00Z'), { metadata: { creationTimestamp: '2026-01-01T11:59:00Z' } }]);
    expect(await s.text()).toContain('flightticket_not_ready_oldest_seconds 600');
  });

  test('GIVEN every ticket Ready THEN the oldest not-Ready age is 0', async () => {
    const s = await scrape([ready('True', 'Booked', '2026-01-01T08:00:00Z')]);
    expect(await s.text()).toContain('flightticket_not_ready_oldest_seconds 0');
  });

  test('GIVEN a reason no ticket has any more WHEN scraped again THEN its series is gone', async () => {
    const s = await scrape([ready('False', 'SoldOut', '2026-01-01T11:50:00Z')]);
    expect(await s.text()).toContain('reason="SoldOut"');
    s.cache.tickets = [ready('True', 'Booked', '2026-01-01T11:55:00Z')];
    const text = await s.text();
    expect(text).not.toContain('reason="SoldOut"');
    expect(text).toContain('flightticket_tickets{ready="True",reason="Booked"} 1');
  });
});
