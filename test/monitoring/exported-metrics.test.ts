/**
 * Every query of the Grafana dashboard and every alert expression names a
 * metric the controller really exports: a controller (leader election on,
 * as deployed) books a ticket against the test cluster and the booking
 * service, then its /metrics is scraped and each metric named in a selector
 * must be there (histograms through their _bucket/_sum/_count series), with
 * the label names the selector uses and the controller's own `controller`
 * and `name` label values (queue, controller and Lease names).
 */
import { App } from 'cdk8s';
import { MonitoringChart } from '../../infra/charts/monitoring-chart';
import { waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import type { Child } from '../support/child-process';
import { applyCrd, createTicket, metricsPort, startBookings, startController, waitForReady, type BookingEnv } from '../support/operator-env';

const ns = useNamespace('metrics');
let bookings: BookingEnv;
let controller: Child | undefined;

beforeAll(async () => {
  await applyCrd();
  bookings = await startBookings();
});
afterAll(async () => {
  await controller?.stop();
  await bookings?.service.stop();
});

/** Label values a selector may pin that are the controller's own names, not outcomes (code="429" need not occur in this run). */
const IDENTITY_LABELS = new Set(['controller', 'name']);
/** Added by Prometheus from the target (ServiceMonitor), not by the controller. */
const TARGET_LABELS = new Set(['job', 'namespace', 'pod', 'instance']);

interface Selector {
  metric: string;
  equal: [string, string][];
  names: string[];
}

/** The `metric{...}` selectors of a PromQL expression (all ours carry braces: they select a job). */
function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    const matchers = [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)];
    out.push({
      metric: m[1],
      equal: matchers.filter((x) => x[2] === '=').map((x) => [x[1], x[3]] as [string, string]),
      names: matchers.map((x) => x[1]),
    });
  }
  return out;
}

/** Scraped samples: metric name -> label sets. */
function samples(text: string): Map<string, Record<string, string>[]> {
  const out = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    out.set(m[1], [...(out.get(m[1]) ?? []), labels]);
  }
  return out;
}

test('every dashboard query and alert expression selects a metric (and labels) the running controller exports', async () => {
  // GIVEN a controller as deployed (leader election on) that booked a ticket
  controller = startController({
    namespace: ns.name,
    bookingUrl: bookings.service.url,
    tokenFile: bookings.tokenFile,
    args: ['--leader-elect', `--leader-election-namespace=${ns.name}`, '--metrics-bind-address=127.0.0.1:0'],
  });
  await createTicket(ns.name, 'scraped', { from: 'Cairo', to: 'London', number: 2 });
  await waitForReady(ns.name, 'scraped', 30_000, controller);
  const port = await metricsPort(controller);

  // WHEN its /metrics is scraped (once the ticket gauge shows the Ready ticket)
  const text = await waitFor('flightticket_tickets to count the Ready ticket', async () => {
    const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return t.includes('flightticket_tickets{ready="True",reason="Booked"} 1') ? t : undefined;
  });
  const scraped = samples(text);
  expect(text).toMatch(/^leader_election_master_status\{name="flight-operator-controller"\} 1$/m);

  // THEN every selector of the dashboard and of the rules matches exported series
  const chart = new MonitoringChart(new App(), 'm');
  const exprs = [
    ...chart.dashboard.dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr }))),
    ...chart.rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
  ];
  expect(exprs.length).toBeGreaterThanOrEqual(15);
  const problems: string[] = [];
  const used = new Set<string>();
  for (const { where, expr } of exprs) {
    const sels = selectors(expr);
    if (!sels.length) problems.push(`${where}: no metric selector in ${expr}`);
    for (const s of sels) {
      used.add(s.metric);
      const series = scraped.get(s.metric);
      if (!series) {
        problems.push(`${where}: ${s.metric} is not exported`);
        continue;
      }
      for (const label of s.names.filter((n) => !TARGET_LABELS.has(n))) {
        if (!series.some((l) => label in l)) problems.push(`${where}: ${s.metric} has no label ${label}`);
      }
      for (const [label, value] of s.equal.filter(([n]) => IDENTITY_LABELS.has(n))) {
        if (!series.some((l) => l[label] === value)) problems.push(`${where}: no ${s.metric}{${label}="${value}"} (got ${[...new Set(series.map((l) => l[label]))].join(', ')})`);
      }
    }
  }
  expect(problems).toEqual([]);
  // The dashboard covers what the issue asks for.
  for (const m of ['flightticket_tickets', 'controller_runtime_reconcile_total', 'controller_runtime_reconcile_time_seconds_bucket', 'booking_api_requests_total', 'workqueue_depth', 'leader_election_master_status']) {
    expect(used).toContain(m);
  }
}, 180_000);
