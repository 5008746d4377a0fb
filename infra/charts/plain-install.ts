import { App } from 'cdk8s';
import { OperatorSettings } from '../settings';
import { CrdChart } from './crd-chart';
import { MonitoringChart } from './monitoring-chart';
import { OperatorChart } from './operator-chart';

export interface PlainInstall {
  readonly crd: CrdChart;
  readonly operator: OperatorChart;
  /** Undefined when settings.monitoring is false. */
  readonly monitoring?: MonitoringChart;
}

/**
 * The charts of the plain install (dist/ of `npm run synth`), from one set of
 * settings; the Helm chart (infra/helm/) is rendered from the same charts.
 * Monitoring is a chart of its own: it needs the prometheus-operator CRDs.
 */
export function plainInstall(app: App, settings: OperatorSettings): PlainInstall {
  const crd = new CrdChart(app, 'flightticket-crd');
  const operator = new OperatorChart(app, 'flight-operator', { settings });
  const monitoring =
    (settings.monitoring ?? true)
      ? new MonitoringChart(app, 'flight-operator-monitoring', {
          namespace: settings.namespace,
          ...(settings.labels ? { labels: settings.labels } : {}),
          ...(settings.annotations ? { annotations: settings.annotations } : {}),
        })
      : undefined;
  return { crd, operator, ...(monitoring ? { monitoring } : {}) };
}
