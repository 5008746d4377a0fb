/**
 * For the tests that run image/testdata/kube-probe.ts bundled as the
 * controller is (image/bundle-kubeconfig.test.ts against a local HTTPS server,
 * test/runtime/kubeconfig.test.ts against kube-apiserver): the probe process,
 * and the two kinds of proxy a kubeconfig's proxy-url can name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../cache';
import { bundleController, NODE_BINARY } from '../controller-image';

export const NODE = join(REPO_ROOT, NODE_BINARY);

/** Bundles the probe (same stand-ins as the controller) into dir/probe.js. */
export async function buildProbe(dir: string): Promise<string> {
  const file = join(dir, 'probe.js');
  writeFileSync(file, (await bundleController({ entry: 'image/testdata/kube-probe.ts' })).js);
  return file;
}

/** The probe running, and the JSON lines it printed. */
export class Probe {
  readonly lines: any[] = [];
  private readonly child: ChildProcess;
  constructor(bundle: string, args: string[], env: Record<string, string>) {
    this.child = spawn(NODE, [bundle, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      rest += d;
      for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
        this.lines.push(JSON.parse(rest.slice(0, nl)));
        rest = rest.slice(nl + 1);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => this.lines.push({ stderr: d }));
  }
  /** The first line matching pred, waiting for it up to timeoutMs. */
  async until(pred: (line: any) => boolean, timeoutMs = 10_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`probe: no matching line in ${timeoutMs} ms; last lines: ${JSON.stringify(this.lines.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  /** The first answer to "who am I" (or the error instead). */
  firstAnswer(): Promise<any> {
    return this.until((l) => l.user || l.error || l.fatal);
  }
  stop(): void {
    this.child.kill('SIGKILL');
  }
}

export interface TestProxy {
  url: string;
  /** host:port of every tunnel opened, in order. */
  tunnels: string[];
  close(): void;
}

function tunnel(client: net.Socket, host: string, port: number, onOpen: () => void): void {
  const upstream = net.connect(port, host, () => {
    onOpen();
    upstream.pipe(client).pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}

/** An HTTP proxy that only tunnels (CONNECT), as proxy-url http:// needs for an https server. */
export async function startConnectProxy(): Promise<TestProxy> {
  const tunnels: string[] = [];
  const server = http.createServer();
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url!);
    const i = req.url!.lastIndexOf(':');
    tunnel(client, req.url!.slice(0, i), Number(req.url!.slice(i + 1)), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      client.unshift(head);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    tunnels,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A SOCKS5 proxy without authentication, CONNECT only (RFC 1928). */
export async function startSocks5Proxy(): Promise<TestProxy> {
  const tunnels: string[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.once('data', () => {
      client.write(Buffer.from([5, 0])); // version 5, no authentication
      client.once('data', (req) => {
        // VER CMD RSV ATYP ADDR PORT; ATYP 1 = IPv4, 3 = a domain name
        const host = req[3] === 1 ? [...req.subarray(4, 8)].join('.') : req.subarray(5, 5 + req[4]).toString();
        const port = req.readUInt16BE(req.length - 2);
        tunnels.push(`${host}:${port}`);
        tunnel(client, host, port, () => client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0])));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `socks5://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    tunnels,
    close: () => {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}
