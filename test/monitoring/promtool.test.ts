/**
 * The alert rules (monitoring/flight-operator.rules.yaml, generated from
 * infra/constructs/controller-prometheus-rule.ts, drift-tested in
 * infra/monitoring/files.test.ts) checked by the real promtool, built from
 * the Prometheus Go module (tools/promtool): `check rules` parses and
 * type-checks every expression and template; `test rules` runs
 * test/monitoring/rules/*.test.yaml, which fire and resolve every alert from
 * synthetic series.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { monitoringTool, RULE_TESTS_DIR, RULES_FILE } from './tools';

const promtool = () => path.join(monitoringTool('promtool'), 'promtool');
const run = (args: string[], cwd?: string) => {
  const r = spawnSync(promtool(), args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};
const testFiles = () => readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith('.test.yaml')).map((f) => path.join(RULE_TESTS_DIR, f));

describe('alert rules under promtool', () => {
  test('promtool check rules accepts the rule file and finds every alert', () => {
    const r = run(['check', 'rules', RULES_FILE]);
    expect(r.output).toMatch(/SUCCESS: 7 rules found/);
    expect(r.status).toBe(0);
  });

  test('promtool test rules: every alert fires and resolves as the unit tests expect', () => {
    const r = run(['test', 'rules', ...testFiles()]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.output).not.toMatch(/FAILED/);
    expect(r.status).toBe(0);
  });

  test('the unit tests cover every alert of the rule file, each firing and resolved', () => {
    const alerts = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((x) => x.alert));
    const fired = new Set<string>();
    const quiet = new Set<string>();
    for (const file of testFiles()) {
      const doc = parse(readFileSync(file, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) (a.exp_alerts.length ? fired : quiet).add(a.alertname);
      }
    }
    expect([...new Set(alerts)].sort()).toEqual([...fired].sort());
    expect([...new Set(alerts)].sort()).toEqual([...quiet].sort());
  });

  test('GIVEN a unit test expecting an alert before its `for` has passed THEN promtool test rules fails (the harness can fail)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
    try {
      copyFileSync(RULES_FILE, path.join(dir, 'rules.yaml'));
      const wrong = {
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [{ series: 'workqueue_depth{job="flight-operator-controller-metrics",namespace="flights",name="flightticket"}', values: '150x20' }],
            // Depth is high from minute 0 but the alert has `for: 10m`: nothing fires at 5m.
            alert_rule_test: [{ eval_time: '5m', alertname: 'FlightTicketWorkqueueDepthHigh', exp_alerts: [{ exp_labels: { severity: 'warning', namespace: 'flights' } }] }],
          },
        ],
      };
      writeFileSync(path.join(dir, 'wrong.test.yaml'), JSON.stringify(wrong));
      const r = run(['test', 'rules', 'wrong.test.yaml'], dir);
      expect(r.output).toMatch(/FAILED/);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
