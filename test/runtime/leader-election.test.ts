/**
 * LeaderElector between two processes' worth of electors on a real Lease:
 * handover after a crash (no release) within the lease duration, immediate
 * handover after a graceful release, and the MicroTime wire format the
 * apiserver insists on.
 */
import { KubeClient } from '../../controller/runtime/client';
import { LeaderElector, microTime, type LeaderElectorOptions } from '../../controller/runtime/leader-election';
import { createLogger } from '../../controller/runtime/logger';
import { loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { eventually, leases } from './helpers';

const ns = useNamespace('rt-leader');
const logger = createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'error' });
// Scaled-down controller-runtime timings (15/10/2 s): lease 4 s, renew deadline 3 s, retry 0.5 s.
const LEASE_MS = 4000;

let client: KubeClient;
beforeAll(() => {
  client = KubeClient.fromKubeConfig(loadKubeConfig());
});

function candidate(name: string, identity: string, extra: Partial<LeaderElectorOptions> = {}) {
  const state = { leading: false, startedAt: 0, stoppedAt: 0, signal: undefined as AbortSignal | undefined };
  const le = new LeaderElector({
    client,
    namespace: ns.name,
    name,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: 3000,
    retryPeriodMs: 500,
    logger: logger.child({ identity }),
    onStartedLeading: (signal) => {
      state.leading = true;
      state.startedAt = Date.now();
      state.signal = signal;
    },
    onStoppedLeading: () => {
      state.leading = false;
      state.stoppedAt = Date.now();
    },
    ...extra,
  });
  void le.run();
  return { le, state };
}

describe('LeaderElector on a real Lease', () => {
  test('the standby takes over within the lease duration when the leader dies without releasing', async () => {
    const a = candidate('crash', 'a', { releaseOnStop: false });
    await eventually('a leads', () => a.state.leading);
    const b = candidate('crash', 'b');
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(b.state.leading).toBe(false); // a renews; b waits
      const crashAt = Date.now();
      await a.le.stop(); // "kill": stops renewing, leaves holderIdentity=a
      const lease = await client.get<any>(leases, ns.name, 'crash');
      expect(lease.spec.holderIdentity).toBe('a');
      await eventually('b leads', () => b.state.leading, 10_000);
      const handover = b.state.startedAt - crashAt;
      process.stderr.write(`runtime: crash handover took ${handover} ms (lease ${LEASE_MS} ms)\n`);
      // b judges expiry by its own clock from when it last saw the record change
      // (up to one jittered retry, 0.5-1.1 s, after a's last renew), then needs one
      // more retry to notice: lease + ~2 retries, plus slack for a loaded machine.
      expect(handover).toBeLessThanOrEqual(LEASE_MS + 2500);
      expect(handover).toBeGreaterThanOrEqual(LEASE_MS - 1500);
      const after = await client.get<any>(leases, ns.name, 'crash');
      expect(after.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
      expect(after.spec.renewTime).toMatch(/\.\d{6}Z$/);
    } finally {
      await b.le.stop();
    }
  });

  test('a graceful stop releases the lease and the standby takes over at once', async () => {
    const a = candidate('graceful', 'a');
    await eventually('a leads', () => a.state.leading);
    const b = candidate('graceful', 'b');
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(b.state.leading).toBe(false);
      const t0 = Date.now();
      await a.le.stop();
      expect(a.state.signal!.aborted).toBe(true);
      await eventually('b leads', () => b.state.leading, 5000);
      const handover = Date.now() - t0;
      process.stderr.write(`runtime: graceful handover took ${handover} ms\n`);
      expect(handover).toBeLessThan(1500); // one jittered retry, not the 4 s lease
    } finally {
      await b.le.stop();
    }
    const released = await client.get<any>(leases, ns.name, 'graceful');
    expect(released.spec.holderIdentity).toBe('');
  });

  test('three candidates racing for one lease: exactly one leads at any time', async () => {
    const cands = ['x', 'y', 'z'].map((id) => candidate('race', id));
    try {
      await eventually('someone leads', () => cands.some((c) => c.state.leading));
      for (let i = 0; i < 20; i++) {
        expect(cands.filter((c) => c.state.leading).length).toBe(1);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      for (const c of cands) await c.le.stop();
    }
  });

  test("the apiserver rejects JavaScript's millisecond timestamps for MicroTime fields (why microTime() exists)", async () => {
    const body = (renewTime: string, name: string) => ({ metadata: { name }, spec: { holderIdentity: 'x', leaseDurationSeconds: 5, renewTime } });
    const err = await client.create(leases, ns.name, body(new Date().toISOString(), 'ms')).catch((e) => e);
    expect(err.code).toBe(400);
    expect(err.message).toMatch(/parsing time/);
    const ok = await client.create<any>(leases, ns.name, body(microTime(new Date()), 'micro'));
    expect(ok.spec.renewTime).toMatch(/\.\d{6}Z$/);
  });
});
