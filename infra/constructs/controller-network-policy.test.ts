import { Chart, Testing } from 'cdk8s';
import { DEFAULT_EGRESS } from '../defaults';
import type { EgressSettings } from '../settings';
import { ControllerNetworkPolicy } from './controller-network-policy';

const LABELS = { 'app.kubernetes.io/name': 'flight-operator-controller' };

function synth(egress: EgressSettings = { ...DEFAULT_EGRESS, bookingApi: { ...DEFAULT_EGRESS.bookingApi, ports: [8443] } }) {
  // GIVEN the controller's pod labels, its metrics and probe ports and where it may connect to
  const chart = new Chart(Testing.app(), 'test');
  new ControllerNetworkPolicy(chart, 'np', { namespace: 'ops', podLabels: LABELS, ingressPorts: [8080, 8081], egress });
  // WHEN synthesized
  return Testing.synth(chart)[0];
}

describe('ControllerNetworkPolicy', () => {
  test('selects the controller pods and restricts both directions', () => {
    const np = synth();
    // THEN
    expect(np).toMatchObject({ kind: 'NetworkPolicy', metadata: { namespace: 'ops', name: 'flight-operator-controller' } });
    expect(np.spec.podSelector).toEqual({ matchLabels: LABELS });
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  test('lets traffic in only on the metrics and probe ports', () => {
    const np = synth();
    expect(np.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8080 }, { protocol: 'TCP', port: 8081 }] }]);
  });

  test('lets traffic out only to cluster DNS (UDP and TCP 53), the API server (443, 6443) and the booking API port', () => {
    const [dns, api, booking] = synth().spec.egress;
    expect(dns).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    });
    expect(api.ports).toEqual([{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }]);
    expect(booking.ports).toEqual([{ protocol: 'TCP', port: 8443 }]);
    // Every rule names its peers: an egress rule without `to` would allow every destination on its ports.
    for (const rule of [dns, api, booking]) expect(rule.to.length).toBeGreaterThan(0);
  });

  test('GIVEN narrowed peers THEN the rules carry exactly them', () => {
    const apiServer = { to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [6443] };
    const bookingApi = { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'booking' } } }], ports: [8080] };
    const [, api, booking] = synth({ ...DEFAULT_EGRESS, apiServer, bookingApi }).spec.egress;
    expect(api).toEqual({ to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [{ protocol: 'TCP', port: 6443 }] });
    expect(booking.to).toEqual(bookingApi.to);
  });

  test('GIVEN no booking API port THEN it refuses to synthesize an egress rule without ports (which would allow them all)', () => {
    expect(() => synth(DEFAULT_EGRESS)).toThrow(/egress.bookingApi.ports is empty/);
  });
});
