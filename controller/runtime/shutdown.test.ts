import { EventEmitter } from 'node:events';
import { installShutdown, onShutdownSignal } from './shutdown';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('installShutdown', () => {
  it('runs steps in order on SIGTERM, continues past a failing step, then exits', async () => {
    const source = new EventEmitter();
    const order: string[] = [];
    let exited: number | undefined;
    const h = installShutdown({
      source,
      exit: (c) => (exited = c),
      steps: [
        { name: 'controller', run: async () => { await tick(20); order.push('controller'); } },
        { name: 'leader', run: async () => void order.push('leader') },
        { name: 'broken', run: () => { throw new Error('x'); } },
        { name: 'servers', run: () => void order.push('servers') },
      ],
    });
    source.emit('SIGTERM');
    await tick(100);
    expect(h.signal.aborted).toBe(true);
    expect(h.reason).toBe('SIGTERM');
    expect(order).toEqual(['controller', 'leader', 'servers']);
    expect(exited).toBe(1); // a step failed
    h.dispose();
    expect(source.listenerCount('SIGTERM')).toBe(0);
  });

  it('exits non-zero when the deadline passes; shutdown() is idempotent', async () => {
    let exited: number | undefined;
    const h = installShutdown({
      source: new EventEmitter(),
      timeoutMs: 30,
      exit: (c) => (exited = c),
      steps: [{ name: 'hang', run: () => new Promise(() => {}) }],
    });
    const p1 = h.shutdown('test');
    const p2 = h.shutdown('again');
    expect(p1).toBe(p2);
    expect(await p1).toBe(1);
    expect(exited).toBe(1);
  });

  it('a clean shutdown exits 0; a second signal exits at once with 130', async () => {
    const source = new EventEmitter();
    const codes: number[] = [];
    installShutdown({ source, exit: (c) => codes.push(c), steps: [{ name: 'slow', run: async () => void (await tick(50)) }] });
    source.emit('SIGINT');
    await tick(10);
    source.emit('SIGTERM');
    await tick(100);
    expect(codes).toEqual([130, 0]);
  });
});

describe('onShutdownSignal', () => {
  it('calls the handler once with the signal name and does not exit after it', async () => {
    const source = new EventEmitter();
    const calls: string[] = [];
    const codes: number[] = [];
    onShutdownSignal(async (sig) => void calls.push(sig), { source, exit: (c) => codes.push(c) });
    source.emit('SIGTERM');
    await tick(20);
    expect(calls).toEqual(['SIGTERM']);
    expect(codes).toEqual([]);
  });

  it('exits 1 if the handler overruns the deadline', async () => {
    const source = new EventEmitter();
    const codes: number[] = [];
    onShutdownSignal(() => new Promise(() => {}), { source, timeoutMs: 20, exit: (c) => codes.push(c) });
    source.emit('SIGINT');
    await tick(60);
    expect(codes).toEqual([1]);
  });
});
