import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface ControllerServiceMonitorProps {
  /** Namespace of the metrics Service; omitted in the OLM bundle (OLM installs into the operator's namespace). */
  readonly namespace?: string;
  readonly name: string;
  /** Labels of the controller's metrics Service (its selector here) and of this object. */
  readonly serviceLabels: Record<string, string>;
  /** Name of the Service port that serves /metrics. */
  readonly port: string;
  readonly intervalSeconds?: number;
}

/**
 * A prometheus-operator ServiceMonitor (monitoring.coreos.com/v1) for the
 * controller's metrics Service: Prometheus scrapes every replica's /metrics
 * (plain HTTP). The Service's name becomes the `job` label the alert rules
 * and the dashboard select on. Only clusters with the prometheus-operator
 * CRDs accept it.
 */
export class ControllerServiceMonitor extends Construct {
  public readonly serviceMonitor: ApiObject;

  constructor(scope: Construct, id: string, props: ControllerServiceMonitorProps) {
    super(scope, id);
    this.serviceMonitor = new ApiObject(this, 'Resource', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { ...(props.namespace ? { namespace: props.namespace } : {}), name: props.name, labels: props.serviceLabels },
      spec: {
        selector: { matchLabels: props.serviceLabels },
        endpoints: [{ port: props.port, path: '/metrics', scheme: 'http', interval: `${props.intervalSeconds ?? 30}s` }],
      },
    });
  }
}
