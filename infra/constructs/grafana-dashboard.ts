import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface GrafanaDashboardProps {
  /** Namespace of the ConfigMap; omitted in the OLM bundle. */
  readonly namespace?: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  /** The `job` label of the controller's series (the metrics Service's name). */
  readonly job: string;
  /** The leader-election Lease name. */
  readonly leaseName: string;
}

/** Dashboard JSON (Grafana schema 39): only what the panels need. */
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly { readonly title: string; readonly targets: readonly { readonly expr: string; readonly legendFormat: string }[] }[];
  readonly [key: string]: unknown;
}

/**
 * The controller's Grafana dashboard: tickets by Ready reason, the oldest
 * not-Ready ticket, reconcile rate and latency, booking calls by code, queue
 * depth and latency, and who leads. Queries select the controller's `job`
 * and a `$namespace` variable (one installation). Shipped two ways: as
 * dashboards/flight-operator.json (import it in Grafana; written by
 * `npm run synth`) and as a ConfigMap labelled `grafana_dashboard: "1"`, the
 * label Grafana's dashboard sidecar (kube-prometheus-stack) loads.
 */
export class GrafanaDashboard extends Construct {
  public readonly dashboard: Dashboard;
  public readonly configMap: ApiObject;

  constructor(scope: Construct, id: string, props: GrafanaDashboardProps) {
    super(scope, id);
    this.dashboard = flightOperatorDashboard(props.job, props.leaseName);
    this.configMap = new ApiObject(this, 'Resource', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...(props.namespace ? { namespace: props.namespace } : {}), name: props.name, labels: { ...props.labels, grafana_dashboard: '1' } },
      data: { 'flight-operator.json': `${JSON.stringify(this.dashboard, null, 2)}\n` },
    });
  }
}

export function flightOperatorDashboard(job: string, leaseName: string): Dashboard {
  const sel = (extra = '') => `{job="${job}",namespace="$namespace"${extra}}`;
  const q = `,name="flightticket"`;
  const c = `,controller="flightticket"`;
  let id = 0;
  const panel = (title: string, type: string, unit: string, x: number, y: number, w: number, targets: [string, string][], description: string) => ({
    id: ++id,
    title,
    description,
    type,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { x, y, w, h: 8 },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: targets.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat, datasource: { type: 'prometheus', uid: '${datasource}' } })),
  });
  // Every replica reports the same ticket counts from its own cache: max, not sum.
  const panels = [
    panel('Tickets by Ready reason', 'timeseries', 'short', 0, 0, 12, [[`max by (ready, reason) (flightticket_tickets${sel()})`, 'Ready={{ready}} {{reason}}']], 'FlightTickets by Ready condition status and reason.'),
    panel('Oldest not-Ready ticket', 'stat', 's', 12, 0, 6, [[`max(flightticket_not_ready_oldest_seconds${sel()})`, 'oldest']], 'How long the longest-not-Ready ticket has been so (alert FlightTicketNotReady).'),
    panel('Leader', 'stat', 'short', 18, 0, 6, [[`max by (pod) (leader_election_master_status${sel(`,name="${leaseName}"`)})`, '{{pod}}']], '1 on the replica that holds the leader Lease, 0 on standbys.'),
    panel('Reconciles per second by result', 'timeseries', 'reqps', 0, 8, 12, [[`sum by (result) (rate(controller_runtime_reconcile_total${sel(c)}[5m]))`, '{{result}}'], [`sum(rate(controller_runtime_reconcile_errors_total${sel(c)}[5m]))`, 'errors']], 'Reconciles of the leader, by result.'),
    panel('Reconcile latency', 'timeseries', 's', 12, 8, 12, [
      [`histogram_quantile(0.5, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket${sel(c)}[5m])))`, 'p50'],
      [`histogram_quantile(0.99, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket${sel(c)}[5m])))`, 'p99'],
    ], 'Time per reconcile, booking API calls included.'),
    panel('Booking API calls by code', 'timeseries', 'reqps', 0, 16, 12, [[`sum by (operation, code) (rate(booking_api_requests_total${sel()}[5m]))`, '{{operation}} {{code}}']], 'Booking API requests per second by operation and HTTP code (or client error code).'),
    panel('Booking API latency (p99)', 'timeseries', 's', 12, 16, 12, [[`histogram_quantile(0.99, sum by (operation, le) (rate(booking_api_request_duration_seconds_bucket${sel()}[5m])))`, '{{operation}}']], 'Booking API request latency by operation.'),
    panel('Work queue depth', 'timeseries', 'short', 0, 24, 12, [[`max(workqueue_depth${sel(q)})`, 'depth'], [`sum(rate(workqueue_retries_total${sel(q)}[5m]))`, 'retries/s']], 'Tickets waiting for a worker, and retries per second.'),
    panel('Work queue wait (p99)', 'timeseries', 's', 12, 24, 12, [[`histogram_quantile(0.99, sum by (le) (rate(workqueue_queue_duration_seconds_bucket${sel(q)}[5m])))`, 'p99']], 'How long tickets wait in the queue before a worker takes them.'),
  ];
  return {
    uid: 'flight-operator',
    title: 'flight-operator',
    tags: ['flight-operator'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' },
        {
          name: 'namespace',
          label: 'Namespace',
          type: 'query',
          datasource: { type: 'prometheus', uid: '${datasource}' },
          query: { query: `label_values(controller_runtime_reconcile_total{job="${job}"}, namespace)`, refId: 'namespace' },
          refresh: 2,
        },
      ],
    },
    panels,
  };
}
