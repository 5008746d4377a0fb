/**
 * `npm run demo` end to end, as a user runs it, against the test control
 * plane (FLIGHT_KUBECONFIG makes it reuse the cluster instead of starting
 * one): every step succeeds, the summary table lists them, and what the demo
 * created is gone afterwards. Its total time goes to .bench/results/demo.json (npm test leaves bench/results/ alone).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubeconfigPath, kubectl } from '../../testenv/kube';
import { expectDemoSummary, runDemo } from '../support/demo-run';
import { testResultsFile } from '../support/results';

const STEPS = [
  'control plane up (or reused)',
  'OLM (olm and catalog operators) and our catalog (opm serve olm-bundle/catalog)',
  'CatalogSource READY',
  'booking service',
  'namespace, OperatorGroup (OwnNamespace), token Secret, Subscription',
  /^CSV flight-operator\.v\d+\.\d+\.\d+ Succeeded$/,
  'controller pods running (the bundled controller, one process per pod, as its ServiceAccount)',
  'my-flight-ticket (Cairo -> London, 2 seats) booked',
  'seat change 2 -> 3',
  'route change London -> Paris',
  'delete the ticket: booking cancelled, ticket gone',
];


test('npm run demo: every step of the seed story succeeds, is timed, and the demo cleans up after itself', async () => {
  // WHEN the demo runs against the test cluster
  // kwok, said explicitly: the real node belongs to the real-node project (one per machine; test/real-node/demo.test.ts).
  const { code, out, seconds } = await runDemo({ FLIGHT_KUBECONFIG: kubeconfigPath(), FLIGHT_DEMO_NODE: 'kwok' });
  // THEN it exits 0 with one summary row per step, in order, and "demo OK"
  if (code !== 0) throw new Error(`npm run demo exited ${code}:\n${out}`);
  expect(out).toContain('[demo] pods run as host processes beside a kwok control plane (its pods never run): FLIGHT_DEMO_NODE=kwok');
  const { table, rows, total } = expectDemoSummary(out, STEPS);
  // Each step printed a progress line when it started and when it was done
  for (const s of STEPS.filter((x): x is string => typeof x === 'string')) expect(out).toContain(`] ${s} ...`);
  expect(out.match(/\]\s+done in [\d.]+s: /g)).toHaveLength(STEPS.length);
  // AND what it created in the reused cluster is gone or going
  const ns = await kubectl(['get', 'namespace', 'flight-demo', '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
  expect(['', 'Terminating']).toContain(ns.stdout.trim());
  expect((await kubectl(['get', 'catalogsource', 'flight-operator-demo', '-n', 'olm', '--ignore-not-found', '-o', 'name'])).stdout.trim()).toBe('');

  const result = { date: new Date().toISOString(), what: 'npm run demo on a reused control plane (cluster step reuses; OLM started by the demo)', totalSeconds: total, wallSeconds: seconds, steps: rows, machine: { cpus: os.cpus().length, loadavg: os.loadavg() }, test: 'test/demo/demo.test.ts' };
  const file = testResultsFile('demo.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`\nnpm run demo: ${total}s\n${table}\n`);
}, 15 * 60_000);
