import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_LABELS, ControllerDeployment } from '../constructs/controller-deployment';
import { ControllerNetworkPolicy } from '../constructs/controller-network-policy';
import { ControllerOptionalObjects } from '../constructs/controller-optional-objects';
import { ControllerRbac } from '../constructs/controller-rbac';
import { OPTIONAL_MONITORING_SINCE, versionAtLeast } from '../releases';
import { MonitoringChart } from './monitoring-chart';
import { bookingApiPorts, clusterScopedName, CONTROLLER_NAME, HEALTH_PORT, METRICS_PORT, OperatorSettings, resolvedImage, validateSettings } from '../settings';

export interface OperatorChartProps {
  readonly settings: OperatorSettings;
  /** Emit the Namespace object (plain manifests: yes; OLM and Pulumi manage it themselves). */
  readonly createNamespace?: boolean;
}

/**
 * The controller and everything it runs with. No chart-level namespace:
 * namespaced objects name theirs explicitly, cluster-scoped ones stay clean.
 */
export class OperatorChart extends Chart {
  public readonly rbac: ControllerRbac;
  public readonly controller: ControllerDeployment;
  /** Undefined when settings.networkPolicy is false. */
  public readonly networkPolicy?: ControllerNetworkPolicy;
  /** From OPTIONAL_MONITORING_SINCE: the ServiceMonitor and PrometheusRule as data the controller applies when monitoring.coreos.com is served. */
  public readonly optionalObjects?: ControllerOptionalObjects;

  constructor(scope: Construct, id: string, props: OperatorChartProps) {
    super(scope, id);
    const s = validateSettings(props.settings);
    if (props.createNamespace ?? true) {
      new kplus.Namespace(this, 'Namespace', {
        metadata: {
          name: s.namespace,
          // The controller's pods meet "restricted"; enforce it so nothing weaker sneaks in.
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      });
    }
    if (versionAtLeast(s.version, OPTIONAL_MONITORING_SINCE)) {
      const monitoring = new MonitoringChart(new App(), 'monitoring');
      this.optionalObjects = new ControllerOptionalObjects(this, 'OptionalObjects', {
        namespace: s.namespace,
        objects: [ApiObject.of(monitoring.serviceMonitor.serviceMonitor), ApiObject.of(monitoring.rules.rule)],
      });
    }
    this.rbac = new ControllerRbac(this, 'Rbac', {
      namespace: s.namespace,
      clusterScopedName: clusterScopedName(s),
      ...(s.watchNamespaces?.length ? { watchNamespaces: s.watchNamespaces } : {}),
      ...(this.optionalObjects ? { optionalObjects: { kinds: this.optionalObjects.kinds, ownerDeployment: CONTROLLER_NAME } } : {}),
    });
    this.controller = new ControllerDeployment(this, 'Controller', {
      namespace: s.namespace,
      image: resolvedImage(s),
      replicas: s.replicas,
      ...(s.workers !== undefined ? { workers: s.workers } : {}),
      serviceAccount: this.rbac.serviceAccount,
      bookingApiUrl: s.bookingApiUrl,
      bookingCredentialsSecret: s.bookingCredentialsSecret,
      version: s.version,
      ...(s.logLevel !== undefined ? { logLevel: s.logLevel } : {}),
      ...(s.imagePullSecrets ? { imagePullSecrets: s.imagePullSecrets } : {}),
      ...(s.resources ? { resources: s.resources } : {}),
      ...(s.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
      ...(s.tolerations ? { tolerations: s.tolerations } : {}),
      ...(s.affinity ? { affinity: s.affinity } : {}),
      ...(s.priorityClassName ? { priorityClassName: s.priorityClassName } : {}),
      ...(s.labels ? { podLabels: s.labels } : {}),
      ...(s.annotations ? { podAnnotations: s.annotations } : {}),
      ...(s.bookingApiProxy ? { proxy: s.bookingApiProxy } : {}),
      ...(s.bookingApiCaConfigMap ? { bookingApiCaConfigMap: s.bookingApiCaConfigMap } : {}),
      ...(s.watchNamespaces?.length ? { watchNamespaces: s.watchNamespaces } : {}),
      ...(this.optionalObjects ? { optionalObjects: this.optionalObjects.configMap } : {}),
    });
    if (s.networkPolicy ?? true) {
      this.networkPolicy = new ControllerNetworkPolicy(this, 'NetworkPolicy', {
        namespace: s.namespace,
        podLabels: CONTROLLER_LABELS,
        ingressPorts: [METRICS_PORT, HEALTH_PORT],
        egress: { ...s.egress, bookingApi: { ...s.egress.bookingApi, ports: bookingApiPorts(s) } },
      });
    }
    addMetadata(this, s.labels, s.annotations);
  }
}

/** Extra labels and annotations on every object of a chart; a label the object already has keeps its value. */
export function addMetadata(chart: Chart, labels: Readonly<Record<string, string>> = {}, annotations: Readonly<Record<string, string>> = {}): void {
  for (const child of chart.node.findAll()) {
    if (!(child instanceof ApiObject)) continue;
    for (const [k, v] of Object.entries(labels)) if (child.metadata.getLabel(k) === undefined) child.metadata.addLabel(k, v);
    for (const [k, v] of Object.entries(annotations)) child.metadata.addAnnotation(k, v);
  }
}
