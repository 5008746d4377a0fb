/**
 * The kubeconfig features users rely on, in the controller's bundle as the
 * image ships it (the stand-ins of image/bundle-slim.ts included): a probe
 * built from the controller's own kubeconfig loading, transport and watch
 * (image/testdata/kube-probe.ts) runs in its own Node process against a local
 * HTTPS server that authenticates like kube-apiserver (client certificates,
 * bearer tokens) and answers SelfSubjectReviews with who it thinks the caller
 * is. test/runtime/kubeconfig.test.ts does the same against a real kube-apiserver.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, type Issued } from '../testenv/certs';
import { buildProbe, NODE, Probe, startConnectProxy, startSocks5Proxy } from './testdata/probe-helpers';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('the controller bundle with kubeconfig features (local HTTPS API server)', () => {
  let dir: string;
  let bundle: string;
  let ca: Issued;
  let clientCert: Issued;
  let server: https.Server;
  let port: number;
  /** Bearer tokens the server accepts. */
  const tokens = new Set<string>();
  const probes: Probe[] = [];
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-kubeconfig-'));
    bundle = await buildProbe(dir);
    ca = issue({ subject: { commonName: 'test-ca' }, isCA: true });
    const serverCert = issue({ subject: { commonName: 'apiserver' }, issuer: ca, server: true, ips: ['127.0.0.1'] });
    clientCert = issue({ subject: { commonName: 'cert-user' }, issuer: ca, client: true });
    server = https.createServer({ key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const socket = req.socket as TLSSocket;
      const user = bearer !== undefined ? (tokens.has(bearer) ? `token:${bearer}` : undefined) : socket.authorized ? socket.getPeerCertificate().subject.CN : undefined;
      if (!user) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401, message: 'Unauthorized' }));
        return;
      }
      if (new URL(req.url!, 'https://x').searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: `seen-by-${user}` } } })}\n`);
        return; // stays open
      }
      req.resume().on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'SelfSubjectReview', status: { userInfo: { username: user } } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  }, 60_000);

  afterEach(() => {
    for (const p of probes.splice(0)) p.stop();
    for (const c of cleanups.splice(0)) c();
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const kubeconfig = (name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string => {
    const file = join(dir, `${name}.kubeconfig`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': b64(ca.certPem), ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    };
    // YAML is a superset of JSON: the controller's YAML loader reads this too.
    writeFileSync(file, JSON.stringify(config));
    return file;
  };
  const probe = (args: string[], env: Record<string, string>) => {
    const p = new Probe(bundle, args, env);
    probes.push(p);
    return p;
  };

  it('GIVEN client certificate files THEN requests and the watch authenticate with the certificate', async () => {
    writeFileSync(join(dir, 'client.crt'), clientCert.certPem);
    writeFileSync(join(dir, 'client.key'), clientCert.keyPem);
    const file = kubeconfig('cert', { 'client-certificate': join(dir, 'client.crt'), 'client-key': join(dir, 'client.key') });
    const p = probe(['--watch', '/api/v1/namespaces/ns/configmaps'], { KUBECONFIG: file });
    expect(await p.firstAnswer()).toEqual({ user: 'cert-user' });
    expect(await p.until((l) => l.event)).toEqual({ event: 'ADDED', name: 'seen-by-cert-user' });
  });

  it('GIVEN an exec credential plugin whose token expires THEN the plugin runs again and the new token is sent', async () => {
    const plugin = join(dir, 'exec-plugin.js');
    const counter = join(dir, 'exec-count');
    writeFileSync(counter, '0');
    // Each run hands out the next token, valid for 1.5 s (status.expirationTimestamp).
    writeFileSync(
      plugin,
      `const fs = require('fs'); const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) + 1; fs.writeFileSync(${JSON.stringify(counter)}, String(n));
       process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-' + n, expirationTimestamp: new Date(Date.now() + 1500).toISOString() } }));`,
    );
    tokens.add('exec-1').add('exec-2');
    cleanups.push(() => tokens.clear());
    const file = kubeconfig('exec', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: NODE, args: [plugin], interactiveMode: 'Never' } });
    const p = probe(['--auth-ttl', '300', '--watch', '/api/v1/namespaces/ns/configmaps'], { KUBECONFIG: file });
    expect(await p.firstAnswer()).toEqual({ user: 'token:exec-1' });
    expect(await p.until((l) => l.event)).toEqual({ event: 'ADDED', name: 'seen-by-token:exec-1' });
    await p.until((l) => l.user === 'token:exec-2', 10_000);
  });

  it('GIVEN the in-cluster ServiceAccount token file is replaced THEN requests carry the new token within about a minute', async () => {
    const sa = join(dir, 'in-cluster');
    const saDir = join(sa, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'ca.crt'), ca.certPem);
    writeFileSync(join(saDir, 'namespace'), 'ns');
    writeFileSync(join(saDir, 'token'), 'sa-old');
    tokens.add('sa-old');
    cleanups.push(() => tokens.clear());
    const p = probe(['--in-cluster', sa, '--interval', '1000'], { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) });
    expect(await p.firstAnswer()).toEqual({ user: 'token:sa-old' });
    // The kubelet's rotation: a new token in the file, the old one revoked.
    writeFileSync(join(saDir, 'token'), 'sa-new');
    tokens.add('sa-new');
    tokens.delete('sa-old');
    // client-node re-reads the file every 60 s (as client-go does).
    await p.until((l) => l.user === 'token:sa-new', 75_000);
  }, 100_000);

  it.each([
    ['http://', startConnectProxy],
    ['socks5://', startSocks5Proxy],
  ])('GIVEN proxy-url %s THEN requests and the watch go through the proxy', async (_scheme, start) => {
    const proxy = await start();
    cleanups.push(() => proxy.close());
    const file = kubeconfig('proxy', { 'client-certificate-data': b64(clientCert.certPem), 'client-key-data': b64(clientCert.keyPem) }, { 'proxy-url': proxy.url });
    const p = probe(['--watch', '/api/v1/namespaces/ns/configmaps'], { KUBECONFIG: file });
    expect(await p.firstAnswer()).toEqual({ user: 'cert-user' });
    expect(await p.until((l) => l.event)).toEqual({ event: 'ADDED', name: 'seen-by-cert-user' });
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(2); // the request pool's connection and the watch's own
    expect(new Set(proxy.tunnels)).toEqual(new Set([`127.0.0.1:${port}`]));
  });

  it('GIVEN an auth-provider the bundle leaves out (oidc) THEN each request fails saying to use an exec plugin', async () => {
    const file = kubeconfig('oidc', { 'auth-provider': { name: 'oidc', config: { 'idp-issuer-url': 'https://127.0.0.1:1', 'client-id': 'x', 'id-token': 'y' } } });
    const p = probe([], { KUBECONFIG: file });
    expect((await p.firstAnswer()).error).toMatch(/auth-provider "oidc" is not in the controller bundle.*exec credential plugin/);
  });
});
