/**
 * The real node's configuration files, as text: containerd (config version 4),
 * the registry mirror (hosts.toml), the CNI bridge, kubelet, kube-proxy, the
 * local registry and CoreDNS. Pure functions of the layout; node.ts writes
 * them under the state dir. Why each non-default setting is there is said
 * beside it (most of it is what this machine kind needs: see
 * docs/real-node.md).
 */
import path from 'node:path';
import { SHIM_SOCKET_DIR } from './cleanup';

export const POD_SUBNET = '10.244.0.0/24';
export const CLUSTER_DNS = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const BRIDGE = 'cni0';
export const REGISTRY_PORT = 5000;
/** Registries whose pulls the node serves from the local one (no fallback: nothing leaves the machine). */
export const MIRRORED_REGISTRIES = ['ghcr.io'];

export interface Layout {
  state: string;
  bin: string;
  nodeIp: string;
  nodeName: string;
  /** Image reference of the sandbox (pause) image. */
  sandboxImage: string;
  server: string;
}

export const paths = (state: string) => ({
  containerdRoot: path.join(state, 'containerd', 'root'),
  containerdState: path.join(state, 'containerd', 'state'),
  containerdSocket: path.join(state, 'containerd', 'containerd.sock'),
  certsD: path.join(state, 'containerd', 'certs.d'),
  cniConfDir: path.join(state, 'cni', 'net.d'),
  cniIpam: path.join(state, 'cni', 'ipam'),
  kubeletRoot: path.join(state, 'kubelet'),
  podLogs: path.join(state, 'pod-logs'),
  registryRoot: path.join(state, 'registry'),
  etc: path.join(state, 'etc'),
});

export function containerdToml(l: Layout): string {
  const p = paths(l.state);
  return `version = 4
root = '${p.containerdRoot}'
state = '${p.containerdState}'
# No /etc/containerd/conf.d drop-ins from the host.
imports = []
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.internal.v1.opt', 'io.containerd.snapshotter.v1.blockfile', 'io.containerd.snapshotter.v1.erofs', 'io.containerd.differ.v1.erofs', 'io.containerd.mount-handler.v1.erofs']

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = '${p.containerdSocket}'
  [plugins.'io.containerd.server.v1.ttrpc']
    address = '${p.containerdSocket}.ttrpc'
  [plugins.'io.containerd.server.v1.debug']
    address = ''
  [plugins.'io.containerd.shim.v1.manager']
    # Default /run/containerd/s/<hash>. At most 42 characters (containerd
    # refuses longer), so not under the state dir: SHIM_SOCKET_DIR.
    socket_dir = '${SHIM_SOCKET_DIR}'

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '${l.sandboxImage}'
    [plugins.'io.containerd.cri.v1.images'.registry]
      # hosts.toml per registry, re-read on every pull.
      config_path = '${p.certsD}'

  [plugins.'io.containerd.cri.v1.runtime']
    netns_mounts_under_state_dir = true
    # Root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj (pause -998,
    # Guaranteed pods -997) fails in runc init. Clamp to containerd's own.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '${path.join(l.bin, 'runc')}'
          # runc --root; default /run/containerd/runc.
          Root = '${path.join(l.state, 'containerd', 'runc')}'
          # kubelet uses the cgroupfs driver (no systemd here).
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '${p.cniConfDir}'
      max_conf_num = 1

  [plugins.'io.containerd.grpc.v1.cri']
    # Streaming (exec/attach/port-forward) on the namespace's loopback; kubelet proxies it.
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

/** hosts.toml for one mirrored registry: every pull and resolve goes to the local registry, no fallback. */
export function hostsToml(registry: string): string {
  return `# Served by the node's local registry; server is local too, so a miss
# never falls back to the real registry.
server = "http://${registry}"

[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
}

export function cniConflist(l: Layout): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'flight',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            // Default /var/lib/cni/networks: a host path.
            dataDir: paths(l.state).cniIpam,
            ranges: [[{ subnet: POD_SUBNET }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(l: Layout): string {
  const p = paths(l.state);
  const pki = path.join(l.state, 'pki');
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1; kubelet 1.35+ refuses it unless told (see docs/toolchain.md).
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${p.containerdSocket}
imageServiceEndpoint: unix://${p.containerdSocket}
address: ${l.nodeIp}
port: 10250
readOnlyPort: 0
# On the node address so the host can poll it.
healthzBindAddress: ${l.nodeIp}
healthzPort: 10248
tlsCertFile: ${path.join(pki, 'kubelet-serving.crt')}
tlsPrivateKeyFile: ${path.join(pki, 'kubelet-serving.key')}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${path.join(pki, 'ca.crt')}}
authorization:
  mode: Webhook
clusterDomain: ${CLUSTER_DOMAIN}
clusterDNS: [${CLUSTER_DNS}]
# Pods get cluster DNS only; the host's resolv.conf names servers outside.
resolvConf: ${path.join(p.etc, 'resolv.conf')}
podLogsDir: ${p.podLogs}
failSwapOn: false
serializeImagePulls: false
# A shared test machine: evict only when really short, never collect images.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusReportFrequency: 10s
# One image ID may be both pulled (ghcr.io/...@sha256 through the mirror) and
# imported under another name; without this the imported name would be
# "not present" for imagePullPolicy Never (KubeletEnsureSecretPulledImages).
imagePullCredentialsVerificationPolicy: NeverVerify
`;
}

export function kubeProxyConfig(l: Layout, kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
mode: nftables
hostnameOverride: ${l.nodeName}
clusterCIDR: 10.244.0.0/16
bindAddress: ${l.nodeIp}
healthzBindAddress: ${l.nodeIp}:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [${l.nodeIp}/32]
# A pod reaching a Service whose endpoint is a pod on the same bridge would
# get the reply straight from that pod (not un-NATed) unless bridged traffic
# goes through netfilter; masquerading all Service traffic makes replies
# return through the node either way.
masqueradeAll: true
# Leave the global conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
`;
}

export function registryConfig(rootDir: string, addr: string): string {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${rootDir}
  delete:
    enabled: true
http:
  addr: ${addr}
  secret: flight-test-registry
`;
}

/**
 * CoreDNS serves cluster.local from the API (the kubernetes plugin) on the
 * node address; the kube-dns Service's ClusterIP points at it. Nothing is
 * forwarded: other names fail, as they should with no way out.
 */
export function corefile(l: Layout, kubeconfig: string): string {
  return `.:53 {
    bind ${l.nodeIp}
    errors
    health ${l.nodeIp}:8180
    ready ${l.nodeIp}:8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig} flight
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`;
}
