/**
 * The kubeconfig features users rely on, in the controller's bundle as the
 * image ships it (the stand-ins of image/bundle-slim.ts included), against a
 * real kube-apiserver: a probe built from the controller's kubeconfig loading,
 * transport and watch (image/testdata/kube-probe.ts) asks the API server who
 * it is (SelfSubjectReview) and watches ConfigMaps. Client certificate files,
 * an exec credential plugin (ServiceAccount tokens), the in-cluster token file
 * replaced while the old token is revoked, and proxy-url http:// and socks5://.
 * image/bundle-kubeconfig.test.ts does the same against a local HTTPS server.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { buildProbe, NODE, Probe, startConnectProxy, startSocks5Proxy } from '../../image/testdata/probe-helpers';
import { kubeconfigPath, kubectl } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';

const ns = useNamespace('rt-kubeconfig');

interface Kubeconfig {
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
  [k: string]: unknown;
}

let dir: string;
let bundle: string;
let admin: Kubeconfig;
let adminUser: string;
const probes: Probe[] = [];
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rt-kubeconfig-'));
  bundle = await buildProbe(dir);
  admin = parse(readFileSync(kubeconfigPath(), 'utf8')) as Kubeconfig;
  adminUser = (await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout.trim();
}, 60_000);
afterEach(() => {
  for (const p of probes.splice(0)) p.stop();
  for (const c of cleanups.splice(0)) c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The admin kubeconfig with its user and cluster changed as given, written to a file. */
function kubeconfig(name: string, user: Record<string, unknown> | undefined, cluster: Record<string, unknown> = {}): string {
  const kc = structuredClone(admin);
  if (user) kc.users[0].user = user;
  Object.assign(kc.clusters[0].cluster, cluster);
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, stringify(kc));
  return file;
}
const probe = (args: string[], env: Record<string, string>) => {
  const p = new Probe(bundle, args, env);
  probes.push(p);
  return p;
};
const watchArgs = () => ['--watch', `/api/v1/namespaces/${ns.name}/configmaps`];
/** Every namespace has this ConfigMap: the watch's first event. */
const rootCa = { event: 'ADDED', name: 'kube-root-ca.crt' };

async function serviceAccountToken(name: string): Promise<string> {
  await kubectl(['create', 'serviceaccount', name, '-n', ns.name]);
  return (await kubectl(['create', 'token', name, '-n', ns.name, '--duration=10m'])).stdout.trim();
}
const saUser = (name: string) => `system:serviceaccount:${ns.name}:${name}`;

test('GIVEN client certificate files THEN requests and the watch authenticate with the certificate', async () => {
  const user = admin.users[0].user as Record<string, string>;
  writeFileSync(join(dir, 'admin.crt'), Buffer.from(user['client-certificate-data'], 'base64'));
  writeFileSync(join(dir, 'admin.key'), Buffer.from(user['client-key-data'], 'base64'));
  const p = probe(watchArgs(), { KUBECONFIG: kubeconfig('cert-files', { 'client-certificate': join(dir, 'admin.crt'), 'client-key': join(dir, 'admin.key') }) });
  expect(await p.firstAnswer()).toEqual({ user: adminUser });
  expect(await p.until((l) => l.event)).toEqual(rootCa);
});

test('GIVEN an exec credential plugin whose token expires THEN the plugin runs again and its new token is used', async () => {
  // The plugin hands out ServiceAccount one's token first, then two's, each valid for 2 s as far as the client knows.
  const tokens = [await serviceAccountToken('exec-one'), await serviceAccountToken('exec-two')];
  tokens.forEach((t, i) => writeFileSync(join(dir, `exec-token-${i}`), t));
  const counter = join(dir, 'exec-count');
  writeFileSync(counter, '0');
  const plugin = join(dir, 'exec-plugin.js');
  writeFileSync(
    plugin,
    `const fs = require('fs'); const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')); fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
     const token = fs.readFileSync(${JSON.stringify(dir)} + '/exec-token-' + Math.min(n, 1), 'utf8');
     process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token, expirationTimestamp: new Date(Date.now() + 2000).toISOString() } }));`,
  );
  const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: NODE, args: [plugin], interactiveMode: 'Never' };
  const p = probe(['--auth-ttl', '500'], { KUBECONFIG: kubeconfig('exec', { exec }) });
  expect(await p.firstAnswer()).toEqual({ user: saUser('exec-one') });
  await p.until((l) => l.user === saUser('exec-two'), 15_000);
});

test('GIVEN the in-cluster ServiceAccount token file replaced and the old token revoked THEN the new token is used within about a minute', async () => {
  const [oldToken, newToken] = [await serviceAccountToken('rotate-old'), await serviceAccountToken('rotate-new')];
  const prefix = join(dir, 'in-cluster');
  const sa = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'ca.crt'), Buffer.from(admin.clusters[0].cluster['certificate-authority-data'] as string, 'base64'));
  writeFileSync(join(sa, 'namespace'), ns.name);
  writeFileSync(join(sa, 'token'), oldToken);
  const server = new URL(admin.clusters[0].cluster.server as string);
  const p = probe(['--in-cluster', prefix, '--interval', '1000'], { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port });
  expect(await p.firstAnswer()).toEqual({ user: saUser('rotate-old') });
  // What the kubelet does: a new token in the file. Deleting the old ServiceAccount revokes its token.
  writeFileSync(join(sa, 'token'), newToken);
  await kubectl(['delete', 'serviceaccount', 'rotate-old', '-n', ns.name, '--wait']);
  // client-node re-reads the file every 60 s (as client-go does).
  await p.until((l) => l.user === saUser('rotate-new'), 80_000);
}, 110_000);

test.each([
  ['http://', startConnectProxy],
  ['socks5://', startSocks5Proxy],
])('GIVEN proxy-url %s THEN requests and the watch go through the proxy', async (_scheme, start) => {
  const proxy = await start();
  cleanups.push(() => proxy.close());
  const p = probe(watchArgs(), { KUBECONFIG: kubeconfig('proxy', undefined, { 'proxy-url': proxy.url }) });
  expect(await p.firstAnswer()).toEqual({ user: adminUser });
  expect(await p.until((l) => l.event)).toEqual(rootCa);
  const server = new URL(admin.clusters[0].cluster.server as string);
  expect(proxy.tunnels.length).toBeGreaterThanOrEqual(2); // the request pool's connection and the watch's own
  expect(new Set(proxy.tunnels)).toEqual(new Set([server.host]));
});
