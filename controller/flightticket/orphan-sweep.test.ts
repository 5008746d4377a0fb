import { PermanentBookingError, type Booking } from '../booking/client';
import { sweepOrphans, type SweepDeps } from './orphan-sweep';

const booking = (id: string, owner: string, ownerRef: string | null, extra: Partial<Booking> = {}): Booking => ({
  id,
  from: 'Cairo',
  to: 'London',
  seats: 1,
  owner,
  ownerRef,
  cluster: 'c1',
  orphaned: false,
  state: 'active',
  createdAt: '',
  updatedAt: '',
  version: 1,
  ...extra,
});

function deps(bookings: Booking[], opts: { cached?: string[]; live?: Record<string, string>; watched?: string[]; versions?: Record<string, number> } = {}) {
  const cancelled: string[] = [];
  const listed: unknown[] = [];
  const d: SweepDeps = {
    cluster: 'c1',
    bookings: {
      listBookings: async (f) => {
        listed.push(f);
        return bookings;
      },
      cancelBooking: async (id, o) => {
        const b = bookings.find((x) => x.id === id)!;
        // The service's current version; a cancel conditional on an older one is refused (If-Match).
        const now = opts.versions?.[id] ?? b.version;
        if (o?.ifVersion !== undefined && o.ifVersion !== now) throw new PermanentBookingError('version_mismatch', `booking ${id} is at version ${now}`);
        cancelled.push(id);
        return { ...bookings.find((b) => b.id === id)!, state: 'cancelled' };
      },
    },
    watches: (ns) => !opts.watched || opts.watched.includes(ns),
    cachedUids: () => new Set(opts.cached ?? []),
    liveUid: async (ns, name) => opts.live?.[`${ns}/${name}`],
    onCancelled: () => {},
  };
  return { d, cancelled, listed };
}

describe('sweepOrphans', () => {
  test('cancels only active bookings of this cluster whose ticket is gone, neither orphaned nor in an unwatched namespace', async () => {
    const { d, cancelled, listed } = deps(
      [
        booking('gone', 'u-gone', 'a/gone'),
        booking('cached', 'u-cached', 'a/cached'),
        booking('stale-cache', 'u-new', 'a/new'), // created after the cache was filled: a live read finds it
        booking('replaced', 'u-old', 'a/same-name'), // a ticket of that name exists, but with another uid
        booking('orphaned', 'u-orph', 'a/orph', { orphaned: true }),
        booking('elsewhere', 'u-x', 'b/x'),
        booking('no-ref', 'u-y', null),
      ],
      { cached: ['u-cached'], live: { 'a/new': 'u-new', 'a/same-name': 'u-other' }, watched: ['a'] },
    );
    const r = await sweepOrphans(d);
    expect(listed).toEqual([{ cluster: 'c1', state: 'active' }]);
    expect(cancelled).toEqual(['gone', 'replaced']);
    expect(r).toMatchObject({ checked: 5, keptOrphaned: 1 });
  });

  test('GIVEN a booking marked orphaned, and one adopted by a restored ticket, after the list WHEN the sweep cancels THEN both are kept', async () => {
    // GIVEN the list saw version 1 of each; markOrphaned and reown made them version 2 before the cancel
    const { d, cancelled } = deps([booking('orphaned-late', 'u-a', 'a/a'), booking('adopted-late', 'u-b', 'a/b'), booking('gone', 'u-c', 'a/c')], {
      versions: { 'orphaned-late': 2, 'adopted-late': 2 },
    });
    // WHEN
    const r = await sweepOrphans(d);
    // THEN only the one that did not change is cancelled
    expect(cancelled).toEqual(['gone']);
    expect(r).toMatchObject({ checked: 3, changed: 2 });
  });
});
