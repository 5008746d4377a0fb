import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_NAME, EgressTarget, NetworkPeer } from '../settings';

export interface ControllerNetworkPolicyProps {
  readonly namespace: string;
  /** Labels of the controller's pods (the Deployment's selector). */
  readonly podLabels: Record<string, string>;
  /** Ports others may connect to: metrics (Prometheus) and the health probes (kubelet). */
  readonly ingressPorts: readonly number[];
  /** DNS (TCP and UDP), the API server and the booking API; nothing else leaves the pod. */
  readonly egress: { readonly dns: EgressTarget; readonly apiServer: EgressTarget; readonly bookingApi: EgressTarget };
}

const peers = (to: readonly NetworkPeer[]) => to.map((p) => structuredClone(p) as kplus.k8s.NetworkPolicyPeer);
const tcp = (ports: readonly number[]) => ports.map((port) => ({ protocol: 'TCP', port: kplus.k8s.IntOrString.fromNumber(port) }));

/**
 * The controller's NetworkPolicy: default-deny in both directions for its
 * pods, then ingress only on the metrics and probe ports and egress only to
 * DNS, the API server and the booking API. Only clusters whose network
 * plugin enforces NetworkPolicy apply it; elsewhere it is inert.
 */
export class ControllerNetworkPolicy extends Construct {
  public readonly policy: kplus.k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: ControllerNetworkPolicyProps) {
    super(scope, id);
    const { dns, apiServer, bookingApi } = props.egress;
    if (!bookingApi.ports.length) throw new Error('ControllerNetworkPolicy: egress.bookingApi.ports is empty (resolve it with bookingApiPorts())');
    this.policy = new kplus.k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: { namespace: props.namespace, name: CONTROLLER_NAME, labels: props.podLabels },
      spec: {
        podSelector: { matchLabels: props.podLabels },
        policyTypes: ['Ingress', 'Egress'],
        // No `from`: any source, but only these ports.
        ingress: [{ ports: tcp(props.ingressPorts) }],
        egress: [
          { to: peers(dns.to), ports: [...dns.ports.map((port) => ({ protocol: 'UDP', port: kplus.k8s.IntOrString.fromNumber(port) })), ...tcp(dns.ports)] },
          { to: peers(apiServer.to), ports: tcp(apiServer.ports) },
          { to: peers(bookingApi.to), ports: tcp(bookingApi.ports) },
        ],
      },
    });
  }
}
