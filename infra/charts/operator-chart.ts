import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_LABELS, ControllerDeployment } from '../constructs/controller-deployment';
import { ControllerNetworkPolicy } from '../constructs/controller-network-policy';
import { ControllerRbac } from '../constructs/controller-rbac';
import { bookingApiPorts, HEALTH_PORT, METRICS_PORT, OperatorSettings, validateSettings } from '../settings';

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
  public readonly networkPolicy: ControllerNetworkPolicy;

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
    this.rbac = new ControllerRbac(this, 'Rbac', { namespace: s.namespace });
    this.controller = new ControllerDeployment(this, 'Controller', {
      namespace: s.namespace,
      image: s.image,
      replicas: s.replicas,
      ...(s.workers !== undefined ? { workers: s.workers } : {}),
      serviceAccount: this.rbac.serviceAccount,
      bookingApiUrl: s.bookingApiUrl,
      bookingCredentialsSecret: s.bookingCredentialsSecret,
      version: s.version,
    });
    this.networkPolicy = new ControllerNetworkPolicy(this, 'NetworkPolicy', {
      namespace: s.namespace,
      podLabels: CONTROLLER_LABELS,
      ingressPorts: [METRICS_PORT, HEALTH_PORT],
      egress: { ...s.egress, bookingApi: { ...s.egress.bookingApi, ports: bookingApiPorts(s) } },
    });
  }
}
