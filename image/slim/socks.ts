/**
 * Stand-in for the `socks` package in the controller's bundle
 * (image/bundle-slim.ts), where client-node's KubeConfig tunnels a
 * `proxy-url: socks5://host:port` connection (config.js createSocksConnector,
 * the only caller). It speaks SOCKS5 with undici's own client
 * (lib/core/socks5-client.js, in the bundle already for undici's ProxyAgent)
 * instead of `socks` and its IP address library (95 KB). Not kept: SOCKS4 and
 * SOCKS4a (proxy-url socks4://), which get an error saying so.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

const { Socks5Client } = require('undici/lib/core/socks5-client') as {
  Socks5Client: new (socket: Socket) => NodeJS.EventEmitter & { handshake(): void; connect(host: string, port: number): void };
};

interface ConnectOptions {
  proxy: { host: string; port: number; type: 4 | 5 };
  command: 'connect';
  destination: { host: string; port: number };
}

export const SocksClient = {
  createConnection(opts: ConnectOptions, callback: (err: Error | null, info?: { socket: Socket }) => void): void {
    if (opts.proxy.type !== 5 || opts.command !== 'connect') {
      callback(new Error(`SOCKS${opts.proxy.type} proxy-url is not in the controller bundle (image/bundle-slim.ts): use socks5://`));
      return;
    }
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      if (err) {
        socket.destroy();
        callback(err);
      } else callback(null, { socket });
    };
    const socket = connect({ host: opts.proxy.host, port: opts.proxy.port });
    socket.once('error', (err) => finish(err));
    socket.once('connect', () => {
      const client = new Socks5Client(socket);
      client.on('error', (err: Error) => finish(err));
      client.once('connected', () => finish(null));
      const step = (f: () => void) => {
        try {
          f();
        } catch (err) {
          finish(err as Error);
        }
      };
      // No credentials: client-node passes none to `socks` either.
      client.once('authenticated', () => step(() => client.connect(opts.destination.host, opts.destination.port)));
      step(() => client.handshake());
    });
  },
};
