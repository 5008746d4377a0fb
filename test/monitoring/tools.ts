import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';
import { kubectl } from '../../testenv/kube';

/** tools/ensure.sh <family> for the monitoring families (promtool, prometheus-crds): the folder it prints. */
export function monitoringTool(family: 'promtool' | 'prometheus-crds'): string {
  // stderr to the terminal: a cold build says so and takes minutes.
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'tools', 'ensure.sh'), family], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tools/ensure.sh ${family} failed (exit ${r.status ?? r.signal})`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

export const MONITORING_DIR = path.join(REPO_ROOT, 'monitoring');
export const RULES_FILE = path.join(MONITORING_DIR, 'flight-operator.rules.yaml');
export const RULE_TESTS_DIR = path.join(REPO_ROOT, 'test', 'monitoring', 'rules');

/**
 * Installs the ServiceMonitor and PrometheusRule CRDs of prometheus-operator
 * (tools/prometheus-crds) into the test cluster, server-side, and waits
 * until they are Established. Idempotent: test files may run it together.
 */
export async function installMonitoringCrds(): Promise<void> {
  const dir = path.join(monitoringTool('prometheus-crds'), 'crds');
  const files = ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'];
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=flight-operator-tests', ...files.flatMap((f) => ['-f', path.join(dir, f)])]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
}
