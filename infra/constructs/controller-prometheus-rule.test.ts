import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { ControllerPrometheusRule, runbookAnchor } from './controller-prometheus-rule';

const RUNBOOKS = join(__dirname, '..', '..', 'docs', 'runbooks.md');

function build(props: { notReadyMinutes?: number; namespace?: string } = {}) {
  // GIVEN the controller's job, Lease and where the runbooks live
  const chart = new Chart(Testing.app(), 'test');
  const c = new ControllerPrometheusRule(chart, 'rules', {
    name: 'flight-operator-controller',
    labels: { app: 'x' },
    job: 'flight-operator-controller-metrics',
    leaseName: 'flight-operator-controller',
    runbookBaseUrl: 'https://example.com/docs/runbooks.md',
    ...props,
  });
  // WHEN synthesized
  return { c, obj: Testing.synth(chart)[0] };
}

describe('ControllerPrometheusRule', () => {
  test('THEN it is a PrometheusRule with the alerts the issue asks for', () => {
    const { obj } = build({ namespace: 'ops' });
    expect(obj).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { namespace: 'ops', name: 'flight-operator-controller' } });
    expect(obj.spec.groups[0].rules.map((r: { alert: string }) => r.alert)).toEqual([
      'FlightTicketNotReady',
      'FlightTicketBookingApiErrors',
      'FlightTicketBookingApiThrottled',
      'FlightTicketReconcileErrors',
      'FlightTicketWorkqueueDepthHigh',
      'FlightTicketWorkqueueLatencyHigh',
      'FlightTicketNoLeader',
    ]);
  });

  test('THEN every selector is scoped to the controller job (other operators export the same generic names)', () => {
    for (const r of build().c.groups[0].rules) {
      const selectors = [...r.expr.matchAll(/[a-z_]+\{([^}]*)\}/g)];
      expect(selectors.length).toBeGreaterThan(0);
      for (const s of selectors) expect(s[1]).toContain('job="flight-operator-controller-metrics"');
    }
  });

  test('THEN every alert links to a section of docs/runbooks.md that exists', () => {
    const headings = new Set([...readFileSync(RUNBOOKS, 'utf8').matchAll(/^## (\S+)$/gm)].map((m) => runbookAnchor(m[1])));
    for (const r of build().c.groups[0].rules) {
      expect(r.annotations.runbook_url).toBe(`https://example.com/docs/runbooks.md#${runbookAnchor(r.alert)}`);
      expect(headings).toContain(runbookAnchor(r.alert));
    }
  });

  test('GIVEN notReadyMinutes 30 THEN FlightTicketNotReady fires past 1800 s, and the summary says 30 minutes', () => {
    const r = build({ notReadyMinutes: 30 }).c.groups[0].rules[0];
    expect(r.expr).toMatch(/> 1800$/);
    expect(r.annotations.summary).toContain('30 minutes');
  });

  test('GIVEN notReadyMinutes 0 THEN it refuses to synthesize', () => {
    expect(() => build({ notReadyMinutes: 0 })).toThrow(/notReadyMinutes must be a whole number >= 1/);
  });

  test('GIVEN no namespace (the OLM bundle) THEN the object names none', () => {
    expect(build().obj.metadata.namespace).toBeUndefined();
  });
});
