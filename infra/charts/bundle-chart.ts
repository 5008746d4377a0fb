import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { ClusterServiceVersion } from '../constructs/cluster-service-version';
import { FlightTicketCrd } from '../constructs/flightticket-crd';
import { ICON_SVG, RELEASE } from '../defaults';
import { LATEST_RELEASE, MONITORING_SINCE, RELEASES, versionAtLeast } from '../releases';
import { OperatorSettings, validateSettings } from '../settings';
import { SEED_TICKET } from './example-ticket-chart';
import { MonitoringChart } from './monitoring-chart';
import { OperatorChart } from './operator-chart';
import { FlightTicket } from '../imports/flights.com';

/** The first release whose bundle carries the monitoring objects: defined with the releases, where the CSV reads it too. */
export { MONITORING_SINCE } from '../releases';

export interface BundleChartProps {
  readonly settings: OperatorSettings;
}

/**
 * What goes into the OLM bundle's manifests/: the CRD, the CSV, and the
 * supporting objects OLM accepts in a bundle. The Deployment and RBAC are not
 * bundle objects: the CSV carries them, read from an OperatorChart that is
 * built as a model and never synthesized itself.
 */
export class BundleChart extends Chart {
  public readonly csv: ClusterServiceVersion;

  constructor(scope: Construct, id: string, props: BundleChartProps) {
    super(scope, id);
    const settings = validateSettings(props.settings);
    const model = new OperatorChart(new App(), 'model', { settings, createNamespace: false });
    // A version not in infra/releases.ts (a user's own build) is dated like the latest
    // release and replaces nothing: it is a channel of its own (generate.ts channelSettings).
    const release = RELEASES.find((r) => r.version === settings.version);

    new FlightTicketCrd(this, 'FlightTicket', { version: settings.version });
    this.csv = new ClusterServiceVersion(this, 'Csv', {
      settings,
      deployment: model.controller.deployment,
      serviceAccountName: model.rbac.serviceAccount.name,
      clusterRole: model.rbac.clusterRole,
      role: model.rbac.leaderElectionRole,
      optionalObjectsRole: model.rbac.optionalObjectsRole,
      examples: [FlightTicket.manifest(SEED_TICKET)],
      iconSvg: ICON_SVG,
      ...RELEASE,
      createdAt: (release ?? LATEST_RELEASE).createdAt,
      replaces: release?.replaces,
      skipRange: release?.skipRange,
    });
    const monitoring = (settings.monitoring ?? true) && versionAtLeast(settings.version, MONITORING_SINCE) ? new MonitoringChart(new App(), 'monitoring') : undefined;
    // From OPTIONAL_MONITORING_SINCE the ServiceMonitor and PrometheusRule are data in a ConfigMap
    // (model.optionalObjects) that the controller applies: OLM itself only ever meets a ConfigMap.
    const optional = model.optionalObjects;
    const monitoringObjects = !monitoring
      ? {}
      : optional
        ? { OptionalObjects: optional.configMap, Dashboard: monitoring.dashboard.configMap }
        : { ServiceMonitor: monitoring.serviceMonitor.serviceMonitor, PrometheusRule: monitoring.rules.rule, Dashboard: monitoring.dashboard.configMap };
    // OLM installs these into the operator's namespace, so they carry none.
    for (const [name, source] of Object.entries({
      Config: model.controller.config,
      MetricsService: model.controller.metricsService,
      DisruptionBudget: model.controller.disruptionBudget,
      ...(model.networkPolicy ? { NetworkPolicy: model.networkPolicy.policy } : {}),
      ...monitoringObjects,
    })) {
      const json = ApiObject.of(source).toJson();
      delete json.metadata.namespace;
      new ApiObject(this, name, json);
    }
  }
}
