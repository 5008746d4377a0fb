/**
 * settings.watchNamespaces on a real control plane: the synthesized RBAC
 * grants tickets and Events only through Roles in the watched namespaces,
 * and the controller, run with that ServiceAccount's token and the
 * Deployment's WATCH_NAMESPACE, reconciles tickets there and leaves a ticket
 * elsewhere untouched.
 */
import { Testing } from 'cdk8s';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { OperatorChart } from '../../infra/charts/operator-chart';
import { defaultSettings } from '../../infra/defaults';
import { kubectl, loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { clusterCa, mintToken } from '../in-cluster/pod';
import type { Child } from '../support/child-process';
import { applyCrd, createTicket, getTicket, startBookings, startController, ticketsApi, TICKETS, waitForReady, type BookingEnv } from '../support/operator-env';

const home = useNamespace('wn-home');
const watchedA = useNamespace('wn-a');
const watchedB = useNamespace('wn-b');
const other = useNamespace('wn-other');
const release = `wn-${process.pid}`;
const RBAC = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
let objects: any[];
let bookings: BookingEnv;
let controller: Child | undefined;
const dir = mkdtempSync(join(tmpdir(), 'watch-namespaces-'));
const sa = () => `system:serviceaccount:${home.name}:flight-operator-controller`;

beforeAll(async () => {
  // GIVEN the operator synthesized to watch two namespaces, its RBAC applied
  await applyCrd();
  objects = Testing.synth(
    new OperatorChart(Testing.app(), 'wn', { settings: defaultSettings({ namespace: home.name, releaseName: release, watchNamespaces: [watchedA.name, watchedB.name] }), createNamespace: false }),
  );
  await kubectl(['apply', '--server-side', '-f', '-'], { input: objects.filter((o) => RBAC.includes(o.kind)).map((o) => stringify(o)).join('---\n') });
  bookings = await startBookings();
}, 120_000);
afterAll(async () => {
  for (const ns of [watchedA.name, watchedB.name]) await ticketsApi().deleteCollectionNamespacedCustomObject({ ...TICKETS, namespace: ns }).catch(() => undefined);
  await controller?.stop();
  await bookings?.service.stop();
  // The ticket outside never got the finalizer, so it deletes with its namespace.
  await kubectl(['delete', 'clusterrole,clusterrolebinding', `${release}-controller`, '--ignore-not-found'], { check: false });
  rmSync(dir, { recursive: true, force: true });
});

const canI = async (verb: string, resource: string, ns: string[]) => (await kubectl(['auth', 'can-i', verb, resource, ...ns, '--as', sa()], { check: false })).stdout.trim();

describe('watchNamespaces', () => {
  test('THEN the ServiceAccount may work on tickets in the watched namespaces only, through Roles', async () => {
    expect(await canI('update', 'flighttickets.flights.com', ['-n', watchedA.name])).toBe('yes');
    expect(await canI('create', 'events', ['-n', watchedB.name])).toBe('yes');
    expect(await canI('list', 'flighttickets.flights.com', ['-n', other.name])).toBe('no');
    expect(await canI('list', 'flighttickets.flights.com', ['--all-namespaces'])).toBe('no');
    const { stdout } = await kubectl(['get', 'clusterrole', `${release}-controller`, '-o', 'json']);
    expect(JSON.parse(stdout).rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], resourceNames: ['kube-system'], verbs: ['get'] }]);
    const roles = JSON.parse((await kubectl(['get', 'roles', '-A', '-l', 'app.kubernetes.io/name=flight-operator-controller', '-o', 'json'])).stdout).items;
    expect(roles.filter((r: any) => r.metadata.name === `${release}-controller`).map((r: any) => r.metadata.namespace).sort()).toEqual([watchedA.name, watchedB.name].sort());
  });

  test('WHEN the controller runs as that ServiceAccount with the Deployment\'s WATCH_NAMESPACE THEN a watched ticket is booked and a ticket outside is untouched', async () => {
    const watch = objects.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].env.find((e: any) => e.name === 'WATCH_NAMESPACE').value;
    expect(watch).toBe(`${watchedA.name},${watchedB.name}`);
    const kc = loadKubeConfig();
    const token = await mintToken(kc, home.name, 'flight-operator-controller');
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: kc.getCurrentCluster()!.server, 'certificate-authority-data': Buffer.from(clusterCa(kc)).toString('base64') } }],
        users: [{ name: 'controller', user: { token } }],
        contexts: [{ name: 'controller', context: { cluster: 'test', user: 'controller' } }],
        'current-context': 'controller',
      }),
      { mode: 0o600 },
    );
    // GIVEN a ticket outside the watched namespaces, created first
    await createTicket(other.name, 'outside', { from: 'Cairo', to: 'London', number: 1 });
    controller = startController({ namespace: watch, bookingUrl: bookings.service.url, tokenFile: bookings.tokenFile, env: { KUBECONFIG: kubeconfig } });
    // WHEN a ticket in a watched namespace is created and reconciled
    await createTicket(watchedB.name, 'inside', { from: 'Cairo', to: 'London', number: 2 });
    const inside = await waitForReady(watchedB.name, 'inside', 60_000, controller);
    expect(await bookings.activeFor(inside.metadata.uid)).toHaveLength(1);
    // THEN, after that, the one outside still has no finalizer, no status and no booking
    const outside = await getTicket(other.name, 'outside');
    expect(outside?.metadata.finalizers ?? []).toEqual([]);
    expect(outside?.status).toBeUndefined();
    expect(await bookings.activeFor(outside!.metadata.uid)).toEqual([]);
    expect(controller.tail()).not.toMatch(/forbidden/i);
  }, 120_000);
});
