/**
 * The controller in cluster mode, with nothing but its ServiceAccount and the
 * operator chart's least-privilege RBAC: the same controller image the
 * Deployment runs, unpacked into a rootfs and started under chroot as 65532
 * (test/image/rootfs.ts), with what the kubelet would give the pod and
 * nothing else:
 *   - the ServiceAccount volume at /var/run/secrets/kubernetes.io/serviceaccount
 *     (a token from the TokenRequest API, the cluster CA, the namespace);
 *   - KUBERNETES_SERVICE_HOST/PORT, so client-node's loadFromDefault() takes
 *     loadFromCluster(); no KUBECONFIG and no kubeconfig file anywhere;
 *   - the container's args and env taken from the synthesized Deployment,
 *     fieldRefs and configMapKeyRefs resolved as the kubelet does (only the
 *     probe ports are moved to free ones: the network is the host's);
 *   - the booking-credentials Secret volume with the Deployment's mode and fsGroup.
 * There is no kubelet (kwok fakes pods), so no real pod: this is the closest
 * run to one.
 *
 * WATCH_NAMESPACE comes from the pod annotation olm.targetNamespaces, which is
 * set here to this test's namespace (what OLM does for an OwnNamespace
 * install). Left empty (the plain manifests) the controller would reconcile
 * every namespace's tickets, including other test files' running at the same
 * time against their own booking services; the cluster-wide list and watch
 * that mode needs are checked below with the same token instead.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from '../../testenv/cluster';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildControllerImage } from '../../image/controller-image';
import { readOciLayout, writeOciLayout } from '../../image/oci';
import { kubectl, loadKubeConfig, waitFor } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { requireRoot, runImage, unpackLayers, type Running } from '../image/rootfs';
import { applyCrd, createTicket, getTicket, startBookings, ticketEvents, waitForReady, type BookingEnv } from '../support/operator-env';
import {
  SERVICE_ACCOUNT_DIR,
  apiRequest,
  clusterCa,
  containerEnv,
  mintToken,
  synthOperator,
  writeInRootfs,
  writeServiceAccountVolume,
  type OperatorObjects,
} from './pod';

const ns = useNamespace('in-cluster');
// Renamed from the chart's flight-operator-controller: cluster-scoped, and
// test/operator/deployment-and-rbac.test.ts applies (and deletes) that name
// bound to another namespace's ServiceAccount. See synthOperator.
const clusterRbacName = `flight-operator-controller-${ns.name}`;
const POD_NAME = 'pod-0';
const LEASE = 'flight-operator-controller';
const work = mkdtempSync(join(tmpdir(), 'in-cluster-'));
const rootfs = join(work, 'rootfs');
const log = (m: string) => process.stderr.write(`${m}\n`);

let objects: OperatorObjects;
let bookings: BookingEnv;
let imageConfig: { User?: string; Env?: string[]; Entrypoint?: string[] };
let server: string;
let ca: string;
let token: string;
let controller: Running | undefined;

/** A refused API call in the controller's log: RBAC's "... is forbidden: User ... cannot ..." or a logged 403 code. */
const refusals = (lines: string[]) => lines.filter((l) => /forbidden/i.test(l) || /"(code|status|statusCode)":\s*403\b/.test(l));

/** Stops waitFor at once (it retries other errors until its timeout). */
class Exited extends Error {
  constructor(readonly cause: Error) {
    super(cause.message);
  }
}

/** Starts the image's entrypoint as the kubelet would start the Deployment's container; resolves once /readyz answers 200. */
async function startPod(): Promise<Running> {
  const [metrics, health] = [await freePort(), await freePort()];
  const { env, args } = containerEnv(objects, { name: POD_NAME, namespace: ns.name, annotations: { 'olm.targetNamespaces': ns.name } });
  // The chart's args, with the probe ports moved (host network): nothing else changes.
  expect(args).toEqual(['--leader-elect', '--metrics-bind-address=:8080', '--health-probe-bind-address=:8081']);
  const podArgs = args.map((a) =>
    a.replace(/^--metrics-bind-address=.*/, `--metrics-bind-address=127.0.0.1:${metrics}`).replace(/^--health-probe-bind-address=.*/, `--health-probe-bind-address=127.0.0.1:${health}`),
  );
  const apiserver = new URL(server);
  const running = runImage({
    rootfs,
    config: imageConfig,
    args: podArgs,
    env: {
      ...env,
      // What the kubelet adds for the "kubernetes" Service (here: the API server itself) and the runtime for the user.
      KUBERNETES_SERVICE_HOST: apiserver.hostname,
      KUBERNETES_SERVICE_PORT: apiserver.port,
      KUBERNETES_SERVICE_PORT_HTTPS: apiserver.port,
      HOSTNAME: POD_NAME,
      HOME: '/home/nonroot',
      // Only more verbose than the Deployment, so that any refused call shows.
      LOG_LEVEL: 'debug',
    },
  });
  await waitFor(
    'the controller to answer /readyz',
    async () => {
      if (running.child.exitCode !== null) throw new Exited(new Error(`controller exited ${running.child.exitCode}`));
      const res = await fetch(`http://127.0.0.1:${health}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 250, rethrow: Exited },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\ncontroller log:\n${running.logs.slice(-40).join('\n')}`);
  });
  return running;
}

async function leaseHolder(): Promise<string | undefined> {
  const r = await kubectl(['get', 'lease', LEASE, '-n', ns.name, '-o', 'json'], { check: false });
  return r.code === 0 ? (JSON.parse(r.stdout).spec?.holderIdentity ?? '') : undefined;
}

beforeAll(async () => {
  requireRoot();
  // GIVEN the CRD and a booking service on loopback
  await applyCrd();
  bookings = await startBookings();

  // AND the operator chart's RBAC for this namespace, server-side applied (nothing else of the chart)
  objects = synthOperator(ns.name, bookings.service.url, clusterRbacName);
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=in-cluster-test', '-f', '-'], {
    input: objects.rbac.map((o) => stringify(o)).join('---\n'),
  });

  // AND the controller image, built as `npm run image` builds it, written, read back and unpacked
  const started = Date.now();
  const built = await buildControllerImage();
  writeOciLayout(built.image, join(work, 'oci'), built.name);
  const layout = readOciLayout(join(work, 'oci'));
  imageConfig = layout.config.config;
  unpackLayers(layout.layers, rootfs);
  log(`test/in-cluster: ${built.name.repository}@${layout.manifestDigest} unpacked in ${Date.now() - started} ms`);

  // AND the pod's volumes: the ServiceAccount's (a TokenRequest token, the CA, the namespace) ...
  const kc = loadKubeConfig();
  server = kc.getCurrentCluster()!.server;
  ca = clusterCa(kc);
  token = await mintToken(kc, ns.name, objects.serviceAccountName, 3600);
  writeServiceAccountVolume(rootfs, { token, ca, namespace: ns.name });
  // ... and the booking credentials Secret, with the Deployment's defaultMode and fsGroup
  const podSpec = objects.deployment.spec.template.spec;
  const volume = podSpec.volumes.find((v: { secret?: unknown }) => v.secret);
  const mount = podSpec.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name);
  const { env } = containerEnv(objects, { name: POD_NAME, namespace: ns.name });
  expect(env.BOOKING_API_TOKEN_FILE).toBe(`${mount.mountPath}/token`);
  writeInRootfs(rootfs, env.BOOKING_API_TOKEN_FILE, readFileSync(bookings.tokenFile, 'utf8'), { mode: volume.secret.defaultMode, gid: podSpec.securityContext.fsGroup });
}, 900_000);

afterAll(async () => {
  // Tickets go while a controller can still cancel their bookings; a finalizer left over is stripped.
  await kubectl(['delete', 'ft', '--all', '-n', ns.name, '--wait=false'], { check: false });
  if (controller?.child.exitCode === null) {
    await waitFor('tickets gone', async () => (await kubectl(['get', 'ft', '-n', ns.name, '-o', 'name'])).stdout.trim() === '', { timeoutMs: 20_000 }).catch(() => undefined);
  }
  const code = await controller?.stop();
  if (controller) log(`test/in-cluster: controller exited ${code}; last log lines:\n${controller.logs.slice(-10).join('\n')}`);
  const left = (await kubectl(['get', 'ft', '-n', ns.name, '-o', 'name'], { check: false })).stdout.split('\n').filter(Boolean);
  for (const t of left) await kubectl(['patch', t, '-n', ns.name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], { check: false });
  await kubectl(['delete', 'clusterrolebinding,clusterrole', clusterRbacName, '--ignore-not-found'], { check: false });
  await bookings?.service.stop();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('the controller with only its ServiceAccount (in-cluster config, image rootfs, chroot as 65532)', () => {
  test('the minted token can do what the controller needs, cluster-wide where the ClusterRole says, and no more', async () => {
    // WHEN the API server is called with the ServiceAccount's token and nothing else
    const call = (path: string) => apiRequest(server, ca, token, path);
    // THEN tickets can be listed and watched in every namespace (what WATCH_NAMESPACE="" does)
    expect((await call('/apis/flights.com/v1/flighttickets?limit=1')).status).toBe(200);
    const watch = await call('/apis/flights.com/v1/flighttickets?watch=1&timeoutSeconds=1&allowWatchBookmarks=true');
    expect(watch.status).toBe(200);
    // AND the Lease of its own namespace is within reach (404: not created yet)
    expect((await call(`/apis/coordination.k8s.io/v1/namespaces/${ns.name}/leases/${LEASE}`)).status).toBe(404);
    // AND the API server knows it as the ServiceAccount, and refuses what the RBAC does not grant
    const secrets = await call(`/api/v1/namespaces/${ns.name}/secrets`);
    expect(secrets.status).toBe(403);
    expect(secrets.body.message).toContain(`User "system:serviceaccount:${ns.name}:${objects.serviceAccountName}" cannot list resource "secrets"`);
    expect((await call('/apis/coordination.k8s.io/v1/namespaces/default/leases')).status).toBe(403);
  });

  test('it leads through the Lease, books the seed ticket exactly once, records Events, and cancels on delete, with no refused call', async () => {
    // GIVEN no kubeconfig anywhere it could look: no KUBECONFIG, none in its home, none in the image
    expect(existsSync(join(rootfs, 'home/nonroot/.kube'))).toBe(false);
    expect(existsSync(join(rootfs, 'root/.kube'))).toBe(false);

    // WHEN the image's entrypoint starts as the Deployment's container would
    controller = await startPod();
    const pid = controller.child.pid!;
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ.filter((e) => e.startsWith('KUBECONFIG='))).toEqual([]);
    expect(environ).toContain(`KUBERNETES_SERVICE_HOST=${new URL(server).hostname}`);
    expect(environ).toContain(`POD_NAMESPACE=${ns.name}`);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    // Its root is the image's: the only credential it can see is the ServiceAccount token.
    expect(readFileSync(`/proc/${pid}/root${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8')).toBe(ns.name);

    // THEN it takes the Lease in its namespace as pod-0 (its first API call with the token) and starts reconciling
    await waitFor('pod-0 to hold the Lease', async () => (await leaseHolder()) === POD_NAME, { timeoutMs: 30_000 });
    await waitFor('caches synced', () => controller!.logs.some((l) => l.includes('caches synced; reconciling')), { timeoutMs: 30_000 });
    expect(controller.logs.join('\n')).toMatch(/became leader/);

    // WHEN the seed's ticket is created
    const created = await createTicket(ns.name, 'my-flight-ticket', { from: 'Cairo', to: 'London', number: 2 });

    // THEN it becomes Ready with a bookingRef, carries the finalizer, and the booking service holds exactly one booking for it
    const ready = await waitForReady(ns.name, 'my-flight-ticket', 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\ncontroller log:\n${controller!.logs.slice(-40).join('\n')}`);
    });
    expect(ready.metadata.uid).toBe(created.metadata.uid);
    expect(ready.status?.bookingRef?.startsWith(`${ready.metadata.uid}.`)).toBe(true); // named by the key written before the create
    expect(ready.metadata.annotations?.['flights.com/external-name']).toBe(ready.status?.bookingRef);
    expect(ready.metadata.finalizers).toContain('flights.com/booking');
    const active = await bookings.activeFor(ready.metadata.uid);
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ id: ready.status!.bookingRef, from: 'Cairo', to: 'London', seats: 2, state: 'active' });

    // AND an Event says so
    await waitFor('a Booked event', async () => (await ticketEvents(ns.name, 'my-flight-ticket')).some((e) => e.startsWith('Normal Booked:')), { timeoutMs: 15_000 });

    // WHEN the ticket is deleted
    await kubectl(['delete', 'ft', 'my-flight-ticket', '-n', ns.name, '--wait=false']);

    // THEN the booking is cancelled, the finalizer removed, and the ticket gone
    await waitFor('the ticket gone', async () => (await getTicket(ns.name, 'my-flight-ticket')) === undefined, { timeoutMs: 30_000 }).catch((e: Error) => {
      throw new Error(`${e.message}\ncontroller log:\n${controller!.logs.slice(-40).join('\n')}`);
    });
    expect(await bookings.activeFor(ready.metadata.uid)).toEqual([]);
    const cancelled = await bookings.client.listBookings({ owner: ready.metadata.uid, state: 'cancelled' });
    expect(cancelled.map((b) => b.id)).toEqual([ready.status!.bookingRef]);
    await waitFor('a Cancelled event', async () => (await ticketEvents(ns.name, 'my-flight-ticket')).some((e) => e.startsWith('Normal Cancelled:')), { timeoutMs: 15_000 });

    // AND the pod was never refused anything; nothing went wrong at all (failed API calls log at warn or error)
    expect(refusals(controller.logs)).toEqual([]);
    expect(controller.logs.filter((l) => /"level":"(warn|error)"/.test(l))).toEqual([]);

    // WHEN SIGTERM (what the kubelet sends)
    // THEN it stops cleanly and hands the Lease back (an update it is allowed)
    expect(await controller.stop()).toBe(0);
    expect(await leaseHolder()).toBe('');
    expect(refusals(controller.logs)).toEqual([]);
  }, 180_000);

  test('its identity is the ServiceAccount: without the Lease RoleBinding the API server refuses it and it steps down', async () => {
    // GIVEN the pod running again and leading
    controller = await startPod();
    await waitFor('pod-0 to hold the Lease again', async () => (await leaseHolder()) === POD_NAME, { timeoutMs: 30_000 });
    await waitFor('caches synced', () => controller!.logs.some((l) => l.includes('caches synced; reconciling')), { timeoutMs: 30_000 });
    expect(refusals(controller.logs)).toEqual([]);

    // WHEN the leader-election RoleBinding is removed
    const leaseRole = objects.rbac.find((o) => o.kind === 'Role' && o.rules.some((r: any) => r.resources?.includes('leases')));
    const binding = objects.rbac.find((o) => o.kind === 'RoleBinding' && o.roleRef.name === leaseRole.metadata.name);
    await kubectl(['delete', 'rolebinding', binding.metadata.name, '-n', ns.name]);

    // THEN its renewals are refused, naming its ServiceAccount, and it gives up leading (exit 1, the pod would restart)
    const exited = await waitFor('the controller to exit', () => (controller!.child.exitCode !== null ? { code: controller!.child.exitCode } : undefined), {
      timeoutMs: 30_000,
    });
    expect(exited.code).toBe(1);
    const refused = refusals(controller.logs);
    expect(refused.length).toBeGreaterThan(0);
    const user = `system:serviceaccount:${ns.name}:${objects.serviceAccountName}`;
    for (const line of refused) expect(line).toMatch(new RegExp(`User \\\\?"${user}\\\\?" cannot \\w+ resource \\\\?"leases\\\\?"`));
    expect(controller.logs.join('\n')).toMatch(/leader lease lost/);
  }, 120_000);
});
