/**
 * What each control plane component runs with (binary, flags, environment):
 * one job of testenv's control plane; cluster.ts starts and supervises them.
 *
 * Two layouts. The default: everything on 127.0.0.1 of the host, kwok for a
 * fake Node. With `network` (a real node, testenv/real-node/): every component
 * runs inside the node's network namespace (entered with nsenter --net, not
 * `ip netns exec`, which would also remount /sys), the apiserver serves on all
 * of that namespace's addresses and advertises the node address, so the
 * `kubernetes` Service has a real endpoint pods can reach; it talks to the
 * kubelet with its own client certificate and authorizes nodes with the Node
 * authorizer, as kubeadm sets it up. No kwok then.
 */
import path from 'node:path';
import type { Binaries } from './binaries';
import type { Component, Ports } from './cluster';

export const SERVICE_CIDR = '10.96.0.0/16';
export const POD_CIDR = '10.244.0.0/16';
/** kwok manages only Nodes carrying this annotation. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** Where the control plane runs when a real node is beside it. */
export interface ControlPlaneNetwork {
  /** Name under /run/netns. */
  netns: string;
  /** The node's address in it, advertised by the apiserver and reachable from the host. */
  address: string;
}

export interface SpecOptions {
  dir: string;
  binaries: Binaries;
  ports: Ports;
  nodeName: string;
  controllerServiceAccounts: boolean;
  network?: ControlPlaneNetwork;
}

/** The components to start, in start order. */
export function specs(o: SpecOptions): Spec[] {
  const all = baseSpecs(o.dir, o.binaries, o.ports, o.nodeName, o.controllerServiceAccounts);
  const net = o.network;
  if (!net) return all;
  const p = (f: string) => path.join(o.dir, 'pki', f);
  return all
    .filter((s) => s.name !== 'kwok')
    .map((s) => {
      let args = s.args;
      if (s.name === 'kube-apiserver') {
        const drop = ['--bind-address=', '--advertise-address=', '--endpoint-reconciler-type=', '--authorization-mode='];
        args = [
          ...args.filter((a) => !drop.some((d) => a.startsWith(d))),
          // All addresses of the node's namespace (its loopback for the other
          // components, the node address for the host and the pods): all ours.
          '--bind-address=0.0.0.0',
          `--advertise-address=${net.address}`,
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          `--kubelet-client-certificate=${p('apiserver-kubelet-client.crt')}`,
          `--kubelet-client-key=${p('apiserver-kubelet-client.key')}`,
          `--kubelet-certificate-authority=${p('ca.crt')}`,
          '--kubelet-preferred-address-types=InternalIP',
        ];
      }
      return { ...s, bin: 'nsenter', args: [`--net=/run/netns/${net.netns}`, '--', s.bin, ...args] };
    });
}

export interface Spec {
  name: Component;
  bin: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

function baseSpecs(dir: string, b: Binaries, ports: Ports, nodeName: string, controllerServiceAccounts: boolean): Spec[] {
  const pki = path.join(dir, 'pki');
  const p = (f: string) => path.join(pki, f);
  const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
  const kc = (n: string) => path.join(dir, `${n}.kubeconfig`);
  return [
    {
      name: 'etcd',
      bin: b.etcd,
      args: [
        '--name=default',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--initial-cluster-state=new',
        // Test data: no fsync (much faster on shared disks), a small quota.
        '--unsafe-no-fsync=true',
        '--quota-backend-bytes=2147483648',
        '--log-level=warn',
      ],
    },
    {
      name: 'kube-apiserver',
      bin: b.kubeApiserver,
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        `--cert-dir=${pki}`,
        `--tls-cert-file=${p('apiserver.crt')}`,
        `--tls-private-key-file=${p('apiserver.key')}`,
        `--client-ca-file=${p('ca.crt')}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${p('sa.pub')}`,
        `--service-account-signing-key-file=${p('sa.key')}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--authorization-mode=RBAC',
        // Privileged pods are allowed by the apiserver itself, so Pod Security
        // admission (enabled by default) is what decides per namespace.
        '--allow-privileged=true',
        // The "kubernetes" Service cannot point at a loopback address.
        '--endpoint-reconciler-type=none',
        `--requestheader-client-ca-file=${p('front-proxy-ca.crt')}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${p('front-proxy-client.crt')}`,
        `--proxy-client-key-file=${p('front-proxy-client.key')}`,
        '--profiling=false',
      ],
    },
    {
      name: 'kube-controller-manager',
      bin: b.kubeControllerManager,
      args: [
        `--kubeconfig=${kc('kube-controller-manager')}`,
        // No --authentication/authorization-kubeconfig: with them it exits when
        // started before the apiserver's bootstrap RBAC exists. Its /healthz
        // is served without them.
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        '--leader-elect=false',
        `--use-service-account-credentials=${controllerServiceAccounts}`,
        `--service-account-private-key-file=${p('sa.key')}`,
        `--root-ca-file=${p('ca.crt')}`,
        `--cluster-signing-cert-file=${p('ca.crt')}`,
        `--cluster-signing-key-file=${p('ca.key')}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--cluster-name=flight',
        '--profiling=false',
      ],
    },
    {
      name: 'kube-scheduler',
      bin: b.kubeScheduler,
      args: [
        // No --config: it would silently override --kubeconfig.
        `--kubeconfig=${kc('kube-scheduler')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        '--leader-elect=false',
        '--profiling=false',
      ],
    },
    {
      name: 'kwok',
      bin: b.kwok,
      args: [
        `--kubeconfig=${kc('kwok')}`,
        `--config=${b.kwokStages}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        `--cidr=${POD_CIDR}`,
        '--node-ip=127.0.0.1',
        // Keep the node's Lease renewed (what the heartbeat-with-lease stage
        // assumes: it posts status only every 10-20 min). Without it the node
        // lifecycle controller marks the node NotReady (and taints it) 50 s
        // after every status heartbeat.
        '--node-lease-duration-seconds=40',
        `--node-name=${nodeName}`,
      ],
      // kwok also loads ~/.kwok/kwok.yaml when it exists: keep the user's out.
      env: { ...process.env, HOME: path.join(dir, 'kwok-home') },
    },
  ];
}
