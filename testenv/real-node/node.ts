/**
 * One real Kubernetes node beside testenv's control plane, in the manner of
 * kind's node providers: a small interface (start, teardown, status) over
 * what makes the node.
 *
 *   const node = await startRealNode();      // control plane + node, ~watchdog-guarded
 *   ... KUBECONFIG=node.cluster.kubeconfigPath; push to node.registry ...
 *   await node.teardown();                   // leaves nothing on the machine
 *
 * Layout (docs/real-node.md): a network namespace made by the run (NETNS),
 * joined to the host by a veth /30 (host HOST_IP, node NODE_IP) and with no
 * default route, holds the control plane, containerd, kubelet, kube-proxy
 * (nftables), the CNI bridge with the pods, CoreDNS and a local registry
 * (Debian's docker-registry). containerd pulls ghcr.io/... and
 * registry.k8s.io/... from that registry (hosts.toml mirrors, no fallback),
 * so digest-pinned manifests pull unchanged and nothing leaves the machine.
 * Every process enters the namespace with `nsenter --net` (not `ip netns
 * exec`, which also remounts /sys and hides the cgroups). Only one such node
 * can run on a machine at a time (host sysctls, cgroup root, host paths).
 *
 * State: <cluster dir>/real-node.json (what cleanup.ts needs to undo it all,
 * written before anything is made) and <cluster dir>/node/ (configs,
 * containerd and kubelet roots, registry storage, pod logs). Teardown is
 * cluster.stop(): stopCluster() runs cleanup.ts's two phases around the
 * control plane's stop, and so do the watchdog and the stale-cluster reaper
 * when the owner died.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { REPO_ROOT, resolveBinaries } from '../binaries';
import { issue, loadIssued } from '../certs';
import { apiClient, Cluster, clusterRoot, procStartTime, readState, reapStaleClusters, SERVICE_CIDR, startCluster } from '../cluster';
import { kubeconfigYaml, writePair } from '../pki';
import {
  HOST_IP,
  HOST_PATHS,
  HOST_VETH,
  KUBELET_SYSCTLS,
  leftovers,
  NETNS,
  NODE_IP,
  NODE_VETH,
  NodeRecord,
  readRecord,
  readSysctl,
  recordFile,
  removeNetwork,
  restoreSysctls,
  stopNode,
  VETH_PREFIX,
} from './cleanup';
import { CLUSTER_DNS, containerdToml, corefile, cniConflist, hostsToml, kubeletConfig, kubeProxyConfig, Layout, MIRRORED_REGISTRIES, paths, REGISTRY_PORT, registryConfig } from './configs';
import { pushPauseImage, SANDBOX_IMAGE } from './pause-image';

export const NODE_NAME = 'flight-node';
/** host:port of the node's local registry, reachable from the host and from containerd. */
export const REGISTRY = `${NODE_IP}:${REGISTRY_PORT}`;

export interface NodeStatus {
  name: string;
  processes: Record<string, { pid: number; running: boolean }>;
  leftovers: string[];
}

export interface RealNode {
  cluster: Cluster;
  name: string;
  ip: string;
  /** host:port of the local registry: push with skopeo --dest-tls-verify=false. */
  registry: string;
  stateDir: string;
  /** Folder of the node's binaries (tools/ensure.sh node): crictl, ctr, runc ... */
  bin: string;
  /** Seconds from start to each milestone. */
  timings: Record<string, number>;
  /** crictl against the node's containerd; resolves with stdout, rejects on a non-zero exit. */
  crictl(args: string[]): string;
  status(): NodeStatus;
  teardown(): Promise<void>;
}

export interface RealNodeOptions {
  log?: (m: string) => void;
  /** Whole start, control plane included. Default 180 s. */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Commands and files the node needs from the machine (Debian packages: tools/node/apt.sh). */
const HOST_NEEDS = ['/usr/bin/nsenter', '/usr/sbin/ip', '/usr/sbin/nft', '/usr/sbin/iptables', '/usr/bin/docker-registry', '/usr/bin/skopeo', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/portmap', '/usr/lib/cni/loopback'];
const NODE_BINARIES = ['kubelet', 'kube-proxy', 'containerd', 'containerd-shim-runc-v2', 'ctr', 'runc', 'crictl', 'coredns', 'pause'];

/** tools/ensure.sh node (built on first use, then cached), or FLIGHT_NODE_BIN. A missing piece fails with what is missing. */
export function nodeBinDir(log: (m: string) => void): string {
  let dir = process.env.FLIGHT_NODE_BIN;
  if (!dir) {
    const apt = spawnSync('bash', [path.join(REPO_ROOT, 'tools', 'node', 'apt.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (apt.status !== 0) throw new Error(`real node: tools/node/apt.sh failed (exit ${apt.status})`);
    log('real node: binaries from tools/ensure.sh node');
    const r = spawnSync('bash', [path.join(REPO_ROOT, 'tools', 'ensure.sh'), 'node'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`real node: tools/ensure.sh node failed (exit ${r.status})`);
    dir = r.stdout.trim().split('\n').pop()!;
  }
  const missing = [...NODE_BINARIES.map((b) => path.join(dir!, b)), ...HOST_NEEDS].filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`real node: missing ${missing.join(', ')} (tools/ensure.sh node builds the binaries, tools/node/apt.sh installs the rest)`);
  return dir;
}

/**
 * Why a real node cannot start here without installing or building anything
 * (not root, the node family not built yet, a Debian part missing), or
 * undefined when it can. For callers that fall back instead of building (npm run demo).
 */
export function realNodeUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (a node needs a network namespace, mounts and cgroups)';
  const cache = process.env.FLIGHT_TOOLS_CACHE ?? path.join(os.homedir(), '.cache', 'flight-operator', 'tools');
  // The cache key tools/ensure.sh computes for the family.
  const hash = spawnSync('bash', ['-c', "find . -type f ! -path './bin/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16"], { cwd: path.join(REPO_ROOT, 'tools', 'node'), encoding: 'utf8' }).stdout.trim();
  const dir = process.env.FLIGHT_NODE_BIN ?? path.join(cache, `node-${hash}`, 'bin');
  if (!process.env.FLIGHT_NODE_BIN && !existsSync(path.join(dir, '..', '.complete'))) return 'the node tool family is not built (tools/ensure.sh node, minutes)';
  const missing = [...NODE_BINARIES.map((b) => path.join(dir, b)), ...HOST_NEEDS].filter((f) => !existsSync(f));
  return missing.length ? `missing ${missing.join(', ')} (tools/node/apt.sh installs the Debian parts)` : undefined;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`real node: ${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  return r.stdout;
}

function writeRecord(dir: string, rec: NodeRecord): void {
  const f = recordFile(dir);
  writeFileSync(`${f}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  renameSync(`${f}.tmp`, f);
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A node of this machine that is still there: wait for a live owner's to go
 * (one node per machine), tear down one whose owner is gone.
 */
async function claimMachine(log: (m: string) => void, timeoutMs: number): Promise<void> {
  await reapStaleClusters(log);
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/run/netns/${NETNS}`)) {
    const runDir = path.join(clusterRoot(), 'run');
    const holders = existsSync(runDir) ? readdirSync(runDir).filter((d) => readRecord(path.join(runDir, d))) : [];
    const liveHolder = holders.find((d) => {
      const owner = readState(path.join(runDir, d))?.owner;
      return owner && procStartTime(owner.pid) === owner.startTime;
    });
    if (!liveHolder) {
      log(`real node: removing the network namespace ${NETNS} of a run that is gone`);
      await removeNetwork(null, log);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`real node: another real node runs on this machine (${path.join(runDir, liveHolder)}); only one at a time`);
    await sleep(1000);
  }
}

export async function startRealNode(opts: RealNodeOptions = {}): Promise<RealNode> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const timeoutMs = opts.timeoutMs ?? 180_000;
  if (process.getuid?.() !== 0) throw new Error('real node: needs root (network namespace, mounts, cgroups)');
  const bin = nodeBinDir(log);
  const binaries = resolveBinaries({ log });
  await claimMachine(log, timeoutMs);

  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string) => (timings[k] = Math.round((Date.now() - t0) / 10) / 100);
  mkdirSync(path.join(clusterRoot(), 'run'), { recursive: true });
  const dir = mkdtempSync(path.join(clusterRoot(), 'run', 'c-'));
  const state = path.join(dir, 'node');
  const logs = path.join(dir, 'logs');
  const p = paths(state);
  for (const d of [logs, p.etc, p.certsD, p.cniConfDir, p.kubeletRoot, path.join(state, 'pki')]) mkdirSync(d, { recursive: true });

  // Everything cleanup needs, before anything is made.
  const rec: NodeRecord = {
    version: 1,
    netns: NETNS,
    hostVeth: HOST_VETH,
    stateDir: state,
    sysctls: Object.fromEntries(KUBELET_SYSCTLS.map((k) => [k, readSysctl(k)])),
    createdHostPaths: HOST_PATHS.filter((h) => !existsSync(h)),
    processes: {},
    crictl: path.join(bin, 'crictl'),
    containerdSocket: p.containerdSocket,
  };
  writeRecord(dir, rec);

  let cluster: Cluster | undefined;
  const failStart = async (e: unknown): Promise<never> => {
    log(`real node: start failed after ${((Date.now() - t0) / 1000).toFixed(1)}s; tearing it down`);
    if (cluster) await cluster.stop();
    else {
      await stopNode(dir, log);
      await removeNetwork(dir, log);
    }
    throw e;
  };

  const daemon = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number => {
    const logFile = path.join(logs, `${name}.log`);
    const out = openSync(logFile, 'a');
    // Detached, stdio on files only: a container that inherits a pipe someone waits on hangs them.
    const child = spawn('nsenter', [`--net=/run/netns/${NETNS}`, '--', cmd, ...args], { detached: true, stdio: ['ignore', out, out], env, cwd: state });
    closeSync(out);
    child.unref();
    child.on('exit', (code, sig) => {
      if (!stopping) log(`real node: ${name} exited (${sig ?? code}); last lines of ${logFile}:\n${tail(logFile, 15)}`);
    });
    rec.processes[name] = child.pid!;
    writeRecord(dir, rec);
    return child.pid!;
  };
  let stopping = false;

  try {
    // The network: a namespace, a veth /30, loopback up; no default route inside.
    run('ip', ['netns', 'add', NETNS]);
    run('ip', ['link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', NODE_VETH, 'netns', NETNS]);
    run('ip', ['addr', 'add', `${HOST_IP}/${VETH_PREFIX}`, 'dev', HOST_VETH]);
    run('ip', ['link', 'set', HOST_VETH, 'up']);
    run('ip', ['-n', NETNS, 'addr', 'add', `${NODE_IP}/${VETH_PREFIX}`, 'dev', NODE_VETH]);
    run('ip', ['-n', NETNS, 'link', 'set', NODE_VETH, 'up']);
    run('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
    // A route for ClusterIPs, so the node's own processes (a hostNetwork pod,
    // OLM's catalog operator dialing a registry pod's Service) get past
    // routing to kube-proxy's DNAT, as on a node with a default route. Over
    // lo: whatever kube-proxy does not rewrite stays in the namespace.
    run('ip', ['-n', NETNS, 'route', 'add', SERVICE_CIDR, 'dev', 'lo', 'src', NODE_IP]);
    mark('network');

    const layout: Layout = { state, bin, nodeIp: NODE_IP, nodeName: NODE_NAME, sandboxImage: SANDBOX_IMAGE, server: '' };
    writeFileSync(path.join(p.etc, 'containerd.toml'), containerdToml(layout));
    for (const reg of [...MIRRORED_REGISTRIES, 'registry.k8s.io']) {
      mkdirSync(path.join(p.certsD, reg), { recursive: true });
      writeFileSync(path.join(p.certsD, reg, 'hosts.toml'), hostsToml(REGISTRY));
    }
    writeFileSync(path.join(p.cniConfDir, '10-flight.conflist'), cniConflist(layout));
    writeFileSync(path.join(p.etc, 'registry.yml'), registryConfig(p.registryRoot, REGISTRY));
    writeFileSync(path.join(p.etc, 'resolv.conf'), `nameserver ${CLUSTER_DNS}\n`);
    // The shim and the CNI plugins' iptables are found on PATH.
    const nodeEnv = { ...process.env, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` };

    // Runtime and registry need no control plane: start them beside it.
    daemon('registry', '/usr/bin/docker-registry', ['serve', path.join(p.etc, 'registry.yml')], nodeEnv);
    daemon('containerd', path.join(bin, 'containerd'), ['--config', path.join(p.etc, 'containerd.toml')], nodeEnv);
    const pause = (async () => {
      const deadline = Date.now() + 30_000;
      while (!(await httpOk(`http://${REGISTRY}/v2/`))) {
        if (Date.now() > deadline) throw new Error(`real node: registry did not answer; last lines:\n${tail(path.join(logs, 'registry.log'))}`);
        await sleep(50);
      }
      mark('registry');
      await pushPauseImage(bin, REGISTRY, path.join(state, 'images'));
      mark('pauseImage');
    })();
    pause.catch(() => {}); // awaited below; this keeps an early rejection from going unhandled

    cluster = await startCluster({ network: { netns: NETNS, address: NODE_IP }, dir, binaries, log, timeoutMs });
    mark('controlPlane');
    layout.server = cluster.server;

    // Node identities, signed by the cluster CA.
    const cpki = path.join(dir, 'pki');
    const npki = path.join(state, 'pki');
    const ca = loadIssued(readFileSync(path.join(cpki, 'ca.crt'), 'utf8'), readFileSync(path.join(cpki, 'ca.key'), 'utf8'), { commonName: 'flight-operator-test-ca' });
    copyFileSync(path.join(cpki, 'ca.crt'), path.join(npki, 'ca.crt'));
    // Node authorizer + NodeRestriction know a kubelet by this name and group.
    writePair(npki, 'kubelet', issue({ subject: { commonName: `system:node:${NODE_NAME}`, organizations: ['system:nodes'] }, issuer: ca, client: true }));
    // The apiserver checks the kubelet's serving cert against the CA and the node IP (--kubelet-certificate-authority).
    writePair(npki, 'kubelet-serving', issue({ subject: { commonName: NODE_NAME }, issuer: ca, server: true, dnsNames: [NODE_NAME], ips: [NODE_IP] }));
    // Bootstrap RBAC binds system:node-proxier to this user.
    writePair(npki, 'kube-proxy', issue({ subject: { commonName: 'system:kube-proxy' }, issuer: ca, client: true }));
    // CoreDNS reads Services, EndpointSlices, Namespaces and Pods cluster-wide.
    copyFileSync(path.join(cpki, 'admin.crt'), path.join(npki, 'coredns.crt'));
    copyFileSync(path.join(cpki, 'admin.key'), path.join(npki, 'coredns.key'));
    const kc = (user: string) => {
      const f = path.join(p.etc, `${user}.kubeconfig`);
      writeFileSync(f, kubeconfigYaml(cluster!.server, npki, user), { mode: 0o600 });
      return f;
    };
    writeFileSync(path.join(p.etc, 'kubelet.yaml'), kubeletConfig(layout));
    writeFileSync(path.join(p.etc, 'kube-proxy.yaml'), kubeProxyConfig(layout, kc('kube-proxy')));
    writeFileSync(path.join(p.etc, 'Corefile'), corefile(layout, kc('coredns')));

    // The socket comes before the CRI service is registered: ask the CRI itself.
    const crictlReady = () => spawnSync(path.join(bin, 'crictl'), ['--runtime-endpoint', `unix://${p.containerdSocket}`, '--timeout', '2s', 'info'], { stdio: 'ignore' }).status === 0;
    const socketDeadline = Date.now() + 30_000;
    while (!existsSync(p.containerdSocket) || !crictlReady()) {
      if (Date.now() > socketDeadline) throw new Error(`real node: containerd did not start; last lines:\n${tail(path.join(logs, 'containerd.log'))}`);
      await sleep(50);
    }
    mark('containerd');
    await pause;

    daemon('kube-proxy', path.join(bin, 'kube-proxy'), [`--config=${path.join(p.etc, 'kube-proxy.yaml')}`], nodeEnv);
    daemon('coredns', path.join(bin, 'coredns'), ['-conf', path.join(p.etc, 'Corefile')], nodeEnv);
    daemon(
      'kubelet',
      path.join(bin, 'kubelet'),
      [
        `--config=${path.join(p.etc, 'kubelet.yaml')}`,
        `--kubeconfig=${kc('kubelet')}`,
        `--root-dir=${p.kubeletRoot}`,
        `--cert-dir=${path.join(p.kubeletRoot, 'pki')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_IP}`,
      ],
      nodeEnv,
    );

    // Cluster DNS: a selector-less kube-dns Service whose endpoint is CoreDNS on the node address.
    await applyDns(cluster);

    const api = apiClient(cluster.server, cpki);
    const deadline = t0 + timeoutMs;
    const until = async (what: string, check: () => Promise<boolean>, logOf: string) => {
      while (!(await check().catch(() => false))) {
        const dead = Object.entries(rec.processes).find(([, pid]) => !existsSync(`/proc/${pid}`));
        if (dead) throw new Error(`real node: ${dead[0]} exited; last lines of its log:\n${tail(path.join(logs, `${dead[0]}.log`))}`);
        if (Date.now() > deadline) throw new Error(`real node: timed out waiting for ${what}; last lines of ${logOf}.log:\n${tail(path.join(logs, `${logOf}.log`))}`);
        await sleep(100);
      }
    };
    await until(
      `Node ${NODE_NAME} Ready`,
      async () => {
        const r = await api.request('GET', `/api/v1/nodes/${NODE_NAME}`);
        if (r.status !== 200) return false;
        const ready = (JSON.parse(r.body).status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
        return ready?.status === 'True';
      },
      'kubelet',
    );
    mark('nodeReady');
    // kubelet rewrote kernel.panic, kernel.panic_on_oops and vm.overcommit_memory at its start: put them back.
    restoreSysctls(rec, log);
    await until('kube-proxy /healthz', () => httpOk(`http://${NODE_IP}:10256/healthz`), 'kube-proxy');
    await until('CoreDNS /ready', () => httpOk(`http://${NODE_IP}:8181/ready`), 'coredns');
    mark('ready');
  } catch (e) {
    stopping = true;
    return failStart(e);
  }

  const c = cluster;
  let tornDown: Promise<void> | undefined;
  return {
    cluster: c,
    name: NODE_NAME,
    ip: NODE_IP,
    registry: REGISTRY,
    stateDir: state,
    bin,
    timings,
    crictl: (args) => run(path.join(bin, 'crictl'), ['--runtime-endpoint', `unix://${p.containerdSocket}`, ...args]),
    status: () => ({
      name: NODE_NAME,
      processes: Object.fromEntries(Object.entries(rec.processes).map(([n, pid]) => [n, { pid, running: existsSync(`/proc/${pid}`) }])),
      leftovers: leftovers(state),
    }),
    teardown: () => {
      stopping = true;
      return (tornDown ??= c.stop());
    },
  };
}

async function applyDns(cluster: Cluster): Promise<void> {
  const api = apiClient(cluster.server, path.join(cluster.dir, 'pki'));
  const objects: Array<[string, object]> = [
    [
      '/api/v1/namespaces/kube-system/services',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
        spec: {
          clusterIP: CLUSTER_DNS,
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
            { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          ],
        },
      },
    ],
    [
      '/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices',
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'kube-dns-node', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'flight-operator-testenv' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [NODE_IP], conditions: { ready: true } }],
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    ],
  ];
  for (const [url, body] of objects) {
    const r = await api.request('POST', url, body);
    if (r.status !== 201 && r.status !== 409) throw new Error(`real node: POST ${url}: ${r.status} ${r.body.slice(0, 300)}`);
  }
}

/**
 * A command prefix that runs a host program inside the node's network
 * namespace with the cluster's DNS (CoreDNS on the node, a pod's search path),
 * as a hostNetwork pod would run: it reaches Services by name and ClusterIP.
 * OLM's catalog operator needs that to dial a registry pod
 * (`<catalog>.<namespace>.svc:50051`). The resolv.conf is bind-mounted in a
 * mount namespace of the program's own; the host's stays as it is.
 */
export function inNodeNetwork(stateDir: string): string[] {
  const resolv = path.join(stateDir, 'etc', 'node-network-resolv.conf');
  writeFileSync(resolv, `nameserver ${NODE_IP}\nsearch svc.cluster.local cluster.local\noptions ndots:5\n`);
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', `mount --bind "$0" /etc/resolv.conf && exec nsenter --net=/run/netns/${NETNS} -- "$@"`, resolv];
}
