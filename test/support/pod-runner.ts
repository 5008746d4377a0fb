/**
 * The kubelet's part for the controller pods OLM creates, done on the host.
 * kwok marks pods Running without running anything; this runs, for every
 * controller pod bound to a node, the bundled controller (the image's
 * entry; per version label, optionally another build such as an older
 * release's) as a host process, the way the kubelet would run its container:
 *
 *   - environment resolved from the pod spec: literal values, fieldRefs
 *     (metadata.name, metadata.namespace, metadata.annotations[...]) and
 *     configMapKeyRefs, as the kubelet resolves them;
 *   - the booking-credentials Secret volume written to a host folder and
 *     BOOKING_API_TOKEN_FILE pointed into it; ConfigMap volumes the same way
 *     (as the pod starts: later changes are not synced), and every env value
 *     under their mount path pointed into their folder;
 *   - the pod's ServiceAccount: a kubeconfig with a token from the
 *     TokenRequest API, so the process has exactly the RBAC OLM created;
 *   - the container's args, except the metrics and probe addresses, which
 *     move to free loopback ports (every pod shares the host network here);
 *   - a pod that gets a deletionTimestamp or disappears: SIGTERM, SIGKILL
 *     after terminationGracePeriodSeconds.
 *
 * It also samples every running process's leader gauge
 * (leader_election_master_status), so a test can assert that two
 * controllers never lead at once. A process that does not answer within 1 s
 * counts as not leading in that round: under load the check can miss a short
 * overlap, never invent one.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BOOKING_TOKEN_DIR } from '../../infra/settings';
import { freePort } from '../../testenv/cluster';
import { k8s, loadKubeConfig } from '../../testenv/kube';
import { clusterCa, mintToken } from '../in-cluster/pod';
import { spawnTs, type Child } from './child-process';

export interface PodProcess {
  readonly pod: string;
  /** The pod's app.kubernetes.io/version label (or its image's version, see versionOfImage): which release it runs. */
  readonly version: string;
  readonly child: Child;
  readonly metricsPort: number;
  readonly startedAt: number;
  stoppedAt?: number;
  exitCode?: number | null;
}

export interface LeaderSample {
  /** ms since the runner started */
  t: number;
  leaders: string[];
}

export interface PodRunner {
  /** Every process started so far, oldest first. */
  readonly processes: readonly PodProcess[];
  readonly samples: readonly LeaderSample[];
  /** Most processes that reported themselves leader in one sampling round. */
  maxConcurrentLeaders(): number;
  running(): PodProcess[];
  /** The /metrics text of a running pod's process ('' when it does not answer). */
  metrics(pod: string): Promise<string>;
  /** Log tails of every process, for failure messages. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

export interface PodRunnerOptions {
  namespace: string;
  /** Label selector of the controller pods. */
  selector: string;
  /** The bundled controller (image/controller-image.ts bundleController). */
  bundle: string;
  /** Another bundle for pods of some versions (label app.kubernetes.io/version), e.g. an older release's controller. */
  bundleFor?: Record<string, string>;
  /** The version of a pod without that label, by its controller image (0.1.0's pods had no version label). */
  versionOfImage?: Record<string, string>;
  /** Sampling period of the leader gauges. Default 100 ms. */
  sampleMs?: number;
  log?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function leaderGauge(port: number): Promise<boolean | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) });
    const text = await res.text();
    const m = /^leader_election_master_status\{[^}]*\} (\d+)/m.exec(text);
    return m ? m[1] === '1' : undefined;
  } catch {
    return undefined;
  }
}

export async function startPodRunner(o: PodRunnerOptions): Promise<PodRunner> {
  const kc = loadKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const log = o.log ?? ((m: string) => process.stderr.write(`pod-runner: ${m}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'pod-runner-'));
  const t0 = Date.now();
  const processes: PodProcess[] = [];
  const samples: LeaderSample[] = [];
  const byPod = new Map<string, PodProcess>();
  let stopping = false;

  const resolveEnv = async (pod: k8s.V1Pod, c: k8s.V1Container, tokenDir: string): Promise<Record<string, string>> => {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const f = e.valueFrom?.fieldRef?.fieldPath;
      if (f === 'metadata.name') env[e.name] = pod.metadata!.name!;
      else if (f === 'metadata.namespace') env[e.name] = pod.metadata!.namespace!;
      else if (f) {
        const a = /^metadata\.annotations\['(.+)'\]$/.exec(f);
        if (!a) throw new Error(`pod-runner: fieldRef ${f} is not supported`);
        env[e.name] = pod.metadata?.annotations?.[a[1]] ?? '';
      }
      const cm = e.valueFrom?.configMapKeyRef;
      if (cm) env[e.name] = (await core.readNamespacedConfigMap({ name: cm.name!, namespace: pod.metadata!.namespace! })).data?.[cm.key] ?? '';
    }
    if (env.BOOKING_API_TOKEN_FILE?.startsWith(BOOKING_TOKEN_DIR)) env.BOOKING_API_TOKEN_FILE = join(tokenDir, env.BOOKING_API_TOKEN_FILE.slice(BOOKING_TOKEN_DIR.length));
    return env;
  };

  const start = async (pod: k8s.V1Pod) => {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const c = pod.spec!.containers.find((x) => x.name === 'manager') ?? pod.spec!.containers[0];
    const podDir = join(dir, name);
    const tokenDir = join(podDir, 'booking');
    mkdirSync(tokenDir, { recursive: true });
    // The Secret volume (optional in the pod spec: a missing Secret leaves the folder empty).
    const vol = pod.spec!.volumes?.find((v) => v.secret && c.volumeMounts?.some((m) => m.name === v.name && m.mountPath === BOOKING_TOKEN_DIR));
    if (vol?.secret?.secretName) {
      try {
        const s = await core.readNamespacedSecret({ name: vol.secret.secretName, namespace });
        for (const [k, v] of Object.entries(s.data ?? {})) writeFileSync(join(tokenDir, k), Buffer.from(v, 'base64'), { mode: 0o600 });
      } catch {
        /* optional volume */
      }
    }
    // The ServiceAccount the pod runs as, with a bound token: the RBAC OLM created, nothing more.
    const sa = pod.spec!.serviceAccountName ?? 'default';
    const token = await mintToken(kc, namespace, sa);
    const kubeconfig = join(podDir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: kc.getCurrentCluster()!.server, 'certificate-authority-data': Buffer.from(clusterCa(kc)).toString('base64') } }],
        users: [{ name: sa, user: { token } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: sa, namespace } }],
        'current-context': 'c',
      }),
      { mode: 0o600 },
    );
    const env = await resolveEnv(pod, c, tokenDir);
    for (const m of c.volumeMounts ?? []) {
      const cmName = pod.spec!.volumes?.find((v) => v.name === m.name)?.configMap?.name;
      if (!cmName) continue;
      const hostDir = join(podDir, 'volumes', m.name);
      mkdirSync(hostDir, { recursive: true });
      try {
        const cm = await core.readNamespacedConfigMap({ name: cmName, namespace });
        for (const [k, v] of Object.entries(cm.data ?? {})) writeFileSync(join(hostDir, k), v);
      } catch {
        /* an optional volume whose ConfigMap is missing: an empty folder, as the kubelet mounts it */
      }
      for (const [k, v] of Object.entries(env)) if (v === m.mountPath || v.startsWith(`${m.mountPath}/`)) env[k] = hostDir + v.slice(m.mountPath.length);
    }
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const args = (c.args ?? [])
      .filter((a) => !a.startsWith('--metrics-bind-address') && !a.startsWith('--health-probe-bind-address'))
      .concat([`--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${healthPort}`]);
    if (stopping || byPod.has(name)) return;
    const version = pod.metadata?.labels?.['app.kubernetes.io/version'] ?? o.versionOfImage?.[c.image ?? ''] ?? 'unknown';
    const child = spawnTs(o.bundleFor?.[version] ?? o.bundle, args, { ...env, KUBECONFIG: kubeconfig, LOG_LEVEL: 'debug' });
    const p: PodProcess = { pod: name, version, child, metricsPort, startedAt: Date.now() - t0 };
    void child.exited.then((code) => {
      p.stoppedAt = Date.now() - t0;
      p.exitCode = code;
      if (!stopping) log(`${name} (${p.version}) exited with ${code}`);
    });
    byPod.set(name, p);
    processes.push(p);
    log(`started ${name} (version ${p.version}, pid ${child.pid}, metrics :${metricsPort})`);
  };

  const graceOf = new Map<string, number>();
  const reconcile = async () => {
    const pods = (await core.listNamespacedPod({ namespace: o.namespace, labelSelector: o.selector })).items;
    const live = new Set<string>();
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      graceOf.set(name, pod.spec?.terminationGracePeriodSeconds ?? 30);
      if (pod.metadata?.deletionTimestamp || !pod.spec?.nodeName) continue;
      live.add(name);
      if (!byPod.has(name)) await start(pod).catch((e: Error) => log(`could not start ${name}: ${e.message}`));
    }
    for (const p of byPod.values()) {
      if (!live.has(p.pod) && p.stoppedAt === undefined && p.child.process.exitCode === null && p.child.process.signalCode === null) {
        log(`pod ${p.pod} is going: SIGTERM`);
        void p.child.stop((graceOf.get(p.pod) ?? 30) * 1000);
      }
    }
  };

  let loops = Promise.resolve();
  const podLoop = (async () => {
    while (!stopping) {
      await reconcile().catch((e: Error) => log(`list pods: ${e.message}`));
      await sleep(200);
    }
  })();
  const sampleLoop = (async () => {
    while (!stopping) {
      const running = processes.filter((p) => p.stoppedAt === undefined);
      const states = await Promise.all(running.map(async (p) => ((await leaderGauge(p.metricsPort)) ? p.pod : undefined)));
      samples.push({ t: Date.now() - t0, leaders: states.filter((x): x is string => !!x) });
      await sleep(o.sampleMs ?? 100);
    }
  })();
  loops = Promise.all([podLoop, sampleLoop]).then(() => undefined);

  return {
    processes,
    samples,
    maxConcurrentLeaders: () => Math.max(0, ...samples.map((s) => s.leaders.length)),
    running: () => processes.filter((p) => p.stoppedAt === undefined),
    async metrics(pod: string) {
      const p = byPod.get(pod);
      if (!p) return '';
      try {
        return await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      } catch {
        return '';
      }
    },
    logs: (lines = 30) => processes.map((p) => `--- ${p.pod} (${p.version}, pid ${p.child.pid}) ---\n${p.child.tail(lines)}`).join('\n'),
    async stop() {
      stopping = true;
      await loops;
      await Promise.all(processes.map((p) => p.child.stop(5_000)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
