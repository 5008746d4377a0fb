import type { Booking } from '../booking/client';
import { PermanentBookingError, TransientBookingError } from '../booking/errors';
import { reconcileTicket, type Bookings, type ReconcileDeps, type Tickets } from './reconcile';
import { ADOPT_ANNOTATION, EXTERNAL_NAME_ANNOTATION, FINALIZER, type FlightTicket, type FlightTicketStatus } from './ticket';

/** An in-memory booking API with the contract's semantics: idempotency replay, 422 on a reused key, seat inventory. */
class FakeBookings implements Bookings {
  readonly bookings = new Map<string, Booking>();
  readonly calls: string[] = [];
  private readonly keys = new Map<string, { payload: string; id: string }>();
  soldOut = new Set<string>();
  /** What a sold-out answer says is left (live data in the service's message). */
  seatsLeft = 1;
  failNext: Error[] = [];
  /** The server books, then the answer is lost on the way back. */
  loseNextAnswer = false;
  /** The next create times out on the client, but the server commits it only at commitLate() (a slow booking service). */
  slowNextCreate = false;
  private late?: { key: string; req: { from: string; to: string; seats: number; owner: string; ownerRef: string } };
  /** An implementation that echoes its own spelling of the cities (the contract allows matching them case-insensitively). */
  spell: (city: string) => string = (c) => c;
  private next = 1;
  /** The contract names a booking by its key; false: a service that names bookings itself (bk-N). */
  idsAreKeys = true;

  private fault(call: string) {
    this.calls.push(call);
    const e = this.failNext.shift();
    if (e) throw e;
  }
  async listBookings(f: { owner: string }) {
    this.fault('list');
    return [...this.bookings.values()].filter((b) => b.owner === f.owner).map((b) => ({ ...b }));
  }
  /** Owners closed by a finalizer: no create for them ever commits again. */
  readonly closed = new Set<string>();
  async closeOwner(owner: string) {
    this.fault('close');
    if (this.late?.req.owner === owner) throw new TransientBookingError('request_in_flight', `a create for owner ${owner} is still being processed`, { status: 409, retryAfterMs: 1000 });
    this.closed.add(owner);
    return { owner, closedAt: '' };
  }
  async createBooking(key: string, req: { from: string; to: string; seats: number; owner: string; ownerRef: string }) {
    this.fault(`create ${req.from}->${req.to}`);
    if (this.late?.key === key) throw new TransientBookingError('request_in_flight', 'a request with this Idempotency-Key is still being processed', { status: 409, retryAfterMs: 1000 });
    if (this.slowNextCreate) {
      this.slowNextCreate = false;
      this.late = { key, req };
      throw new TransientBookingError('timeout', 'no response within 10000 ms');
    }
    return this.book(key, req);
  }
  /** The slow create commits now, long after its client gave up. */
  commitLate() {
    const l = this.late!;
    this.late = undefined;
    this.book(l.key, l.req);
  }
  private book(key: string, req: { from: string; to: string; seats: number; owner: string; ownerRef: string }) {
    const payload = JSON.stringify(req);
    const seen = this.keys.get(key);
    if (seen && seen.payload !== payload) throw new PermanentBookingError('idempotency_key_reused', 'key reused with another payload');
    if (seen) return { booking: { ...this.bookings.get(seen.id)! } };
    if (this.closed.has(req.owner)) throw new PermanentBookingError('owner_closed', `owner ${req.owner} is closed`);
    if (this.soldOut.has(`${req.from}->${req.to}`)) throw new PermanentBookingError('sold_out', `only ${this.seatsLeft} seat(s) left from ${req.from} to ${req.to}`);
    const id = this.idsAreKeys ? key : `bk-${this.next++}`;
    const b: Booking = { id, ...req, cluster: null, orphaned: false, from: this.spell(req.from), to: this.spell(req.to), state: 'active', createdAt: '', updatedAt: '', version: 1 };
    this.bookings.set(id, b);
    this.keys.set(key, { payload, id });
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new TransientBookingError('timeout', 'request timed out');
    }
    return { booking: { ...b } };
  }
  async updateSeats(id: string, seats: number) {
    this.fault(`seats ${id}=${seats}`);
    const b = this.bookings.get(id)!;
    b.seats = seats;
    return { ...b };
  }
  async markOrphaned(id: string) {
    this.fault(`orphan ${id}`);
    const b = this.bookings.get(id)!;
    b.orphaned = true;
    return { ...b };
  }
  async findBooking(id: string) {
    this.fault(`get ${id}`);
    const b = this.bookings.get(id);
    return b ? { ...b } : null;
  }
  async reown(id: string, req: { owner: string; ownerRef?: string; cluster?: string; expectedOwner?: string }) {
    this.fault(`reown ${id}`);
    const b = this.bookings.get(id)!;
    if (req.expectedOwner !== undefined && b.owner !== req.expectedOwner && b.owner !== req.owner) throw new PermanentBookingError('owner_changed', `owned by ${b.owner}`);
    Object.assign(b, { owner: req.owner, ownerRef: req.ownerRef ?? null, cluster: req.cluster ?? null, orphaned: false });
    return { ...b };
  }
  /** A booking some earlier ticket (another uid) made, as a restore finds it. */
  seed(b: Partial<Booking> & { id: string; owner: string }) {
    const full: Booking = { from: 'Cairo', to: 'London', seats: 2, ownerRef: 'default/my-flight-ticket', cluster: null, orphaned: false, state: 'active', createdAt: '', updatedAt: '', version: 1, ...b };
    this.bookings.set(b.id, full);
    return full;
  }
  async cancelBooking(id: string) {
    this.fault(`cancel ${id}`);
    const b = this.bookings.get(id)!;
    b.state = 'cancelled';
    return { ...b };
  }
  active() {
    return [...this.bookings.values()].filter((b) => b.state === 'active');
  }
}

/** A one-ticket API server: resourceVersion-checked writes, like the real one. */
class FakeTickets implements Tickets {
  stored: FlightTicket | undefined;
  cached: FlightTicket | undefined;
  writes: string[] = [];
  constructor(t: FlightTicket) {
    this.stored = structuredClone(t);
    this.cached = structuredClone(t);
  }
  get() {
    const c = this.frozen ?? this.cached;
    return c && structuredClone(c);
  }
  private write(t: FlightTicket, what: string, change: (s: FlightTicket) => void): FlightTicket {
    if (!this.stored || t.metadata.resourceVersion !== this.stored.metadata.resourceVersion) throw Object.assign(new Error('409 Conflict'), { code: 409 });
    change(this.stored);
    this.stored.metadata.resourceVersion = String(Number(this.stored.metadata.resourceVersion) + 1);
    this.writes.push(what);
    this.cached = structuredClone(this.stored);
    return structuredClone(this.stored);
  }
  async addFinalizer(t: FlightTicket, f: string) {
    return this.write(t, 'addFinalizer', (s) => (s.metadata.finalizers = [...(s.metadata.finalizers ?? []), f]));
  }
  async removeFinalizer(t: FlightTicket, f: string) {
    this.write(t, 'removeFinalizer', (s) => (s.metadata.finalizers = s.metadata.finalizers!.filter((x) => x !== f)));
    if (this.stored!.metadata.deletionTimestamp && !this.stored!.metadata.finalizers!.length) this.stored = this.cached = undefined;
  }
  async updateStatus(t: FlightTicket, status: FlightTicketStatus) {
    return this.write(t, 'status', (s) => (s.status = structuredClone(status)));
  }
  async recordKey(t: FlightTicket, f: string, key: string) {
    return this.write(t, `recordKey ${key}`, (s) => {
      if (!s.metadata.finalizers?.includes(f)) s.metadata.finalizers = [...(s.metadata.finalizers ?? []), f];
      s.metadata.annotations = { ...s.metadata.annotations, [EXTERNAL_NAME_ANNOTATION]: key };
    });
  }
  async setAnnotation(t: FlightTicket, key: string, value: string) {
    return this.write(t, `annotate ${key}=${value}`, (s) => (s.metadata.annotations = { ...s.metadata.annotations, [key]: value }));
  }
  /** Other tickets of the cluster, "namespace/name" -> uid, as a live read finds them. */
  others = new Map<string, string>();
  lives = 0;
  async live(namespace: string, name: string) {
    this.lives++;
    const key = `${namespace}/${name}`;
    if (key === `${this.stored?.metadata.namespace}/${this.stored?.metadata.name}`) return structuredClone(this.stored);
    const uid = this.others.get(key);
    return uid ? ({ metadata: { namespace, name, uid } } as FlightTicket) : undefined;
  }
  /** The cache stops here: later changes reach the API server only (a watch that lags). Returns the thaw. */
  private frozen: FlightTicket | undefined;
  freezeCache() {
    this.frozen = structuredClone(this.cached);
    return () => (this.frozen = undefined);
  }
  /** A user edit: a new generation. */
  edit(change: (t: FlightTicket) => void) {
    change(this.stored!);
    this.stored!.metadata.generation++;
    this.stored!.metadata.resourceVersion = String(Number(this.stored!.metadata.resourceVersion) + 1);
    this.cached = structuredClone(this.stored);
  }
}

function setup(spec = { from: 'Cairo', to: 'London', number: 2 }, annotations: Record<string, string> = {}) {
  const ticket: FlightTicket = {
    apiVersion: 'flights.com/v1',
    kind: 'FlightTicket',
    metadata: { name: 'my-flight-ticket', namespace: 'default', uid: 'uid-1', generation: 1, resourceVersion: '1', annotations },
    spec,
  };
  const tickets = new FakeTickets(ticket);
  const bookings = new FakeBookings();
  const events: string[] = [];
  const deps: ReconcileDeps = {
    tickets,
    bookings,
    events: { normal: (_t, r, m) => events.push(`Normal ${r}: ${m}`), warning: (_t, r, m) => events.push(`Warning ${r}: ${m}`) },
    driftInterval: 60_000,
    now: () => new Date('2026-11-22T10:00:00Z'),
  };
  const reconcile = () => reconcileTicket('default/my-flight-ticket', deps);
  return { tickets, bookings, events, reconcile, deps };
}

const ready = (t: FlightTicket | undefined) => t?.status?.conditions?.find((c) => c.type === 'Ready');

describe('reconcileTicket', () => {
  test('a new ticket costs two writes: the finalizer with its key (the booking\'s name), then, after exactly one booking, Ready status', async () => {
    // GIVEN the seed's ticket
    const { tickets, bookings, events, reconcile } = setup();
    // WHEN reconciled
    const result = await reconcile();
    // THEN
    expect(tickets.writes).toEqual(['recordKey uid-1.0', 'status']);
    expect(bookings.calls).toEqual(['list', 'create Cairo->London']);
    expect(tickets.stored!.metadata.annotations).toEqual({ [EXTERNAL_NAME_ANNOTATION]: 'uid-1.0' });
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', from: 'Cairo', to: 'London', seats: 2, owner: 'uid-1', ownerRef: 'default/my-flight-ticket' }]);
    expect(tickets.stored!.metadata.finalizers).toEqual([FINALIZER]);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.0', seats: 2, route: 'Cairo -> London', observedGeneration: 1 });
    expect(tickets.stored!.status!.pendingBookingKey).toBeUndefined();
    expect(ready(tickets.stored)).toMatchObject({ status: 'True', reason: 'Booked' });
    expect(events).toEqual(['Normal Booked: booked uid-1.0: Cairo -> London, 2 seats']);
    expect(result).toEqual({ requeueAfter: 60_000 });
  });

  test('a reconcile with nothing to do reads the booking once and writes nothing', async () => {
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    tickets.writes = [];
    bookings.calls.length = 0;
    await reconcile();
    expect(bookings.calls).toEqual(['list']);
    expect(tickets.writes).toEqual([]);
  });

  test('a seat change changes the seats of the same booking', async () => {
    const { tickets, bookings, events, reconcile } = setup();
    await reconcile();
    tickets.edit((t) => (t.spec.number = 5));
    await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', seats: 5 }]);
    expect(tickets.stored!.status).toMatchObject({ seats: 5, observedGeneration: 2 });
    expect(events.at(-1)).toBe('Normal SeatsChanged: booking uid-1.0: 2 -> 5 seats');
  });

  test('a route change books the new route first, then cancels the old one', async () => {
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    bookings.calls.length = 0;
    tickets.edit((t) => (t.spec.to = 'Paris'));
    await reconcile();
    expect(bookings.calls).toEqual(['list', 'create Cairo->Paris', 'cancel uid-1.0']);
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1', to: 'Paris' }]);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.1', route: 'Cairo -> Paris' });
  });

  test('a route change to a sold-out flight keeps the old booking and says why, without a retry loop', async () => {
    const { tickets, bookings, events, reconcile } = setup();
    await reconcile();
    bookings.soldOut.add('Cairo->Paris');
    tickets.edit((t) => (t.spec.to = 'Paris'));
    const result = await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', to: 'London' }]);
    const r = ready(tickets.stored)!;
    expect(r).toMatchObject({ status: 'False', reason: 'SoldOut', observedGeneration: 2 });
    expect(r.message).toBe('Cairo -> Paris (2 seats): sold out: not enough seats left on this route; still holding booking uid-1.0 (Cairo -> London, 2 seats)');
    expect(events.at(-1)).toMatch(/^Warning SoldOut: /);
    expect(result).toEqual({ requeueAfter: 60_000 }); // checked again at the drift interval only
    // The periodic re-check asks again with the same key (a refused create records nothing
    // under it) and, with nothing new to say, writes nothing: no key minted, no status write.
    const key = tickets.stored!.metadata.annotations![EXTERNAL_NAME_ANNOTATION];
    expect(key).toBe('uid-1.1');
    tickets.writes = [];
    bookings.calls.length = 0;
    events.length = 0;
    await reconcile();
    await reconcile();
    expect(bookings.calls).toEqual(['list', 'create Cairo->Paris', 'list', 'create Cairo->Paris']);
    expect(tickets.writes).toEqual([]);
    expect(events).toEqual([]);
    expect(tickets.stored!.metadata.annotations![EXTERNAL_NAME_ANNOTATION]).toBe(key);
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0' }]);
    // Seats free up: the same key books, once.
    bookings.soldOut.clear();
    await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1', to: 'Paris' }]);
  });

  test('cities match case-insensitively (like the CRD rule): an implementation that echoes its own spelling causes no churn', async () => {
    const { tickets, bookings, reconcile } = setup({ from: 'cairo', to: 'LONDON', number: 2 });
    bookings.spell = (c) => c[0]!.toUpperCase() + c.slice(1).toLowerCase();
    await reconcile();
    tickets.writes = [];
    bookings.calls.length = 0;
    await reconcile();
    expect(bookings.calls).toEqual(['list']);
    expect(tickets.writes).toEqual([]);
    expect(bookings.bookings.size).toBe(1);
    // A change of case only is no route change either.
    tickets.edit((t) => (t.spec.from = 'CAIRO'));
    await reconcile();
    expect(bookings.calls.filter((c) => c.startsWith('create') || c.startsWith('cancel'))).toEqual([]);
  });

  test('deletion cancels the booking, then removes the finalizer', async () => {
    const { tickets, bookings, events, reconcile } = setup();
    await reconcile();
    tickets.edit((t) => (t.metadata.deletionTimestamp = '2026-11-22T10:01:00Z'));
    await reconcile();
    expect(bookings.active()).toEqual([]);
    expect(tickets.stored).toBeUndefined();
    expect(events.at(-1)).toBe('Normal Cancelled: cancelled booking uid-1.0 (Cairo -> London, 2 seats)');
  });

  test('deletion while a create is in flight waits for it, cancels what it booked, then removes the finalizer', async () => {
    // GIVEN a create that times out on the client but commits later on a slow booking service
    const { tickets, bookings, reconcile } = setup();
    bookings.slowNextCreate = true;
    await expect(reconcile()).rejects.toMatchObject({ code: 'timeout' });
    const key = tickets.stored!.metadata.annotations![EXTERNAL_NAME_ANNOTATION];
    // WHEN the ticket is deleted meanwhile
    tickets.edit((t) => (t.metadata.deletionTimestamp = '2026-11-22T10:01:00Z'));
    // THEN finalize closes the ticket at the booking service: refused while the create is in flight, so the finalizer stays
    await expect(reconcile()).rejects.toMatchObject({ code: 'request_in_flight' });
    expect(tickets.stored!.metadata.finalizers).toEqual([FINALIZER]);
    // AND once the create has committed, the close goes through and the booking it made is cancelled
    bookings.commitLate();
    await reconcile();
    expect(bookings.active()).toEqual([]);
    expect(bookings.bookings.size).toBe(1); // bookings ever created == distinct keys (one)
    // AND deletion itself never sent a create
    expect(bookings.calls).toEqual(['list', 'create Cairo->London', 'close', 'close', 'list', 'cancel uid-1.0']);
    expect(tickets.stored).toBeUndefined();
    expect(key).toBeDefined();
  });

  test('deletion with the Orphan policy leaves the booking in place', async () => {
    const { tickets, bookings, reconcile } = setup(undefined, { 'flights.com/deletion-policy': 'Orphan' });
    await reconcile();
    tickets.edit((t) => (t.metadata.deletionTimestamp = '2026-11-22T10:01:00Z'));
    await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', orphaned: true }]); // marked, so the orphan sweep keeps it
    expect(bookings.calls.at(-1)).toBe('orphan uid-1.0');
    expect(tickets.stored).toBeUndefined();
  });

  test('the reconcile signal reaches every booking and Kubernetes call, and an aborted reconcile records nothing', async () => {
    const { tickets, bookings, reconcile, deps } = setup();
    const ctl = new AbortController();
    deps.signal = ctl.signal;
    const seen: string[] = [];
    const spy = <T extends object>(target: T, name: string): T =>
      new Proxy(target, {
        get(t, p, r) {
          const v = Reflect.get(t, p, r);
          if (typeof v !== 'function' || p === 'get') return v;
          return (...args: unknown[]) => {
            seen.push(`${name}.${String(p)} ${(args.at(-1) as { signal?: AbortSignal } | undefined)?.signal === ctl.signal ? 'signal' : 'NO SIGNAL'}`);
            return (v as (...a: unknown[]) => unknown).apply(t, args);
          };
        },
      });
    deps.tickets = spy(tickets, 'tickets');
    deps.bookings = spy(bookings, 'bookings');
    await reconcile();
    tickets.edit((t) => (t.spec.to = 'Paris'));
    await reconcile();
    tickets.edit((t) => (t.spec.number = 3));
    await reconcile();
    tickets.edit((t) => (t.metadata.deletionTimestamp = '2026-11-22T10:01:00Z'));
    await reconcile();
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((c) => c.endsWith('NO SIGNAL'))).toEqual([]);
    // Aborted (lease lost) while a booking call fails: rethrown as is, nothing written.
    const fresh = setup();
    const ctl2 = new AbortController();
    fresh.deps.signal = ctl2.signal;
    fresh.bookings.listBookings = async () => {
      ctl2.abort();
      throw new TransientBookingError('aborted', 'aborted');
    };
    await expect(fresh.reconcile()).rejects.toMatchObject({ code: 'aborted' });
    expect(fresh.tickets.writes).toEqual([]);
  });

  test('a create whose answer was lost is replayed by the retry, not booked twice', async () => {
    const { tickets, bookings, reconcile } = setup();
    bookings.loseNextAnswer = true;
    await expect(reconcile()).rejects.toBeInstanceOf(TransientBookingError);
    // the list finds it; even without the list the same key would replay it
    await reconcile();
    expect(bookings.bookings.size).toBe(1);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.0' });
  });

  test('a crash between the create and the status write books nothing twice', async () => {
    const { tickets, bookings, reconcile } = setup();
    const realUpdate = tickets.updateStatus.bind(tickets);
    let n = 0;
    tickets.updateStatus = async (t, s) => {
      if (++n === 1) throw new Error('controller killed');
      return realUpdate(t, s);
    };
    await expect(reconcile()).rejects.toThrow('controller killed');
    tickets.updateStatus = realUpdate;
    await reconcile();
    expect(bookings.bookings.size).toBe(1);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.0', seats: 2 });
  });

  test('a stale cache cannot book: the key write conflicts and nothing is created', async () => {
    const { tickets, bookings, reconcile } = setup();
    await tickets.addFinalizer(tickets.get()!, FINALIZER);
    tickets.cached!.metadata.resourceVersion = '1'; // the cache lags behind the API server
    await expect(reconcile()).rejects.toThrow('409');
    expect(bookings.calls).toEqual(['list']);
  });

  test('a booking cancelled outside is booked again, with an event saying so', async () => {
    const { tickets, bookings, events, reconcile } = setup();
    await reconcile();
    bookings.bookings.get('uid-1.0')!.state = 'cancelled';
    await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1' }]);
    expect(events.at(-1)).toBe('Warning BookingRepaired: booking uid-1.0 was cancelled outside the operator; booked uid-1.1 instead');
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.1' });
  });

  test('seats changed outside are set back, with an event saying so', async () => {
    const { bookings, events, reconcile } = setup();
    await reconcile();
    bookings.bookings.get('uid-1.0')!.seats = 7;
    await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', seats: 2 }]);
    expect(events.at(-1)).toBe('Warning BookingRepaired: booking uid-1.0 had 7 seats, changed outside the operator; set back to 2');
  });

  test('a transient failure shows as Synced=False and is rethrown with its Retry-After', async () => {
    const { tickets, bookings, reconcile } = setup();
    bookings.failNext.push(new TransientBookingError('rate_limited', 'slow down', { status: 429, retryAfterMs: 3000 }));
    await expect(reconcile()).rejects.toMatchObject({ retryAfterMs: 3000 });
    const synced = tickets.stored!.status!.conditions!.find((c) => c.type === 'Synced');
    expect(synced).toMatchObject({ status: 'False', reason: 'BookingServiceUnavailable', message: 'booking API: slow down; retrying' });
    await reconcile();
    expect(tickets.stored!.status!.conditions!.find((c) => c.type === 'Synced')).toMatchObject({ status: 'True' });
  });

  test('a spec change after a lost answer books the new spec under the next key, then cancels the old booking', async () => {
    const { tickets, bookings, reconcile } = setup();
    bookings.loseNextAnswer = true;
    await expect(reconcile()).rejects.toBeInstanceOf(TransientBookingError);
    tickets.edit((t) => (t.spec.to = 'Paris')); // key uid-1.0 committed London
    await reconcile(); // London found by owner: Paris under uid-1.1, then London cancelled
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1', to: 'Paris' }]);
    expect(bookings.bookings.size).toBe(2);
  });

  test('a key reused while its create was in flight (422 once it commits) is never booked twice', async () => {
    // GIVEN a create of London in flight under uid-1.0, and the spec changed to Paris
    const { tickets, bookings, reconcile } = setup();
    bookings.slowNextCreate = true;
    await expect(reconcile()).rejects.toMatchObject({ code: 'timeout' });
    tickets.edit((t) => (t.spec.to = 'Paris'));
    // WHEN London commits after the list but before the Paris create under the same key: refused (422), the reconcile comes back
    const real = bookings.createBooking.bind(bookings);
    bookings.createBooking = async (key, req) => {
      bookings.commitLate();
      bookings.createBooking = real;
      return real(key, req);
    };
    await expect(reconcile()).resolves.toEqual({ requeue: true });
    await reconcile();
    // THEN Paris under the next key, London cancelled: two bookings, two keys
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1', to: 'Paris' }]);
    expect(bookings.bookings.size).toBe(2);
  });
});

describe('reconcileTicket: where the key lives (upgrades, other booking services)', () => {
  const EXT = EXTERNAL_NAME_ANNOTATION;
  test('a ticket an older controller left mid-create (key in status.pendingBookingKey) replays that key, books once, and drops it', async () => {
    // GIVEN the key persisted by the older controller, the create's answer lost
    const { tickets, bookings, reconcile } = setup();
    tickets.edit((t) => ((t.metadata.finalizers = [FINALIZER]), (t.status = { pendingBookingKey: 'uid-1.old' })));
    tickets.stored!.metadata.generation = tickets.cached!.metadata.generation = 1;
    await bookings.createBooking('uid-1.old', { from: 'Cairo', to: 'London', seats: 2, owner: 'uid-1', ownerRef: 'default/my-flight-ticket' });
    bookings.bookings.get('uid-1.old')!.owner = 'nobody-yet'; // not found by owner: only the key can settle it
    bookings.calls.length = 0;
    const replayed = bookings.createBooking.bind(bookings);
    bookings.createBooking = async (key, req) => {
      bookings.bookings.get('uid-1.old')!.owner = 'uid-1';
      return replayed(key, req);
    };
    // WHEN the new controller reconciles
    await reconcile();
    // THEN it replays the old key (no new one), and the ticket records the booking and forgets the key
    expect(bookings.calls).toEqual(['list', 'create Cairo->London']);
    expect(bookings.bookings.size).toBe(1);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.old' });
    expect(tickets.stored!.status!.pendingBookingKey).toBeUndefined();
    expect(tickets.stored!.metadata.annotations).toEqual({ [EXT]: 'uid-1.old' });
    expect(tickets.writes).toEqual(['status', `annotate ${EXT}=uid-1.old`]);
  });

  test('a booking service that names bookings itself costs a third write (the id), and nothing more after', async () => {
    const { tickets, bookings, reconcile } = setup();
    bookings.idsAreKeys = false;
    await reconcile();
    expect(tickets.writes).toEqual(['recordKey uid-1.0', 'status', `annotate ${EXT}=bk-1`]);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'bk-1' });
    tickets.writes = [];
    bookings.calls.length = 0;
    await reconcile();
    expect(bookings.calls).toEqual(['list']);
    expect(tickets.writes).toEqual([]);
    // Deleted: the key is settled (the annotation names the booking held), so no replay before the cancel.
    tickets.edit((t) => (t.metadata.deletionTimestamp = '2026-11-22T10:01:00Z'));
    await reconcile();
    expect(bookings.calls).toEqual(['list', 'close', 'list', 'cancel bk-1']);
    expect(bookings.active()).toEqual([]);
  });

  test('a finalizer removed by hand from a ticket that holds a booking goes back on before anything else is written', async () => {
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    tickets.edit((t) => (t.metadata.finalizers = []));
    tickets.stored!.metadata.generation = tickets.cached!.metadata.generation = 1; // metadata edits keep the generation
    tickets.writes = [];
    await reconcile();
    expect(tickets.writes).toEqual(['addFinalizer']);
    expect(tickets.stored!.metadata.finalizers).toEqual([FINALIZER]);
    expect(bookings.bookings.size).toBe(1);
  });
});

describe('reconcileTicket: restore and adoption (flights.com/external-name)', () => {
  const EXT = 'flights.com/external-name';
  test('the annotation names are the documented ones', () => {
    expect([EXTERNAL_NAME_ANNOTATION, ADOPT_ANNOTATION]).toEqual([EXT, 'flights.com/adopt']);
  });

  test('a booked ticket carries its booking id in flights.com/external-name, written once', async () => {
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    expect(tickets.stored!.metadata.annotations).toMatchObject({ [EXT]: 'uid-1.0' });
    expect(tickets.writes).toEqual(['recordKey uid-1.0', 'status']);
    tickets.writes = [];
    bookings.calls.length = 0;
    await reconcile();
    expect(tickets.writes).toEqual([]);
    expect(bookings.calls).toEqual(['list']);
    // A route change moves the annotation to the new booking.
    tickets.edit((t) => (t.spec.to = 'Paris'));
    await reconcile();
    expect(tickets.stored!.metadata.annotations).toMatchObject({ [EXT]: 'uid-1.1' });
  });

  test('restored with a new uid and no status, in the cluster that booked it: adopts the booking (no create, no cancel)', async () => {
    // GIVEN the booking the ticket's earlier incarnation (uid old-uid) made in this cluster, and no ticket with that uid left
    const { tickets, bookings, events, reconcile, deps } = setup({ from: 'cairo', to: 'LONDON', number: 2 }, { [EXT]: 'bk-9' });
    deps.cluster = 'cluster-a';
    bookings.seed({ id: 'bk-9', owner: 'old-uid', cluster: 'cluster-a', from: 'Cairo', to: 'London', orphaned: true });
    // WHEN reconciled
    await reconcile();
    // THEN the booking is re-owned, guarded by its old owner, and the ticket is Ready with it
    expect(bookings.calls).toEqual(['list', 'get bk-9', 'reown bk-9']);
    expect(bookings.bookings.get('bk-9')).toMatchObject({ owner: 'uid-1', ownerRef: 'default/my-flight-ticket', cluster: 'cluster-a', orphaned: false, state: 'active' });
    expect(bookings.bookings.size).toBe(1);
    expect(tickets.stored!.status).toMatchObject({ bookingRef: 'bk-9', seats: 2 });
    expect(ready(tickets.stored)).toMatchObject({ status: 'True', reason: 'Booked' });
    expect(events).toEqual(['Normal Adopted: adopted booking bk-9 (Cairo -> London, 2 seats) from owner old-uid of cluster cluster-a']);
    // AND afterwards it is an ordinary booked ticket: one list, no write
    tickets.writes = [];
    bookings.calls.length = 0;
    await reconcile();
    expect(bookings.calls).toEqual(['list']);
    expect(tickets.writes).toEqual([]);
  });

  test('a booking that no longer exists (cancelled or unknown) is booked once, with an event saying so', async () => {
    for (const gone of ['cancelled', 'unknown'] as const) {
      const { tickets, bookings, events, reconcile, deps } = setup(undefined, { [EXT]: 'bk-9' });
      deps.cluster = 'cluster-a';
      if (gone === 'cancelled') bookings.seed({ id: 'bk-9', owner: 'old-uid', cluster: 'cluster-a', state: 'cancelled' });
      await reconcile();
      await reconcile();
      expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', owner: 'uid-1' }]);
      expect(bookings.calls.filter((c) => c.startsWith('create'))).toEqual(['create Cairo->London']);
      expect(events).toEqual([
        `Warning BookingGone: booking bk-9 named by flights.com/external-name is ${gone === 'cancelled' ? 'cancelled' : 'unknown to the booking service'}; booking anew`,
        'Normal Booked: booked uid-1.0: Cairo -> London, 2 seats',
      ]);
      expect(tickets.stored!.metadata.annotations).toMatchObject({ [EXT]: 'uid-1.0' });
    }
  });

  test('a booking owned by another cluster is not taken (OwnedByAnotherCluster) until the ticket is marked for adoption', async () => {
    const { tickets, bookings, events, reconcile, deps } = setup(undefined, { [EXT]: 'bk-9' });
    deps.cluster = 'cluster-b';
    bookings.seed({ id: 'bk-9', owner: 'old-uid', cluster: 'cluster-a' });
    const result = await reconcile();
    expect(bookings.calls).toEqual(['list', 'get bk-9']);
    expect(bookings.bookings.get('bk-9')).toMatchObject({ owner: 'old-uid', cluster: 'cluster-a' });
    expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'OwnedByAnotherCluster' });
    expect(ready(tickets.stored)!.message).toBe(
      'booking bk-9 belongs to cluster cluster-a (owner old-uid), not this one (cluster-b); annotate the ticket flights.com/adopt=true to take it over',
    );
    expect(events).toEqual([`Warning OwnedByAnotherCluster: ${ready(tickets.stored)!.message}`]);
    expect(result).toEqual({ requeueAfter: 60_000 });
    // Again: nothing new to say, nothing written.
    tickets.writes = [];
    await reconcile();
    expect(tickets.writes).toEqual([]);
    // WHEN a human marks it for adoption
    tickets.edit((t) => (t.metadata.annotations = { ...t.metadata.annotations, 'flights.com/adopt': 'true' }));
    await reconcile();
    expect(bookings.bookings.get('bk-9')).toMatchObject({ owner: 'uid-1', cluster: 'cluster-b' });
    expect(ready(tickets.stored)).toMatchObject({ status: 'True', reason: 'Booked' });
    expect(bookings.bookings.size).toBe(1);
  });

  test('a booking still held by another live ticket of this cluster (a copied annotation) is not taken', async () => {
    const { tickets, bookings, reconcile, deps } = setup(undefined, { [EXT]: 'bk-9', 'flights.com/adopt': 'true' });
    deps.cluster = 'cluster-a';
    bookings.seed({ id: 'bk-9', owner: 'uid-other', ownerRef: 'default/original', cluster: 'cluster-a' });
    tickets.others.set('default/original', 'uid-other');
    await reconcile();
    expect(bookings.bookings.get('bk-9')!.owner).toBe('uid-other');
    expect(bookings.bookings.size).toBe(1);
    expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'OwnedByAnotherTicket' });
    expect(ready(tickets.stored)!.message).toBe('booking bk-9 is held by ticket default/original (uid uid-other), which still exists');
  });

  test('a booking on another route or with other seats is not adopted (ExternalNameMismatch)', async () => {
    const { tickets, bookings, reconcile, deps } = setup(undefined, { [EXT]: 'bk-9' });
    deps.cluster = 'cluster-a';
    bookings.seed({ id: 'bk-9', owner: 'old-uid', cluster: 'cluster-a', to: 'Paris', seats: 3 });
    await reconcile();
    expect(bookings.calls).toEqual(['list', 'get bk-9']);
    expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'ExternalNameMismatch' });
    expect(ready(tickets.stored)!.message).toBe('booking bk-9 is Cairo -> Paris, 3 seats; the ticket wants Cairo -> London, 2 seats: not adopted (remove flights.com/external-name to book anew)');
  });

  test('a second adopter that lost the race is told so and takes nothing', async () => {
    const { tickets, bookings, reconcile, deps } = setup(undefined, { [EXT]: 'bk-9' });
    deps.cluster = 'cluster-a';
    bookings.seed({ id: 'bk-9', owner: 'old-uid', cluster: 'cluster-a' });
    const realReown = bookings.reown.bind(bookings);
    bookings.reown = async (id, req) => {
      bookings.bookings.get(id)!.owner = 'uid-winner'; // someone else re-owned it between our read and our call
      return realReown(id, req);
    };
    await reconcile();
    expect(bookings.bookings.get('bk-9')!.owner).toBe('uid-winner');
    expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'OwnerChanged' });
  });
});

describe('reconcileTicket: exactly once with no hole (issue 18)', () => {
  const EXT = EXTERNAL_NAME_ANNOTATION;
  const deleteIt = (tickets: FakeTickets) => tickets.edit((t) => (t.metadata.deletionTimestamp = '2026-11-22T10:01:00Z'));

  for (const policy of ['Delete', 'Orphan'] as const) {
    test(`GIVEN a sold-out ticket WHEN seats free up and it is deleted (${policy}) THEN nothing is ever booked for it`, async () => {
      // GIVEN a refused create (its key stays in the annotation)
      const { tickets, bookings, reconcile } = setup(undefined, { 'flights.com/deletion-policy': policy });
      bookings.soldOut.add('Cairo->London');
      await reconcile();
      expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'SoldOut' });
      // WHEN seats free up and the ticket is deleted
      bookings.soldOut.clear();
      deleteIt(tickets);
      await reconcile();
      // THEN the ticket is gone and no booking was ever created for it: deletion sent no create
      expect(tickets.stored).toBeUndefined();
      expect(bookings.bookings.size).toBe(0);
      expect(bookings.calls.slice(2)).toEqual(['close', 'list']);
      // AND a create that arrives late (a stale replica) is refused
      await expect(bookings.createBooking('uid-1.0', { from: 'Cairo', to: 'London', seats: 2, owner: 'uid-1', ownerRef: 'default/my-flight-ticket' })).rejects.toMatchObject({
        code: 'owner_closed',
      });
    });
  }

  for (const edit of ['removed', 'overwritten'] as const) {
    test(`GIVEN a create in flight WHEN its key annotation is ${edit} THEN the retry uses the same key and one booking results`, async () => {
      // GIVEN the create times out on our side and commits later
      const { tickets, bookings, reconcile } = setup();
      bookings.slowNextCreate = true;
      await expect(reconcile()).rejects.toMatchObject({ code: 'timeout' });
      // WHEN a user (or a GitOps sync) rewrites the annotations
      tickets.edit((t) => {
        const a = { ...t.metadata.annotations };
        if (edit === 'removed') delete a[EXT];
        else a[EXT] = 'someone-elses-value';
        t.metadata.annotations = a;
      });
      tickets.stored!.metadata.generation = tickets.cached!.metadata.generation = 1;
      // THEN the retry derives the same key: still in flight
      await expect(reconcile()).rejects.toMatchObject({ code: 'request_in_flight' });
      bookings.commitLate();
      await reconcile();
      expect(bookings.bookings.size).toBe(1);
      expect(bookings.active()).toMatchObject([{ id: 'uid-1.0' }]);
      expect(tickets.stored!.status).toMatchObject({ bookingRef: 'uid-1.0' });
      expect(tickets.stored!.metadata.annotations![EXT]).toBe('uid-1.0');
    });
  }

  test('GIVEN a cache that lags behind a seat change WHEN reconciled THEN no seat change on the old spec and no false repair: it goes on from the live ticket', async () => {
    // GIVEN a Ready ticket (2 seats) whose booking another replica already set to 5 along with the spec
    const { tickets, bookings, events, reconcile } = setup();
    await reconcile();
    const thaw = tickets.freezeCache();
    tickets.edit((t) => (t.spec.number = 5));
    await bookings.updateSeats('uid-1.0', 5);
    bookings.calls.length = 0;
    events.length = 0;
    // WHEN this replica reconciles on its stale cache (spec: 2 seats)
    await reconcile();
    // THEN it read the ticket live, found it newer, and acted on that: the booking keeps 5 seats
    expect(bookings.calls).toEqual(['list', 'list']);
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.0', seats: 5 }]);
    expect(events.filter((e) => e.includes('BookingRepaired') || e.includes('SeatsChanged'))).toEqual([]);
    expect(tickets.stored!.status).toMatchObject({ seats: 5, observedGeneration: 2 });
    thaw();
  });

  test('GIVEN a cache that lags behind a route change WHEN reconciled THEN nothing is cancelled on the old view', async () => {
    // GIVEN the live ticket moved to Paris and holds uid-1.1; this replica's cache still says London and holds uid-1.0
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    const thaw = tickets.freezeCache();
    tickets.edit((t) => (t.spec.to = 'Paris'));
    // The other replica's work, done on the live ticket:
    thaw();
    await reconcile();
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1', to: 'Paris' }]);
    // WHEN a replica whose cache still has generation 1 (London) reconciles
    const stale = structuredClone(tickets.stored!);
    stale.spec.to = 'London';
    stale.metadata.generation = 1;
    stale.metadata.resourceVersion = '2';
    tickets.cached = stale;
    bookings.calls.length = 0;
    await expect(reconcile()).rejects.toThrow('409');
    // THEN it could not book London (the key write conflicted) and cancelled nothing
    expect(bookings.calls).toEqual(['list']);
    expect(bookings.active()).toMatchObject([{ id: 'uid-1.1', to: 'Paris' }]);
  });

  test('GIVEN a user sets flights.com/external-name to another value on a booked ticket WHEN reconciled THEN it is left alone, with a Warning', async () => {
    const { tickets, bookings, events, reconcile } = setup();
    await reconcile();
    tickets.edit((t) => (t.metadata.annotations = { [EXT]: 'bk-elsewhere' }));
    tickets.stored!.metadata.generation = tickets.cached!.metadata.generation = 1;
    tickets.edit((t) => (t.spec.number = 3)); // a status change comes with it
    tickets.writes = [];
    await reconcile();
    expect(tickets.stored!.metadata.annotations![EXT]).toBe('bk-elsewhere');
    expect(tickets.writes).toEqual(['status']);
    expect(events.at(-1)).toMatch(/^Warning ExternalNameIgnored: flights.com\/external-name=bk-elsewhere names a booking this ticket does not hold; it holds uid-1.0/);
    expect(bookings.bookings.size).toBe(1);
  });

  test('GIVEN the booking its key made was moved to another ticket WHEN the key is replayed THEN the ticket says so and books nothing', async () => {
    // GIVEN uid-1.0's booking was adopted by a restored ticket (owner uid-2)
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    bookings.bookings.get('uid-1.0')!.owner = 'uid-2';
    tickets.edit((t) => (t.metadata.annotations = {}));
    tickets.stored!.metadata.generation = tickets.cached!.metadata.generation = 1;
    // WHEN reconciled: nothing of its own is listed, the derived key is uid-1.0 again
    await reconcile();
    // THEN
    expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'BookingTakenOver' });
    expect(bookings.bookings.size).toBe(1);
  });

  test('GIVEN a sold-out ticket WHEN the seats left change but it stays sold out THEN no status write and no event', async () => {
    const { tickets, bookings, events, reconcile } = setup();
    bookings.soldOut.add('Cairo->London');
    await reconcile();
    tickets.writes = [];
    events.length = 0;
    bookings.seatsLeft = 0;
    await reconcile();
    expect(tickets.writes).toEqual([]);
    expect(events).toEqual([]);
  });

  test('GIVEN a booking service without the close endpoint (a bare 404) WHEN a booked ticket is deleted THEN it keeps its finalizer and says BookingServiceOutdated', async () => {
    const { tickets, bookings, reconcile } = setup();
    await reconcile();
    bookings.closeOwner = async () => {
      throw new PermanentBookingError('http_404', 'HTTP 404', { status: 404 });
    };
    deleteIt(tickets);
    await reconcile();
    expect(tickets.stored!.metadata.finalizers).toEqual([FINALIZER]);
    expect(ready(tickets.stored)).toMatchObject({ status: 'False', reason: 'BookingServiceOutdated' });
    expect(bookings.active()).toHaveLength(1);
  });
});
