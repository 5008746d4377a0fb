import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { CONTROLLER_LABELS } from '../constructs/controller-deployment';
import { ControllerPrometheusRule } from '../constructs/controller-prometheus-rule';
import { ControllerServiceMonitor } from '../constructs/controller-service-monitor';
import { GrafanaDashboard } from '../constructs/grafana-dashboard';
import { addMetadata } from './operator-chart';
import { RELEASE } from '../defaults';
import { CONTROLLER_NAME } from '../settings';

/** The controller's metrics Service (ControllerDeployment): its name is the `job` label of the scraped series. */
export const METRICS_JOB = `${CONTROLLER_NAME}-metrics`;
/** The controller's default --leader-election-id, which the Deployment does not override. */
export const LEADER_LEASE = CONTROLLER_NAME;
export const RUNBOOK_URL = `${RELEASE.repository}/blob/main/docs/runbooks.md`;

export interface MonitoringChartProps {
  /** The controller's namespace; none for the OLM bundle. */
  readonly namespace?: string;
  /** Extra labels and annotations on every object (settings.labels, settings.annotations). */
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Monitoring for the controller: a ServiceMonitor, the alert rules and the
 * Grafana dashboard. A chart of its own (dist/flight-operator-monitoring.k8s.yaml)
 * because the first two need the prometheus-operator CRDs, which a cluster
 * may not have: the operator's own manifests must apply without them.
 */
export class MonitoringChart extends Chart {
  public readonly serviceMonitor: ControllerServiceMonitor;
  public readonly rules: ControllerPrometheusRule;
  public readonly dashboard: GrafanaDashboard;

  constructor(scope: Construct, id: string, props: MonitoringChartProps = {}) {
    super(scope, id);
    const { namespace } = props;
    this.serviceMonitor = new ControllerServiceMonitor(this, 'ServiceMonitor', { namespace, name: CONTROLLER_NAME, serviceLabels: CONTROLLER_LABELS, port: 'metrics' });
    this.rules = new ControllerPrometheusRule(this, 'Rules', {
      namespace,
      name: CONTROLLER_NAME,
      labels: CONTROLLER_LABELS,
      job: METRICS_JOB,
      leaseName: LEADER_LEASE,
      runbookBaseUrl: RUNBOOK_URL,
    });
    this.dashboard = new GrafanaDashboard(this, 'Dashboard', { namespace, name: 'flight-operator-dashboard', labels: CONTROLLER_LABELS, job: METRICS_JOB, leaseName: LEADER_LEASE });
    addMetadata(this, props.labels, props.annotations);
  }
}
