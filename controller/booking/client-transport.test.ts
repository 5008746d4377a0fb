/**
 * How the booking client reaches the booking API on the wire, on real
 * sockets: through the proxy HTTP_PROXY/HTTPS_PROXY name (NO_PROXY
 * honoured), and over TLS signed by a private CA given as an extra CA file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue } from '../../testenv/certs';
import { BookingClient, proxyFromEnv, type BookingRequestEvent } from './client';

let dir: string;
let tokenFile: string;
const servers: Server[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'booking-transport-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'tok-1\n');
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  rmSync(dir, { recursive: true, force: true });
});

const healthy = (req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' }).end('{"status":"ok"}');
};

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** A minimal proxy: CONNECT tunnels (https) and absolute-URI forwarding (http); records what it was asked. */
async function proxy(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const out = request(req.url!, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const out = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      out.write(head);
      out.pipe(client).pipe(out);
    });
    out.on('error', () => client.destroy());
    client.on('error', () => out.destroy());
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, seen };
}

/** A CA of our own and a booking API on TLS with a certificate for 127.0.0.1 signed by it. */
async function tlsBookingApi(): Promise<{ baseUrl: string; caFile: string }> {
  const ca = issue({ subject: { commonName: 'test booking CA' }, isCA: true });
  const cert = issue({ subject: { commonName: 'booking' }, issuer: ca, server: true, ips: ['127.0.0.1'] });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  const port = await listen(createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, healthy));
  return { baseUrl: `https://127.0.0.1:${port}`, caFile };
}

describe('BookingClient transport', () => {
  test('GIVEN HTTP_PROXY WHEN it calls an http booking API THEN the request goes through the proxy', async () => {
    const port = await listen(createHttpServer(healthy));
    const p = await proxy();
    const c = new BookingClient({ baseUrl: `http://127.0.0.1:${port}`, tokenFile, env: { HTTP_PROXY: p.url } });
    await expect(c.healthz()).resolves.toBe(true);
    expect(p.seen).toEqual([`GET http://127.0.0.1:${port}/healthz`]);
  });

  test('GIVEN HTTPS_PROXY and an extra CA file WHEN it calls a booking API on TLS THEN it tunnels with CONNECT and trusts the private CA', async () => {
    const api = await tlsBookingApi();
    const p = await proxy();
    const c = new BookingClient({ baseUrl: api.baseUrl, tokenFile, caFile: api.caFile, env: { https_proxy: p.url } });
    await expect(c.healthz()).resolves.toBe(true);
    expect(p.seen).toEqual([`CONNECT ${new URL(api.baseUrl).host}`]);
  });

  test('GIVEN NO_PROXY naming the booking host THEN the proxy is bypassed', async () => {
    const port = await listen(createHttpServer(healthy));
    const p = await proxy();
    const c = new BookingClient({ baseUrl: `http://127.0.0.1:${port}`, tokenFile, env: { HTTP_PROXY: p.url, NO_PROXY: 'localhost,127.0.0.1' } });
    await expect(c.healthz()).resolves.toBe(true);
    expect(p.seen).toEqual([]);
  });

  test('GIVEN a booking API on TLS from a private CA WHEN no CA file is given THEN the call fails as a transient network error; with it, it succeeds', async () => {
    const api = await tlsBookingApi();
    const events: BookingRequestEvent[] = [];
    const without = new BookingClient({ baseUrl: api.baseUrl, tokenFile, env: {}, onRequest: (e) => events.push(e) });
    await expect(without.healthz()).resolves.toBe(false);
    expect(events).toEqual([expect.objectContaining({ outcome: 'transient', code: 'network_error' })]);
    const withCa = new BookingClient({ baseUrl: api.baseUrl, tokenFile, caFile: api.caFile, env: {} });
    await expect(withCa.healthz()).resolves.toBe(true);
  });

  test('proxyFromEnv: lower-case names win, no proxy without HTTP(S)_PROXY', () => {
    expect(proxyFromEnv({ NO_PROXY: 'x' })).toBeUndefined();
    expect(proxyFromEnv({ HTTPS_PROXY: 'http://A', https_proxy: 'http://a', no_proxy: '.svc' })).toEqual({ httpProxy: '', httpsProxy: 'http://a', noProxy: '.svc' });
  });
});
