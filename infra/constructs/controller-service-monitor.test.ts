import { Chart, Testing } from 'cdk8s';
import { ControllerServiceMonitor } from './controller-service-monitor';

const LABELS = { 'app.kubernetes.io/name': 'flight-operator-controller' };

function synth(namespace?: string) {
  // GIVEN the metrics Service's labels and port name
  const chart = new Chart(Testing.app(), 'test');
  new ControllerServiceMonitor(chart, 'sm', { namespace, name: 'flight-operator-controller', serviceLabels: LABELS, port: 'metrics' });
  // WHEN synthesized
  return Testing.synth(chart)[0];
}

describe('ControllerServiceMonitor', () => {
  test('THEN it scrapes /metrics on the named port of the Service with the controller labels', () => {
    const sm = synth('ops');
    expect(sm).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { namespace: 'ops', name: 'flight-operator-controller' } });
    expect(sm.spec.selector).toEqual({ matchLabels: LABELS });
    expect(sm.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s' }]);
  });

  test('GIVEN no namespace (the OLM bundle) THEN the object names none', () => {
    expect(synth().metadata.namespace).toBeUndefined();
  });
});
