import { Chart, Testing } from 'cdk8s';
import { GrafanaDashboard } from './grafana-dashboard';

function synth() {
  // GIVEN the controller's job and Lease
  const chart = new Chart(Testing.app(), 'test');
  const d = new GrafanaDashboard(chart, 'd', { namespace: 'ops', name: 'flight-operator-dashboard', labels: { app: 'x' }, job: 'the-job', leaseName: 'the-lease' });
  // WHEN synthesized
  return { d, cm: Testing.synth(chart)[0] };
}

describe('GrafanaDashboard', () => {
  test('THEN it is a ConfigMap the Grafana sidecar loads, holding the dashboard JSON', () => {
    const { d, cm } = synth();
    expect(cm).toMatchObject({ kind: 'ConfigMap', metadata: { namespace: 'ops', name: 'flight-operator-dashboard', labels: { app: 'x', grafana_dashboard: '1' } } });
    expect(JSON.parse(cm.data['flight-operator.json'])).toEqual(d.dashboard);
  });

  test('THEN it has the panels the issue asks for: tickets by Ready reason, reconcile rate and latency, booking calls by code, queue depth, leader', () => {
    const exprOf = (title: string) => synth().d.dashboard.panels.find((p) => p.title === title)?.targets.map((t) => t.expr).join('\n') ?? '';
    expect(exprOf('Tickets by Ready reason')).toMatch(/by \(ready, reason\) \(flightticket_tickets\{/);
    expect(exprOf('Reconciles per second by result')).toMatch(/rate\(controller_runtime_reconcile_total\{/);
    expect(exprOf('Reconcile latency')).toMatch(/controller_runtime_reconcile_time_seconds_bucket\{/);
    expect(exprOf('Booking API calls by code')).toMatch(/by \(operation, code\) \(rate\(booking_api_requests_total\{/);
    expect(exprOf('Work queue depth')).toMatch(/workqueue_depth\{/);
    expect(exprOf('Leader')).toContain('leader_election_master_status{job="the-job",namespace="$namespace",name="the-lease"}');
  });

  test('THEN every query selects the job and the chosen namespace', () => {
    for (const p of synth().d.dashboard.panels) {
      for (const t of p.targets) expect(t.expr).toContain('{job="the-job",namespace="$namespace"');
    }
  });
});
