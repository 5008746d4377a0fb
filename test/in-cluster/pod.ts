/**
 * What the kubelet would do for one controller pod, done by hand for
 * test/in-cluster/service-account.test.ts: the operator chart's RBAC for a
 * namespace, a ServiceAccount token from the TokenRequest API, the
 * ServiceAccount volume (/var/run/secrets/kubernetes.io/serviceaccount) and
 * the booking-credentials volume written into an unpacked image rootfs, and
 * the container's environment resolved from the synthesized Deployment
 * (fieldRefs, configMapKeyRefs) the way the kubelet resolves it.
 */
import { Testing } from 'cdk8s';
import { chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join, posix } from 'node:path';
import { OperatorChart } from '../../infra/charts/operator-chart';
import { defaultSettings } from '../../infra/defaults';
import { k8s } from '../../testenv/kube';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

export interface OperatorObjects {
  /** ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding: what gets applied. */
  rbac: any[];
  deployment: any;
  configMap: any;
  serviceAccountName: string;
}

/**
 * The operator chart synthesized for `namespace`, as users get it. The
 * cluster-scoped ClusterRole and ClusterRoleBinding are renamed to
 * `clusterRbacName` (and the binding's roleRef follows): they are named
 * flight-operator-controller in the chart, and other test files
 * (test/operator/deployment-and-rbac.test.ts) apply and delete objects of that
 * name bound to their own namespace's ServiceAccount. Only the names change;
 * rules and subjects are the chart's.
 */
export function synthOperator(namespace: string, bookingApiUrl: string, clusterRbacName: string): OperatorObjects {
  const objects = Testing.synth(new OperatorChart(Testing.app(), 'in-cluster', { settings: defaultSettings({ namespace, bookingApiUrl }) })) as any[];
  const rbac = objects.filter((o) => RBAC_KINDS.includes(o.kind)).map((o) => structuredClone(o));
  const clusterRole = rbac.find((o) => o.kind === 'ClusterRole');
  const binding = rbac.find((o) => o.kind === 'ClusterRoleBinding');
  if (!clusterRole || !binding || binding.roleRef.name !== clusterRole.metadata.name) throw new Error('operator chart: no ClusterRole bound by a ClusterRoleBinding');
  clusterRole.metadata.name = clusterRbacName;
  binding.metadata.name = clusterRbacName;
  binding.roleRef.name = clusterRbacName;
  const deployment = objects.find((o) => o.kind === 'Deployment');
  // The ConfigMap the container's env reads (the chart has others: the optional objects).
  const envConfigMaps = new Set<string>((deployment?.spec.template.spec.containers ?? []).flatMap((c: any) => (c.env ?? []).map((e: any) => e.valueFrom?.configMapKeyRef?.name).filter(Boolean)));
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && envConfigMaps.has(o.metadata.name));
  const sa = rbac.find((o) => o.kind === 'ServiceAccount');
  if (!deployment || !configMap || !sa) throw new Error('operator chart: Deployment, ConfigMap or ServiceAccount missing');
  if (deployment.spec.template.spec.serviceAccountName !== sa.metadata.name) {
    throw new Error(`the Deployment runs as ${deployment.spec.template.spec.serviceAccountName}, not the chart's ServiceAccount ${sa.metadata.name}`);
  }
  return { rbac, deployment, configMap, serviceAccountName: sa.metadata.name };
}

/** A bound ServiceAccount token from the TokenRequest API, as the kubelet gets one for a projected volume. */
export async function mintToken(kc: k8s.KubeConfig, namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
  const tr = await kc.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return token;
}

/** The cluster CA (PEM) from the kubeconfig: certificate-authority-data or -file. */
export function clusterCa(kc: k8s.KubeConfig): string {
  const c = kc.getCurrentCluster();
  if (c?.caData) return Buffer.from(c.caData, 'base64').toString('utf8');
  if (c?.caFile) return readFileSync(c.caFile, 'utf8');
  throw new Error('kubeconfig has no certificate authority for its current cluster');
}

/**
 * Writes `content` at the absolute image path `path` inside `rootfs`,
 * creating parent folders (0755 root). Refuses to go through a symlink: an
 * absolute link in the image (e.g. /var/run -> /run) would otherwise write to
 * the host.
 */
export function writeInRootfs(rootfs: string, path: string, content: string, opts: { mode: number; uid?: number; gid?: number }): void {
  if (!posix.isAbsolute(path)) throw new Error(`not an absolute path: ${path}`);
  let at = rootfs;
  for (const part of posix.dirname(path).split('/').filter(Boolean)) {
    at = join(at, part);
    try {
      if (lstatSync(at).isSymbolicLink()) throw new Error(`${path}: ${at} is a symlink in the rootfs`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(at, { mode: 0o755 });
    }
  }
  const file = join(rootfs, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: opts.mode });
  chownSync(file, opts.uid ?? 0, opts.gid ?? 0);
}

/** The ServiceAccount volume as the kubelet projects it: token, ca.crt, namespace (0644, as its defaultMode). */
export function writeServiceAccountVolume(rootfs: string, files: { token: string; ca: string; namespace: string }): void {
  writeInRootfs(rootfs, `${SERVICE_ACCOUNT_DIR}/token`, files.token, { mode: 0o644 });
  writeInRootfs(rootfs, `${SERVICE_ACCOUNT_DIR}/ca.crt`, files.ca, { mode: 0o644 });
  writeInRootfs(rootfs, `${SERVICE_ACCOUNT_DIR}/namespace`, files.namespace, { mode: 0o644 });
}

export interface PodFacts {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
}

/** The container's env and args, fieldRefs and configMapKeyRefs resolved as the kubelet resolves them. */
export function containerEnv(objects: OperatorObjects, pod: PodFacts, container = 'manager'): { env: Record<string, string>; args: string[] } {
  const c = objects.deployment.spec.template.spec.containers.find((x: { name: string }) => x.name === container);
  if (!c) throw new Error(`no container ${container} in the Deployment`);
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) env[e.name] = fieldRef(e.valueFrom.fieldRef.fieldPath, pod);
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      if (ref.name !== objects.configMap.metadata.name) throw new Error(`env ${e.name}: ConfigMap ${ref.name} is not the chart's`);
      env[e.name] = objects.configMap.data[ref.key];
    } else throw new Error(`env ${e.name}: unsupported source ${JSON.stringify(e.valueFrom)}`);
  }
  return { env, args: [...(c.args ?? [])] };
}

function fieldRef(path: string, pod: PodFacts): string {
  if (path === 'metadata.name') return pod.name;
  if (path === 'metadata.namespace') return pod.namespace;
  const m = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  // A missing annotation resolves to "" (what the kubelet does).
  if (m) return pod.annotations?.[m[1]] ?? '';
  throw new Error(`unsupported fieldRef ${path}`);
}

/** One request to the API server with a bearer token (no kubeconfig): the status and parsed body. */
export function apiRequest(server: string, ca: string, token: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, server), { method: 'GET', ca, headers: { Authorization: `Bearer ${token}` }, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          // A watch answers with one JSON object per line; keep the first.
          body = JSON.parse(text.split('\n')[0] || 'null');
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${path}`)));
    req.on('error', reject);
    req.end();
  });
}
