/**
 * SingleNamespace on a real OLM v0.46: the operator in one namespace, the
 * OperatorGroup targeting another. From 0.4.0 the CSV's ticket and event
 * rules are `permissions`, so the ServiceAccount may touch tickets in the
 * target namespace (OLM copies the Role there, operatorgroup.go
 * ensureTenantRBAC) and nowhere else; the controller (run by pod-runner as
 * that ServiceAccount) watches exactly the target (WATCH_NAMESPACE from
 * olm.targetNamespaces) and its cache syncs with those rights.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleController } from '../../image/controller-image';
import { LATEST_RELEASE } from '../../infra/releases';
import { kubectl } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { startPodRunner, type PodRunner } from '../support/pod-runner';
import { createCatalogSource, getOlmObject, startOlm, waitWithOlm, type OlmEnv } from './olm-env';

const PACKAGE = 'flight-operator';
const CSV = `flight-operator.v${LATEST_RELEASE.version}`;
const operatorNs = useNamespace('olm-single-op');
const target = useNamespace('olm-single-target');
const other = useNamespace('olm-single-other');
let olm: OlmEnv;
let runner: PodRunner | undefined;
let work: string;
const catalog = `flight-operator-${Date.now().toString(36)}`;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'olm-single-'));
  const bundle = path.join(work, 'controller.js');
  writeFileSync(bundle, (await bundleController()).js);
  olm = await startOlm();
  await createCatalogSource(olm, catalog, { displayName: 'Flight Operator (install modes test)' });
  runner = await startPodRunner({ namespace: operatorNs.name, selector: 'app.kubernetes.io/name=flight-operator-controller', bundle });
}, 45 * 60_000);

afterAll(async () => {
  await runner?.stop().catch(() => undefined);
  if (olm) {
    try {
      await kubectl(['delete', 'subscription', PACKAGE, '-n', operatorNs.name, '--ignore-not-found', '--wait=false'], { check: false });
      await kubectl(['delete', 'csv', CSV, '-n', operatorNs.name, '--ignore-not-found', '--timeout=60s'], { check: false, timeoutMs: 70_000 });
      await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `olm.owner=${CSV},olm.owner.namespace=${operatorNs.name}`, '--ignore-not-found'], { check: false });
      await kubectl(['delete', 'catalogsource', catalog, '-n', olm.namespace, '--ignore-not-found', '--wait=false'], { check: false });
    } finally {
      await olm.stop();
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

test(`SingleNamespace: ${CSV} Succeeded; its ServiceAccount may touch tickets in the target namespace only, and the controller watches exactly it`, async () => {
  // GIVEN an OperatorGroup in the operator's namespace that targets another one
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: PACKAGE, namespace: operatorNs.name }, spec: { targetNamespaces: [target.name] } }),
  });
  // WHEN subscribing
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'Subscription',
      metadata: { name: PACKAGE, namespace: operatorNs.name },
      spec: { name: PACKAGE, channel: 'stable', source: catalog, sourceNamespace: olm.namespace, installPlanApproval: 'Automatic' },
    }),
  });
  // THEN the head installs
  await waitWithOlm(
    olm,
    `CSV ${CSV} Succeeded`,
    async () => {
      const c = await getOlmObject('clusterserviceversions', operatorNs.name, CSV);
      if (c?.status?.phase === 'Failed') throw new Error(`CSV Failed: ${c.status.reason}: ${c.status.message}`);
      return c?.status?.phase === 'Succeeded';
    },
    { timeoutMs: 5 * 60_000 },
  );
  // AND the ServiceAccount may read and update tickets, and write Events, in the target namespace, not elsewhere
  const sa = `system:serviceaccount:${operatorNs.name}:flight-operator-controller`;
  const can = async (args: string[]) => (await kubectl(['auth', 'can-i', '--as', sa, ...args], { check: false })).stdout.trim();
  await waitWithOlm(olm, 'the Role copied into the target namespace', async () => (await can(['watch', 'flighttickets.flights.com', '-n', target.name])) === 'yes', { timeoutMs: 120_000 });
  expect({
    watchTarget: await can(['watch', 'flighttickets.flights.com', '-n', target.name]),
    patchStatusTarget: await can(['patch', 'flighttickets.flights.com', '--subresource=status', '-n', target.name]),
    eventsTarget: await can(['create', 'events', '-n', target.name]),
    watchOther: await can(['watch', 'flighttickets.flights.com', '-n', other.name]),
    watchAll: await can(['watch', 'flighttickets.flights.com', '--all-namespaces']),
    kubeSystem: await can(['get', 'namespaces/kube-system']),
    deleteTickets: await can(['delete', 'flighttickets.flights.com', '-n', target.name]),
  }).toEqual({ watchTarget: 'yes', patchStatusTarget: 'yes', eventsTarget: 'yes', watchOther: 'no', watchAll: 'no', kubeSystem: 'yes', deleteTickets: 'no' });
  // AND the controller, with exactly those rights, watches the target and its cache syncs
  await waitWithOlm(
    olm,
    'a controller whose caches synced for the target namespace',
    async () => runner!.running().some((p) => new RegExp(`caches synced; reconciling.*${target.name}`).test(p.child.tail(400))),
    { timeoutMs: 120_000, diagnose: async () => runner!.logs(20) },
  );
  const dep = JSON.parse((await kubectl(['get', 'deployment', 'flight-operator-controller', '-n', operatorNs.name, '-o', 'json'])).stdout);
  expect(dep.spec.template.metadata.annotations['olm.targetNamespaces']).toBe(target.name);
}, 10 * 60_000);
