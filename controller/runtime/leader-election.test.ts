import { Registry } from 'prom-client';
import { FakeApiServer } from '../../test/support/fake-apiserver';
import { LeaderElector, microTime, type LeaderElectorOptions } from './leader-election';

const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };
const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
};

// Short timings: lease 600 ms, renew deadline 400 ms, retry 100 ms.
function elector(fake: FakeApiServer, identity: string, extra: Partial<LeaderElectorOptions> = {}) {
  const state = { leading: false, started: 0, stopped: 0, signal: undefined as AbortSignal | undefined, leaders: [] as string[] };
  const le = new LeaderElector({
    client: fake.client(),
    namespace: 'ns',
    name: 'lock',
    identity,
    leaseDurationMs: 600,
    renewDeadlineMs: 400,
    retryPeriodMs: 100,
    onStartedLeading: (signal) => {
      state.leading = true;
      state.started++;
      state.signal = signal;
    },
    onStoppedLeading: () => {
      state.leading = false;
      state.stopped++;
    },
    onNewLeader: (id) => state.leaders.push(id),
    ...extra,
  });
  return { le, state };
}

describe('microTime', () => {
  it('has six fractional digits', () => {
    expect(microTime(new Date('2025-01-01T00:00:00.123Z'))).toBe('2025-01-01T00:00:00.123000Z');
  });
});

describe('LeaderElector', () => {
  it('creates the lease, leads, renews, and releases on stop', async () => {
    const fake = new FakeApiServer();
    const registry = new Registry();
    const { le, state } = elector(fake, 'a', { registry });
    void le.run();
    await waitFor(() => state.leading);
    expect(le.isLeader()).toBe(true);
    const l1 = fake.getObject(leases, 'ns', 'lock')!;
    expect(l1.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(l1.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(await registry.metrics()).toMatch(/leader_election_master_status\{name="lock"\} 1/);
    await waitFor(() => fake.getObject(leases, 'ns', 'lock')!.spec.renewTime !== l1.spec.renewTime);
    await le.stop();
    expect(state.stopped).toBe(1);
    expect(state.signal!.aborted).toBe(true);
    const released = fake.getObject(leases, 'ns', 'lock')!;
    expect(released.spec.holderIdentity).toBe('');
    expect(released.spec.leaseDurationSeconds).toBe(1);
    expect(await registry.metrics()).toMatch(/leader_election_master_status\{name="lock"\} 0/);
  });

  it('a standby takes over immediately after a graceful release', async () => {
    const fake = new FakeApiServer();
    const a = elector(fake, 'a');
    const b = elector(fake, 'b');
    void a.le.run();
    await waitFor(() => a.state.leading);
    void b.le.run();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.state.leading).toBe(false); // a keeps renewing, b stays standby
    expect(b.state.leaders).toEqual(['a']);
    const t0 = Date.now();
    await a.le.stop();
    await waitFor(() => b.state.leading);
    expect(Date.now() - t0).toBeLessThan(900); // ~one jittered retry (100-220 ms), not the 1 s lease
    const lease = fake.getObject(leases, 'ns', 'lock')!;
    expect(lease.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 }); // created by a (0), a->'' keeps it, ''->b +1
    await b.le.stop();
  });

  it('a standby takes over only after the lease expires when the leader dies without releasing', async () => {
    const fake = new FakeApiServer();
    const a = elector(fake, 'a', { releaseOnStop: false });
    const b = elector(fake, 'b');
    void a.le.run();
    await waitFor(() => a.state.leading);
    void b.le.run();
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    await a.le.stop(); // "crash": no release
    expect(fake.getObject(leases, 'ns', 'lock')!.spec.holderIdentity).toBe('a');
    await waitFor(() => b.state.leading, 3000);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(300); // had to wait for expiry (lease 1 s rounded, observed by b's clock)
    expect(waited).toBeLessThan(2500);
    await b.le.stop();
  });

  it('handles 409 conflicts: two candidates racing never both lead', async () => {
    const fake = new FakeApiServer();
    const cands = ['a', 'b', 'c'].map((id) => elector(fake, id));
    for (const c of cands) void c.le.run();
    await waitFor(() => cands.some((c) => c.state.leading));
    for (let i = 0; i < 10; i++) {
      expect(cands.filter((c) => c.state.leading)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const c of cands) await c.le.stop();
  });

  it('a 409 on renew is retried, not fatal', async () => {
    const fake = new FakeApiServer();
    const { le, state } = elector(fake, 'a');
    void le.run();
    await waitFor(() => state.leading);
    let conflicts = 2;
    fake.interceptor = (req) =>
      req.method === 'PUT' && conflicts-- > 0 ? { status: 409, headers: {}, body: JSON.stringify({ code: 409, reason: 'Conflict' }) } : undefined;
    await waitFor(() => conflicts < 0);
    await new Promise((r) => setTimeout(r, 250));
    expect(state.leading).toBe(true);
    expect(state.stopped).toBe(0);
    await le.stop();
  });

  it('stops leading promptly (within renew deadline) when the apiserver is unreachable', async () => {
    const fake = new FakeApiServer();
    const { le, state } = elector(fake, 'a');
    void le.run();
    await waitFor(() => state.leading);
    const t0 = Date.now();
    fake.interceptor = () => ({ status: 503, headers: {}, body: '{}' });
    await waitFor(() => state.stopped === 1);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(1000); // renew deadline (400 ms) + a retry, before the (1 s) lease can pass to anyone else
    expect(state.signal!.aborted).toBe(true);
    expect(le.isLeader()).toBe(false);
    await le.run(); // the run promise has resolved
  });

  it('stops leading at once when another holder shows up', async () => {
    const fake = new FakeApiServer();
    const { le, state } = elector(fake, 'a');
    void le.run();
    await waitFor(() => state.leading);
    const lease = fake.getObject(leases, 'ns', 'lock')!;
    await fake.client().replace(leases, 'ns', 'lock', { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: microTime(new Date()) } });
    await waitFor(() => state.stopped === 1, 1000);
    expect(fake.getObject(leases, 'ns', 'lock')!.spec.holderIdentity).toBe('intruder'); // no release of someone else's lease
  });

  it('judges expiry by a monotonic clock: a wall-clock jump does not hand an unexpired lease to a standby', async () => {
    const fake = new FakeApiServer();
    const a = elector(fake, 'a', { releaseOnStop: false });
    // b's monotonic clock stands still: by it, a's lease never runs out, whatever the wall clock says.
    const b = elector(fake, 'b', { now: () => 1_000 });
    void a.le.run();
    await waitFor(() => a.state.leading);
    void b.le.run();
    await waitFor(() => b.state.leaders.includes('a'));
    await a.le.stop(); // a stalls without releasing (a long GC pause, a partition): its lease still runs
    let polls = 0;
    fake.interceptor = (req) => void (req.method === 'GET' && polls++);
    const realNow = Date.now.bind(Date);
    const jump = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 3600_000); // NTP steps the clock an hour ahead
    try {
      await waitFor(() => polls >= 3); // b looked at the lease three more times
      expect(b.state.started).toBe(0);
      expect(fake.getObject(leases, 'ns', 'lock')!.spec.holderIdentity).toBe('a');
    } finally {
      jump.mockRestore();
      await b.le.stop();
    }
  });

  it('the leading signal aborts at the renew deadline, measured from the start of the last successful renewal, while a renewal hangs', async () => {
    let clock = 0;
    const fake = new FakeApiServer();
    const starts: number[] = [];
    const { le, state } = elector(fake, 'a', { now: () => clock });
    void le.run();
    await waitFor(() => state.leading);
    // From now on every request takes 150 ms of our clock: the renewal that succeeds
    // started 150 ms before its answer, and that start is what the deadline counts from.
    fake.interceptor = (req) => {
      starts.push(clock);
      if (req.method === 'GET') clock += 150;
      return undefined;
    };
    await waitFor(() => starts.length >= 2);
    const renewStartedAt = starts.at(-2)!;
    fake.interceptor = () => ({ status: 503, headers: {}, body: '{}' });
    expect(le.isLeader()).toBe(true);
    clock = renewStartedAt + 400; // the renew deadline, by our clock
    expect(le.isLeader()).toBe(false); // at once, not at the next turn of the loop
    await waitFor(() => state.signal!.aborted);
    await waitFor(() => state.stopped === 1);
  });

  it('rejects inconsistent timings', () => {
    const fake = new FakeApiServer();
    expect(() => elector(fake, 'a', { renewDeadlineMs: 700 })).toThrow(/renewDeadline/);
  });
});
