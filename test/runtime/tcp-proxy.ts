/**
 * A TCP proxy in front of the apiserver for fault injection. TLS passes
 * through untouched (the apiserver cert is valid for 127.0.0.1 either way).
 *
 *   kill()     destroy every open connection (an apiserver restart, a LB reset)
 *   freeze()   stop forwarding bytes on the open connections but keep them
 *              open (a half-dead connection: NAT entry dropped, node gone);
 *              new connections work normally
 *   refuse(b)  accept-then-destroy new connections while b is true (apiserver down)
 *   pause()    a network partition: no bytes flow on any connection, open or
 *              new (new ones are accepted and then hang); nothing is closed
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly connections: number;
  kill(): void;
  freeze(): void;
  refuse(on: boolean): void;
  pause(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ a: net.Socket; b: net.Socket; frozen: boolean }>();
  let refusing = false;
  let paused = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    const pair = { a: client, b: upstream, frozen: paused };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (!pair.frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kill = () => {
    for (const p of pairs) {
      p.a.destroy();
      p.b.destroy();
    }
    pairs.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return pairs.size;
    },
    kill,
    freeze() {
      for (const p of pairs) p.frozen = true;
    },
    refuse(on: boolean) {
      refusing = on;
    },
    pause() {
      paused = true;
      for (const p of pairs) p.frozen = true;
    },
    async close() {
      kill();
      await new Promise((r) => server.close(r));
    },
  };
}
