import { Counter, Registry } from 'prom-client';
import { ProbeServer, startHealthServer } from './health';

async function get(port: number, path: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}

describe('ProbeServer', () => {
  it('serves /healthz, /readyz (with checks) and /metrics on separate ports', async () => {
    const registry = new Registry();
    new Counter({ name: 'demo_total', help: 'demo', registers: [registry] }).inc(3);
    let synced = false;
    const s = new ProbeServer({ healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', registry });
    s.addReadyCheck('informer', () => synced);
    const a = await s.start();
    try {
      expect(a.health!.port).not.toBe(a.metrics!.port);
      expect(await get(a.health!.port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
      const notReady = await get(a.health!.port, '/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.body).toContain('[-]informer failed');
      synced = true;
      expect(await get(a.health!.port, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
      expect((await get(a.health!.port, '/readyz?verbose')).body).toContain('[+]informer ok');
      const m = await get(a.metrics!.port, '/metrics');
      expect(m.status).toBe(200);
      expect(m.body).toContain('demo_total 3');
      expect(m.type).toContain('text/plain');
      expect((await get(a.health!.port, '/metrics')).status).toBe(404); // not on the probe port
      expect((await get(a.metrics!.port, '/healthz')).status).toBe(404);
    } finally {
      await s.stop();
    }
  });

  it('can share one port; throwing and slow checks fail', async () => {
    const s = new ProbeServer({ healthAddr: '127.0.0.1:0', metricsAddr: '', registry: new Registry(), checkTimeoutMs: 50 });
    s.addHealthCheck('throws', () => {
      throw new Error('x');
    });
    s.addReadyCheck('slow', () => new Promise((r) => setTimeout(() => r(true), 1000)));
    const a = await s.start();
    try {
      expect(a.metrics).toBeUndefined();
      expect((await get(a.health!.port, '/healthz')).status).toBe(503);
      expect((await get(a.health!.port, '/readyz')).body).toContain('[-]slow failed');
    } finally {
      await s.stop();
    }
  });

  it('serves probes and metrics from one server when the addresses are equal', async () => {
    const probe = new ProbeServer({ healthAddr: '127.0.0.1:0', metricsAddr: '0' });
    const port = (await probe.start()).health!.port;
    await probe.stop(); // find a free port, then reuse it for both
    const s = new ProbeServer({ healthAddr: `127.0.0.1:${port}`, metricsAddr: `127.0.0.1:${port}`, registry: new Registry() });
    const a = await s.start();
    try {
      expect(a.health!.port).toBe(port);
      expect((await get(port, '/healthz')).status).toBe(200);
      expect((await get(port, '/metrics')).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('startHealthServer: one server with probes and /metrics', async () => {
    const registry = new Registry();
    new Counter({ name: 'one_total', help: 'x', registers: [registry] }).inc();
    const h = await startHealthServer({ address: '127.0.0.1:0', readyz: { synced: () => true }, registry });
    try {
      expect((await get(h.address.port, '/readyz?verbose')).body).toContain('[+]synced ok');
      expect((await get(h.address.port, '/metrics')).body).toContain('one_total 1');
    } finally {
      await h.close();
    }
  });

  it('rejects bad addresses', async () => {
    await expect(new ProbeServer({ healthAddr: ':99999' }).start()).rejects.toThrow(/bad listen address/);
  });
});
