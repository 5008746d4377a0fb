/**
 * `npm run demo` on the real node, as a person on a machine that can run one
 * sees it: OLM's registry pod runs the catalog image, the Subscription's
 * controller pods run as containers of the pinned image, and the seed's
 * ticket is booked, changed and cancelled by them. It reuses this project's
 * node (FLIGHT_DEMO_NODE=real with the node's kubeconfig and state dir): one
 * node per machine, so the demo must not start a second one here. The kwok
 * path is test/demo/demo.test.ts. Total time to .bench/results/real-node-demo.json.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { kubectl } from '../../testenv/kube';
import { expectDemoSummary, runDemo } from '../support/demo-run';
import { testResultsFile } from '../support/results';
import { crictl, nodeEnv } from './support';

const STEPS = [
  'real node up (control plane, containerd, kubelet) or reused',
  "controller and catalog images pushed by digest into the node's registry",
  'OLM (olm and catalog operators)',
  "CatalogSource READY (OLM's registry pod runs the catalog image)",
  'booking service',
  'namespace, OperatorGroup (OwnNamespace), token Secret, Subscription',
  /^CSV flight-operator\.v\d+\.\d+\.\d+ Succeeded$/,
  'controller pods Ready on the node (containers of the pinned image, probed by kubelet)',
  'my-flight-ticket (Cairo -> London, 2 seats) booked',
  'seat change 2 -> 3',
  'route change London -> Paris',
  'delete the ticket: booking cancelled, ticket gone',
];


test('npm run demo on the real node: the catalog and the controller run as containers, every step of the seed story succeeds, and the demo cleans up', async () => {
  // WHEN the demo runs, told to use this project's node
  const { code, out, seconds } = await runDemo({ FLIGHT_DEMO_NODE: 'real', FLIGHT_KUBECONFIG: process.env.FLIGHT_KUBECONFIG, FLIGHT_NODE_STATE: nodeEnv('FLIGHT_NODE_STATE') });
  // THEN it says where the pods run, and exits 0 with one summary row per step, in order, and "demo OK"
  if (code !== 0) throw new Error(`npm run demo exited ${code}:\n${out}`);
  expect(out).toContain('[demo] pods run on a real node (containerd + kubelet): FLIGHT_DEMO_NODE=real');
  const { table, rows, total } = expectDemoSummary(out, STEPS);
  // What a person reads: the registry pod and both controller pods as containerd containers, and a leader
  expect(out).toMatch(/READY; registry pod flight-operator-demo-\S+ \(containerd:\/\/[0-9a-f]+\)/);
  expect(out).toMatch(/controller pods Ready on the node[^\n]*\n[^\n]*done in [\d.]+s: \S+ \(containerd:\/\/[0-9a-f]+\.\.\.\), \S+ \(containerd:\/\/[0-9a-f]+\.\.\.\); leader \S+/);
  // AND what it created is gone or going, on the cluster and on the node
  const ns = await kubectl(['get', 'namespace', 'flight-demo', '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
  expect(['', 'Terminating']).toContain(ns.stdout.trim());
  expect((await kubectl(['get', 'catalogsource', 'flight-operator-demo', '-n', 'olm', '--ignore-not-found', '-o', 'name'])).stdout.trim()).toBe('');
  const running = (JSON.parse(crictl(['ps', '--label', 'io.kubernetes.pod.namespace=flight-demo', '-o', 'json'])) as { containers: Array<{ state: string }> }).containers;
  await kubectl(['wait', '--for=delete', 'namespace/flight-demo', '--timeout=120s'], { check: false, timeoutMs: 130_000 });
  expect((JSON.parse(crictl(['ps', '--label', 'io.kubernetes.pod.namespace=flight-demo', '-o', 'json'])) as { containers: unknown[] }).containers).toEqual([]);

  writeFileSync(
    testResultsFile('real-node-demo.json'),
    `${JSON.stringify({ date: new Date().toISOString(), what: 'npm run demo on the real node (node reused from the jest project)', totalSeconds: total, wallSeconds: seconds, runningRightAfter: running.length, steps: rows, machine: { cpus: os.cpus().length, loadavg: os.loadavg() } }, null, 2)}\n`,
  );
  process.stderr.write(`\nnpm run demo on the real node: ${total}s\n${table}\n`);
}, 15 * 60_000);
