import type { Booking } from '../booking/client';
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

function deps(bookings: Booking[], opts: { cached?: string[]; live?: Record<string, string>; watched?: string[] } = {}) {
  const cancelled: string[] = [];
  const listed: unknown[] = [];
  const d: SweepDeps = {
    cluster: 'c1',
    bookings: {
      listBookings: async (f) => {
        listed.push(f);
        return bookings;
      },
      cancelBooking: async (id) => {
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
});
