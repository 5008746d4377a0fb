/**
 * The control plane's certificates and kubeconfigs (one job of testenv's
 * control plane; cluster.ts starts it). Everything under <dir>/pki, made once
 * and reused on a restart of a persistent cluster.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { issue, Issued, loadIssued, newKeyPair } from './certs';

/** ClusterIP of the `kubernetes` Service (first address of the service range). */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

export interface Pki {
  dir: string;
  ca: Issued;
}

/** Writes name.crt/name.key under pki/ (mode 0600 keys). */
export function writePair(pki: string, name: string, c: { certPem?: string; keyPem: string; publicPem?: string }): void {
  if (c.certPem) writeFileSync(path.join(pki, `${name}.crt`), c.certPem);
  writeFileSync(path.join(pki, `${name}.key`), c.keyPem, { mode: 0o600 });
  if (!c.certPem && c.publicPem) writeFileSync(path.join(pki, `${name}.pub`), c.publicPem);
}

const CLIENTS: Record<string, { cn: string; o?: string[] }> = {
  // Bootstrap RBAC binds the system:kube-* users to their roles.
  admin: { cn: 'flight-admin', o: ['system:masters'] },
  // system:masters too: by default its controllers run under this identity
  // (see controllerServiceAccounts).
  'kube-controller-manager': { cn: 'system:kube-controller-manager', o: ['system:masters'] },
  'kube-scheduler': { cn: 'system:kube-scheduler' },
  kwok: { cn: 'kwok-controller', o: ['system:masters'] },
  // The apiserver's identity towards kubelets (logs, exec, port-forward).
  'apiserver-kubelet-client': { cn: 'kube-apiserver-kubelet-client', o: ['system:masters'] },
};

/**
 * CA, serving cert, client certs, front-proxy pair and service-account key.
 * Reused when present. `extraIps`: more addresses the apiserver is reached at
 * (a real node's network), in its serving cert.
 */
export function ensurePki(dir: string, extraIps: string[] = []): Pki {
  const pki = path.join(dir, 'pki');
  const caSubject = { commonName: 'flight-operator-test-ca' };
  if (existsSync(path.join(pki, 'complete'))) {
    return { dir: pki, ca: loadIssued(readFileSync(path.join(pki, 'ca.crt'), 'utf8'), readFileSync(path.join(pki, 'ca.key'), 'utf8'), caSubject) };
  }
  mkdirSync(pki, { recursive: true });
  const ca = issue({ subject: caSubject, isCA: true });
  writePair(pki, 'ca', ca);
  writePair(
    pki,
    'apiserver',
    issue({
      subject: { commonName: 'kube-apiserver' },
      issuer: ca,
      server: true,
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ips: ['127.0.0.1', KUBERNETES_SERVICE_IP, ...extraIps],
    }),
  );
  for (const [name, c] of Object.entries(CLIENTS)) {
    writePair(pki, name, issue({ subject: { commonName: c.cn, organizations: c.o ?? [] }, issuer: ca, client: true }));
  }
  // Aggregation layer (APIService backends such as OLM's packageserver): the
  // apiserver authenticates to them with this client cert.
  const frontProxyCa = issue({ subject: { commonName: 'flight-operator-front-proxy-ca' }, isCA: true });
  writePair(pki, 'front-proxy-ca', frontProxyCa);
  writePair(pki, 'front-proxy-client', issue({ subject: { commonName: 'front-proxy-client' }, issuer: frontProxyCa, client: true }));
  writePair(pki, 'sa', newKeyPair());
  writeFileSync(path.join(pki, 'complete'), '');
  return { dir: pki, ca };
}

export function kubeconfigYaml(server: string, pki: string, user: string): string {
  const b64 = (f: string) => readFileSync(path.join(pki, f)).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: flight',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64('ca.crt')}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(`${user}.crt`)}`,
    `    client-key-data: ${b64(`${user}.key`)}`,
    'contexts:',
    `- name: flight`,
    '  context:',
    '    cluster: flight',
    `    user: ${user}`,
    'current-context: flight',
    '',
  ].join('\n');
}