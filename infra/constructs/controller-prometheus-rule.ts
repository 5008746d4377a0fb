import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface ControllerPrometheusRuleProps {
  /** Namespace of the controller; omitted in the OLM bundle (OLM installs into the operator's namespace). */
  readonly namespace?: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  /** The `job` label of the controller's series: the metrics Service's name (the ServiceMonitor's default). */
  readonly job: string;
  /** The leader-election Lease name (the controller's --leader-election-id). */
  readonly leaseName: string;
  /** FlightTicketNotReady fires once a ticket has been not Ready this long. Default 15. */
  readonly notReadyMinutes?: number;
  /** Where docs/runbooks.md is published; each alert links to its section. */
  readonly runbookBaseUrl: string;
}

/** One alerting rule as Prometheus reads it (rule file format). */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'warning' | 'critical' };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

/** The anchor of an alert's section in docs/runbooks.md (a `## <AlertName>` heading). */
export const runbookAnchor = (alert: string) => alert.toLowerCase();

/**
 * The controller's alerts, as a prometheus-operator PrometheusRule
 * (monitoring.coreos.com/v1). Every expression uses only series the
 * controller exports (controller/) under its own `job`, because the generic
 * names (workqueue_depth, controller_runtime_*) are shared with other
 * operators. Results are per namespace: prometheus-operator adds the
 * target's namespace label, one label value per installation.
 * Each alert carries a runbook_url to its section in docs/runbooks.md.
 */
export class ControllerPrometheusRule extends Construct {
  public readonly rule: ApiObject;
  /** The rule groups, also what `promtool check rules` / `test rules` read. */
  public readonly groups: { name: string; rules: AlertRule[] }[];

  constructor(scope: Construct, id: string, props: ControllerPrometheusRuleProps) {
    super(scope, id);
    const minutes = props.notReadyMinutes ?? 15;
    if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`ControllerPrometheusRule: notReadyMinutes must be a whole number >= 1, got ${minutes}`);
    const j = `job="${props.job}"`;
    const alert = (name: string, severity: AlertRule['labels']['severity'], expr: string, forDuration: string, summary: string, description: string): AlertRule => ({
      alert: name,
      expr,
      for: forDuration,
      labels: { severity },
      annotations: { summary, description, runbook_url: `${props.runbookBaseUrl}#${runbookAnchor(name)}` },
    });
    const rules = [
      alert(
        'FlightTicketNotReady',
        'warning',
        `max by (namespace) (flightticket_not_ready_oldest_seconds{${j}}) > ${minutes * 60}`,
        '1m',
        `A FlightTicket has not been Ready for more than ${minutes} minutes.`,
        `In namespace {{ $labels.namespace }} the oldest not-Ready FlightTicket has been so for {{ $value | humanizeDuration }}. ` +
          '`kubectl get ft -A` shows which (Status column: the Ready reason).',
      ),
      alert(
        'FlightTicketBookingApiErrors',
        'warning',
        `sum by (namespace) (rate(booking_api_requests_total{${j},outcome!="success",code!="429"}[5m]))\n` +
          `  / sum by (namespace) (rate(booking_api_requests_total{${j}}[5m])) > 0.25`,
        '10m',
        'More than 25% of booking API calls fail.',
        '{{ $value | humanizePercentage }} of the booking API calls of the controller in {{ $labels.namespace }} failed over the last 5 minutes, for 10 minutes.',
      ),
      alert(
        'FlightTicketBookingApiThrottled',
        'warning',
        `sum by (namespace) (rate(booking_api_requests_total{${j},code="429"}[5m])) > 0`,
        '15m',
        'The booking API keeps answering 429 Too Many Requests.',
        'The booking API has throttled the controller in {{ $labels.namespace }} continuously for 15 minutes ({{ $value | printf "%.2f" }} 429s per second).',
      ),
      alert(
        'FlightTicketReconcileErrors',
        'warning',
        `sum by (namespace) (rate(controller_runtime_reconcile_errors_total{${j},controller="flightticket"}[5m])) > 0`,
        '15m',
        'FlightTicket reconciles keep failing.',
        'Reconciles of the controller in {{ $labels.namespace }} have failed continuously for 15 minutes ({{ $value | printf "%.2f" }} errors per second).',
      ),
      alert(
        'FlightTicketWorkqueueDepthHigh',
        'warning',
        `max by (namespace) (workqueue_depth{${j},name="flightticket"}) > 100`,
        '10m',
        'The FlightTicket work queue holds more than 100 tickets.',
        'The work queue of the controller in {{ $labels.namespace }} has held more than 100 tickets for 10 minutes ({{ $value }} now): work arrives faster than it is done.',
      ),
      alert(
        'FlightTicketWorkqueueLatencyHigh',
        'warning',
        `histogram_quantile(0.99, sum by (namespace, le) (rate(workqueue_queue_duration_seconds_bucket{${j},name="flightticket"}[5m]))) > 5`,
        '15m',
        'Tickets wait more than 5 seconds in the work queue.',
        '99% of the tickets of the controller in {{ $labels.namespace }} waited up to {{ $value | humanizeDuration }} in the queue before a worker took them, for 15 minutes.',
      ),
      alert(
        'FlightTicketNoLeader',
        'critical',
        `max by (namespace) (leader_election_master_status{${j},name="${props.leaseName}"}) < 1\n` +
          `or absent(leader_election_master_status{${j},name="${props.leaseName}"})`,
        '5m',
        'No FlightTicket controller replica is leader: nothing is reconciled.',
        'No replica of the controller{{ with $labels.namespace }} in {{ . }}{{ end }} has held the leader Lease for 5 minutes (or none is scraped at all). Tickets are not booked, changed or cancelled.',
      ),
    ];
    this.groups = [{ name: 'flight-operator', rules }];
    this.rule = new ApiObject(this, 'Resource', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { ...(props.namespace ? { namespace: props.namespace } : {}), name: props.name, labels: props.labels },
      spec: { groups: this.groups },
    });
  }
}
