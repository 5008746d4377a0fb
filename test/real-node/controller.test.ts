/**
 * The plain manifests users get (dist/ from `npm run synth`), applied
 * unmodified to a real node: the controller image is pushed by digest into
 * the node's registry (`skopeo copy oci:dist/images/controller ...`) and
 * containerd pulls ghcr.io/flight-operator/controller@sha256:... through its
 * ghcr.io mirror; kubelet runs both replicas in the manifests' own namespace,
 * labelled pod-security.kubernetes.io/enforce: restricted. What is checked is
 * what runs: container IDs from containerd, readiness from kubelet's
 * probes, the security settings from the kernel's view of the process, the
 * seed's ticket booked at the booking API (its image, pushed the same way,
 * runs as a pod behind the Service the controller's default URL names), and
 * leadership moving to the standby when the leader's pod is force-deleted.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { BOOKING_TOKEN_FILE, bookingApiManifests } from '../../infra/charts/booking-api';
import { defaultSettings } from '../../infra/defaults';
import { kubectl, waitFor } from '../../testenv/kube';
import { testResultsFile } from '../support/results';
import { crictl, distFile, layoutDigest, nodeEnv, procSecurity, pushLayout, registryHasManifest } from './support';

const NS = 'flight-operator-system';
const DEPLOYMENT = 'flight-operator-controller';
const REPO = 'flight-operator/controller';
const NONROOT = 65532;

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  status: {
    phase: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ name: string; containerID?: string; imageID: string; ready: boolean; restartCount: number }>;
  };
}

const json = async <T>(args: string[]): Promise<T> => JSON.parse((await kubectl([...args, '-o', 'json'])).stdout) as T;
const podsOf = async (selector: string): Promise<Pod[]> => (await json<{ items: Pod[] }>(['-n', NS, 'get', 'pods', '-l', selector])).items.filter((p) => !p.metadata.deletionTimestamp);
const controllerPods = () => podsOf('app.kubernetes.io/name=flight-operator-controller');
const containerId = (p: Pod) => p.status.containerStatuses?.find((c) => c.name === 'manager')?.containerID ?? '';

let digest = '';
let bookingImage = '';
const settings = defaultSettings();
const timings: Record<string, number> = {};

// The operator of dist/ watches every namespace, as users' manifests do. The
// files after this one share the node and run operators of their own (OLM's,
// Pulumi's, the demo's) with booking services of their own: left running,
// this one would also book and finalize their tickets (same finalizer) at its
// booking API, and a deleted demo ticket would lose its finalizer to it while
// its booking stayed active at the demo's. So it stops when this file ends.
afterAll(async () => {
  await kubectl(['-n', NS, 'scale', `deployment/${DEPLOYMENT}`, '--replicas=0'], { check: false });
  await kubectl(['-n', NS, 'wait', '--for=delete', 'pod', '-l', 'app.kubernetes.io/name=flight-operator-controller', '--timeout=120s'], { check: false, timeoutMs: 130_000 });
}, 150_000);

beforeAll(async () => {
  const manifests = distFile('dist/flight-operator.k8s.yaml', 'npm run synth');
  const crd = distFile('dist/flightticket-crd.k8s.yaml', 'npm run synth');
  const layout = path.dirname(distFile('dist/images/controller/index.json', 'npm run image -- controller'));
  const image = readFileSync(manifests, 'utf8').match(/image: (ghcr\.io\/flight-operator\/controller@(sha256:[0-9a-f]{64}))/);
  if (!image) throw new Error('dist/flight-operator.k8s.yaml pins no ghcr.io/flight-operator/controller@sha256 image');
  digest = image[2]!;
  const built = layoutDigest(layout);
  if (built !== digest) {
    throw new Error(`dist/flight-operator.k8s.yaml runs ${digest} but dist/images/controller holds ${built}: run \`npm run image -- controller\`, then \`npm run synth\``);
  }
  timings.pushSeconds = pushLayout(layout, REPO, 'latest');
  // Other files of this project run the same image on the shared node (the
  // demo, OLM's install), and jest may order them first: take it out of
  // containerd so this file's pods show kubelet's own pull through the mirror.
  const present = () => (JSON.parse(crictl(['images', '-o', 'json'])) as { images: Array<{ repoDigests: string[] }> }).images.some((i) => i.repoDigests.includes(`ghcr.io/flight-operator/controller@${digest}`));
  if (present()) crictl(['rmi', `ghcr.io/flight-operator/controller@${digest}`]);
  if (present()) throw new Error(`the node still holds ghcr.io/flight-operator/controller@${digest} after crictl rmi`);
  const bookingLayout = path.dirname(distFile('dist/images/booking-service/index.json', 'npm run image -- booking-service'));
  pushLayout(bookingLayout, 'flight-operator/booking-service', 'latest');
  bookingImage = `ghcr.io/flight-operator/booking-service@${layoutDigest(bookingLayout)}`;

  // The booking API first, with the token Secret it shares with the
  // controller (the controller's volume for it is optional: it would start
  // without one and never see it appear).
  await kubectl(['create', 'namespace', NS]);
  await kubectl(['-n', NS, 'create', 'secret', 'generic', settings.bookingCredentialsSecret, `--from-literal=token=${randomBytes(16).toString('hex')}`]);
  const booking = bookingApiManifests({ namespace: NS, image: bookingImage, credentialsSecret: settings.bookingCredentialsSecret });
  await kubectl(['apply', '--server-side', '-f', '-'], { input: booking.map((o) => stringify(o)).join('---\n') });

  await kubectl(['apply', '--server-side', '-f', crd]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/flighttickets.flights.com'], { timeoutMs: 70_000 });
  const t0 = Date.now();
  await kubectl(['apply', '--server-side', '-f', manifests]);
  await kubectl(['-n', NS, 'rollout', 'status', `deployment/${DEPLOYMENT}`, '--timeout=240s'], { timeoutMs: 250_000 });
  timings.availableSeconds = (Date.now() - t0) / 1000;
  await kubectl(['-n', NS, 'rollout', 'status', 'deployment/booking-api', '--timeout=120s'], { timeoutMs: 130_000 });
  // kubelet's own account of the pull through the mirror ("Successfully pulled image ... in 1.2s ...").
  const events = await json<{ items: Array<{ reason: string; message: string }> }>(['-n', NS, 'get', 'events', '--field-selector', 'reason=Pulled']);
  const pulled = events.items.map((e) => e.message.match(/Successfully pulled image "ghcr\.io\/flight-operator\/controller@[^"]+" in ([0-9.]+)(ms|s)/)).find(Boolean);
  timings.pullSeconds = pulled ? Number(pulled[1]) / (pulled[2] === 'ms' ? 1000 : 1) : NaN;
  process.stderr.write(`real-node controller: pushed in ${timings.pushSeconds}s; pulled by kubelet in ${timings.pullSeconds}s; Deployment rolled out ${timings.availableSeconds}s after apply\n`);
}, 360_000);

test('the registry holds the controller image under the digest the manifests pin: the push kept it', async () => {
  expect(await registryHasManifest(REPO, digest)).toBe(200);
});

test('the namespace the manifests create enforces the restricted Pod Security level', async () => {
  const ns = await json<{ metadata: { labels: Record<string, string> } }>(['get', 'namespace', NS]);
  expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
});

test('both replicas run as containerd containers of the image kubelet pulled by digest through the ghcr.io mirror', async () => {
  const pods = await controllerPods();
  expect(pods).toHaveLength(2);
  const running = JSON.parse(crictl(['ps', '--name', 'manager', '-o', 'json'])) as { containers: Array<{ id: string; state: string; imageRef: string }> };
  for (const pod of pods) {
    expect(pod.status.phase).toBe('Running');
    const status = pod.status.containerStatuses!.find((c) => c.name === 'manager')!;
    expect(status.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    expect(status.imageID).toBe(`ghcr.io/flight-operator/controller@${digest}`);
    expect(status.restartCount).toBe(0);
    const id = status.containerID!.slice('containerd://'.length);
    expect(running.containers.find((c) => c.id === id)?.state).toBe('CONTAINER_RUNNING');
  }
  // Pulled once, through the mirror, by kubelet (the second pod found it present).
  expect(timings.pullSeconds).toBeGreaterThan(0);
  const images = JSON.parse(crictl(['images', '-o', 'json'])) as { images: Array<{ repoDigests: string[] }> };
  expect(images.images.flatMap((i) => i.repoDigests)).toContain(`ghcr.io/flight-operator/controller@${digest}`);
});

test("readiness comes from kubelet's probes of the running containers", async () => {
  const pods = await controllerPods();
  for (const pod of pods) expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  // kubelet's own probe counters, read through the apiserver's node proxy (which also shows logs/exec reach the kubelet).
  const metrics = (await kubectl(['get', '--raw', `/api/v1/nodes/${nodeEnv('FLIGHT_NODE_NAME')}/proxy/metrics/probes`])).stdout;
  for (const pod of pods) {
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith('prober_probe_total{') && l.includes(`pod="${pod.metadata.name}"`) && l.includes('probe_type="Readiness"') && l.includes('result="successful"'));
    expect(line).toBeDefined();
    expect(Number(line!.split(' ').pop())).toBeGreaterThan(0);
  }
});

test('the kernel runs each controller process as non-root, without capabilities, no_new_privs, seccomp filter, read-only root', async () => {
  const pods = await controllerPods();
  for (const pod of pods) {
    const id = containerId(pod).slice('containerd://'.length);
    const info = JSON.parse(crictl(['inspect', id])) as { info: { pid: number } };
    const sec = procSecurity(info.info.pid);
    expect({ pod: pod.metadata.name, ...sec, rootReadOnly: sec.rootOptions.includes('ro') }).toEqual({
      pod: pod.metadata.name,
      uids: [NONROOT, NONROOT, NONROOT, NONROOT],
      gids: [NONROOT, NONROOT, NONROOT, NONROOT],
      capEff: '0000000000000000',
      noNewPrivs: '1',
      seccomp: '2',
      rootOptions: sec.rootOptions,
      rootReadOnly: true,
    });
  }
});

/** The booking service's /admin/stats, asked from a pod of the namespace through the Service's DNS name, as the controller asks it. */
async function bookingStats(): Promise<{ bookings: { created: number; active: number; cancelled: number } }> {
  const name = `stats-${randomBytes(3).toString('hex')}`;
  const script = [
    `const t = require('fs').readFileSync(${JSON.stringify(BOOKING_TOKEN_FILE)}, 'utf8').split('\\n')[0].trim();`,
    `fetch(${JSON.stringify(`${settings.bookingApiUrl}/admin/stats`)}, { headers: { authorization: 'Bearer ' + t } })`,
    `  .then(async (r) => { if (r.status !== 200) throw new Error('status ' + r.status); console.log(JSON.stringify(await r.json())); })`,
    `  .catch((e) => { console.error(String(e)); process.exit(1); });`,
  ].join('\n');
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: NONROOT, runAsGroup: NONROOT, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'stats',
          image: bookingImage,
          command: ['/nodejs/bin/node', '-e', script],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
          volumeMounts: [{ name: 'token', mountPath: path.dirname(BOOKING_TOKEN_FILE), readOnly: true }],
        },
      ],
      volumes: [{ name: 'token', secret: { secretName: settings.bookingCredentialsSecret } }],
    },
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
  try {
    const phase = await waitFor(
      `pod ${name} to finish`,
      async () => {
        const p = await json<{ status: { phase: string } }>(['-n', NS, 'get', 'pod', name]);
        return ['Succeeded', 'Failed'].includes(p.status.phase) && p.status.phase;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    const logs = (await kubectl(['-n', NS, 'logs', name])).stdout.trim();
    if (phase !== 'Succeeded') throw new Error(`stats pod ${phase}: ${logs}`);
    return JSON.parse(logs.split('\n').pop()!);
  } finally {
    await kubectl(['-n', NS, 'delete', 'pod', name, '--wait=false'], { check: false });
  }
}

test("the seed's ticket (my-flight-ticket, Cairo to London, 2 seats) becomes Ready with one booking at the booking API; deleting it cancels the booking", async () => {
  const ticket = distFile('dist/example-ticket.k8s.yaml', 'npm run synth');
  const t0 = Date.now();
  await kubectl(['apply', '--server-side', '-f', ticket]);
  await kubectl(['-n', 'default', 'wait', '--for=condition=Ready', 'flightticket/my-flight-ticket', '--timeout=120s'], { timeoutMs: 130_000 });
  timings.ticketReadySeconds = (Date.now() - t0) / 1000;
  const t = await json<{ spec: { from: string; to: string; number: number }; status: { bookingRef?: string } }>(['-n', 'default', 'get', 'flightticket', 'my-flight-ticket']);
  expect(t.spec).toEqual({ from: 'Cairo', to: 'London', number: 2 });
  expect(t.status.bookingRef).toBeTruthy();
  expect((await bookingStats()).bookings).toEqual({ created: 1, active: 1, cancelled: 0 });

  await kubectl(['-n', 'default', 'delete', 'flightticket', 'my-flight-ticket', '--timeout=120s'], { timeoutMs: 130_000 });
  expect((await bookingStats()).bookings).toEqual({ created: 1, active: 0, cancelled: 1 });
  process.stderr.write(`real-node controller: seed ticket Ready ${timings.ticketReadySeconds}s after apply\n`);
}, 300_000);

test('a forced delete of the leader pod hands the Lease to another live replica (the standby, or the pod that replaces the leader if it asks first), and the Deployment runs two replicas again', async () => {
  const pods = await controllerPods();
  const names = pods.map((p) => p.metadata.name);
  const leases = async () => (await json<{ items: Array<{ metadata: { name: string }; spec: { holderIdentity?: string } }> }>(['-n', NS, 'get', 'leases'])).items;
  const holderAmong = async (candidates: string[]) => (await leases()).map((l) => l.spec.holderIdentity ?? '').find((h) => h && candidates.some((n) => h.includes(n)));
  const leader = await waitFor('a controller pod to hold a Lease', () => holderAmong(names), { timeoutMs: 60_000 });
  const leaderPod = names.find((n) => leader.includes(n))!;
  const standby = names.find((n) => n !== leaderPod)!;
  // Live controller pods but the deleted leader: the standby, and the one the ReplicaSet starts in its place.
  const others = async () => (await controllerPods()).map((p) => p.metadata.name).filter((n) => n !== leaderPod);

  const t0 = Date.now();
  await kubectl(['-n', NS, 'delete', 'pod', leaderPod, '--grace-period=0', '--force', '--wait=false']);
  const newLeader = await waitFor('another live replica to hold the Lease', async () => holderAmong(await others()), { timeoutMs: 90_000, intervalMs: 200 }).catch(async (e: Error) => {
    // What the Leases, the pods and the standby said, for a failure that only shows on a loaded machine.
    const out = (args: string[]) => kubectl(['-n', NS, ...args], { check: false }).then((r) => (r.stdout || r.stderr).trim());
    const details = [
      `leases: ${JSON.stringify((await leases()).map((l) => l.spec))}`,
      await out(['get', 'pods', '-o', 'wide']),
      `--- ${standby} log tail\n${await out(['logs', standby, '--tail=30'])}`,
    ];
    throw new Error(`${e.message} (leader was ${leaderPod})\n${details.join('\n')}`);
  });
  timings.failoverSeconds = (Date.now() - t0) / 1000;
  // kubelet killed the old container: containerd no longer runs it.
  const oldId = containerId(pods.find((p) => p.metadata.name === leaderPod)!).slice('containerd://'.length);
  await waitFor('the old container to stop', () => !crictl(['ps', '-q']).includes(oldId), { timeoutMs: 60_000 });
  await kubectl(['-n', NS, 'rollout', 'status', `deployment/${DEPLOYMENT}`, '--timeout=120s'], { timeoutMs: 130_000 });
  const after = await controllerPods();
  expect(after.map((p) => p.metadata.name)).not.toContain(leaderPod);
  expect(after.filter((p) => p.status.phase === 'Running')).toHaveLength(2);
  process.stderr.write(`real-node controller: leadership moved to ${newLeader.includes(standby) ? 'the standby' : 'the replacement pod'} ${timings.failoverSeconds}s after the forced delete\n`);
}, 240_000);

// The controller's identity is its pod's name: a container kubelet restarts
// in the same pod holds the same identity and resumes the Lease itself, so
// which of the two leads afterwards depends on who renews first.
test("killing the leader's container through the runtime (crictl stop -t 0): kubelet restarts it, a live controller renews the Lease again, every ticket keeps exactly one booking", async () => {
  const tickets = ['rt-1', 'rt-2', 'rt-3'];
  const docs = tickets.map((name) => stringify({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name, namespace: 'default' }, spec: { from: 'Cairo', to: 'London', number: 1 } }));
  await kubectl(['apply', '-f', '-'], { input: docs.join('---\n') });
  for (const name of tickets) await kubectl(['-n', 'default', 'wait', '--for=condition=Ready', `flightticket/${name}`, '--timeout=120s'], { timeoutMs: 130_000 });
  const before = (await bookingStats()).bookings;

  const pods = await controllerPods();
  const names = pods.map((p) => p.metadata.name);
  type Lease = { spec: { holderIdentity?: string; renewTime?: string } };
  const lease = async () => (await json<{ items: Lease[] }>(['-n', NS, 'get', 'leases'])).items.find((l) => names.some((n) => (l.spec.holderIdentity ?? '').includes(n)));
  const leader = (await waitFor('a controller pod to hold a Lease', lease, { timeoutMs: 60_000 })).spec.holderIdentity!;
  const leaderPod = pods.find((p) => leader.includes(p.metadata.name))!;
  const oldId = containerId(leaderPod).slice('containerd://'.length);

  // SIGKILL at once: no graceful release of the Lease.
  crictl(['stop', '--timeout', '0', oldId]);
  const killedAt = Date.now();
  const renewed = await waitFor(
    'a live controller to renew the Lease after the kill',
    async () => {
      const l = await lease();
      return l && Date.parse(l.spec.renewTime ?? '') > killedAt + 1000 && l;
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  timings.runtimeKillLeaseRenewedSeconds = (Date.now() - killedAt) / 1000;
  const restarted = await waitFor(
    'kubelet to restart the killed container',
    async () => {
      const p = await json<Pod>(['-n', NS, 'get', 'pod', leaderPod.metadata.name]);
      const s = p.status.containerStatuses?.find((c) => c.name === 'manager');
      return s && s.restartCount >= 1 && s.ready && containerId(p) !== containerId(leaderPod) && s;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  expect(restarted.restartCount).toBe(1);

  // Reconciles after the takeover (a spec change) still book exactly once.
  await kubectl(['-n', 'default', 'patch', 'flightticket', 'rt-1', '--type=merge', '-p', '{"spec":{"number":2}}']);
  await waitFor('rt-1 to be Ready for its new generation', async () => {
    const t = await json<{ metadata: { generation: number }; status: { conditions?: Array<{ type: string; status: string; observedGeneration?: number }> } }>(['-n', 'default', 'get', 'flightticket', 'rt-1']);
    const ready = t.status.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' && ready.observedGeneration === t.metadata.generation;
  }, { timeoutMs: 120_000 });
  const after = (await bookingStats()).bookings;
  expect(after.active).toBe(before.active);
  expect(after.active).toBe(tickets.length);
  process.stderr.write(`real-node controller: the Lease was renewed by ${renewed.spec.holderIdentity === leader ? 'the restarted leader' : 'the standby'} ${timings.runtimeKillLeaseRenewedSeconds}s after crictl stop -t 0 of the leader; bookings ${JSON.stringify(after)}\n`);
  await kubectl(['-n', 'default', 'delete', 'flightticket', ...tickets, '--timeout=120s'], { timeoutMs: 130_000 });
}, 420_000);

/** The container cgroup's peak memory use (v1 memory.max_usage_in_bytes, v2 memory.peak), read from the host. */
function cgroupPeakBytes(pid: number): number {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  const file = v1 ? `/sys/fs/cgroup/memory${v1.split(':')[2]}/memory.max_usage_in_bytes` : `/sys/fs/cgroup${lines.find((l) => l.startsWith('0::'))!.slice(3)}/memory.peak`;
  return Number(readFileSync(file, 'utf8').trim());
}

// Last in the file: it leaves 1,000 tickets behind for the node's teardown
// (deleting them would cancel 1,000 bookings, a minute more of CI for nothing
// a user would see here).
test("the Deployment's memory limit holds 1,000 tickets: all Ready, restartCount 0, no OOMKilled; the container's working set from kubelet's stats beside its RSS", async () => {
  const load = `load-${randomBytes(3).toString('hex')}`;
  const COUNT = 1000;
  await kubectl(['create', 'namespace', load]);
  // The runtime-kill test above restarted one container on purpose: what counts is no restart from here on.
  const restartsBefore = new Map((await controllerPods()).map((p) => [p.metadata.name, p.status.containerStatuses!.find((c) => c.name === 'manager')!.restartCount]));
  const t0 = Date.now();
  for (let i = 0; i < COUNT; i += 250) {
    const docs = Array.from({ length: Math.min(250, COUNT - i) }, (_, j) =>
      stringify({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name: `t-${i + j}`, namespace: load }, spec: { from: 'Cairo', to: 'London', number: 1 + ((i + j) % 3) } }),
    );
    await kubectl(['create', '-f', '-'], { input: docs.join('---\n'), timeoutMs: 300_000 });
  }
  timings.createdSeconds = (Date.now() - t0) / 1000;
  type Ticket = { status?: { conditions?: Array<{ type: string; status: string }> } };
  await waitFor(
    `${COUNT} tickets Ready`,
    async () => {
      const items = (await json<{ items: Ticket[] }>(['-n', load, 'get', 'flighttickets'])).items;
      return items.filter((t) => t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === COUNT;
    },
    { timeoutMs: 600_000, intervalMs: 2000 },
  );
  timings.thousandReadySeconds = (Date.now() - t0) / 1000;

  const node = nodeEnv('FLIGHT_NODE_NAME');
  const summary = JSON.parse((await kubectl(['get', '--raw', `/api/v1/nodes/${node}/proxy/stats/summary`])).stdout) as {
    pods: Array<{ podRef: { name: string; namespace: string }; containers?: Array<{ name: string; memory?: { workingSetBytes?: number; rssBytes?: number; usageBytes?: number } }> }>;
  };
  const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;
  const memory: Record<string, { workingSetMiB: number; cgroupRssMiB: number; processRssMiB: number; cgroupPeakMiB: number; restarts: number }> = {};
  const deployment = await json<{ spec: { template: { spec: { containers: Array<{ name: string; resources: { limits: { memory: string } } }> } } } }>(['-n', NS, 'get', 'deployment', DEPLOYMENT]);
  const limit = deployment.spec.template.spec.containers.find((c) => c.name === 'manager')!.resources.limits.memory;
  for (const pod of await controllerPods()) {
    const status = (await json<{ status: { containerStatuses: Array<{ name: string; restartCount: number; lastState: { terminated?: { reason: string } } }> } }>(['-n', NS, 'get', 'pod', pod.metadata.name])).status.containerStatuses.find((c) => c.name === 'manager')!;
    expect({ pod: pod.metadata.name, restarts: status.restartCount, oomKilled: status.lastState.terminated?.reason === 'OOMKilled' }).toEqual({ pod: pod.metadata.name, restarts: restartsBefore.get(pod.metadata.name), oomKilled: false });
    const stats = summary.pods.find((p) => p.podRef.name === pod.metadata.name && p.podRef.namespace === NS)?.containers?.find((c) => c.name === 'manager')?.memory;
    expect(stats?.workingSetBytes).toBeGreaterThan(0);
    const pid = (JSON.parse(crictl(['inspect', containerId(pod).slice('containerd://'.length)])) as { info: { pid: number } }).info.pid;
    const vmRss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    memory[pod.metadata.name] = { workingSetMiB: MiB(stats!.workingSetBytes!), cgroupRssMiB: MiB(stats!.rssBytes ?? 0), processRssMiB: MiB(vmRss), cgroupPeakMiB: MiB(cgroupPeakBytes(pid)), restarts: status.restartCount };
  }
  const [booking] = await podsOf('app.kubernetes.io/name=booking-api');
  expect(booking!.status.containerStatuses!.map((c) => c.restartCount)).toEqual([0]);
  expect((await bookingStats()).bookings.active).toBe(COUNT);
  writeFileSync(testResultsFile('real-node-limits.json'), `${JSON.stringify({ tickets: COUNT, limit, ...timings, memory }, null, 2)}\n`);
  process.stderr.write(`real-node controller: ${COUNT} tickets created in ${timings.createdSeconds}s, all Ready ${timings.thousandReadySeconds}s after the first; memory (limit ${limit}): ${JSON.stringify(memory)}\n`);
}, 900_000);
