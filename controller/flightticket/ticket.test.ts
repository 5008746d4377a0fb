import { needsReconcile, onlyExternalNameRecorded } from './ticket';

const t = (annotations: Record<string, string>, bookingRef?: string) => ({ metadata: { uid: 'uid-1', annotations }, status: { bookingRef } });
const EXT = 'flights.com/external-name';

describe('onlyExternalNameRecorded (our own annotation write needs no second reconcile)', () => {
  test('the controller recording the booking held: true', () => {
    expect(onlyExternalNameRecorded(t({ a: '1' }, 'bk-1'), t({ a: '1', [EXT]: 'bk-1' }, 'bk-1'))).toBe(true);
    expect(onlyExternalNameRecorded(t({ [EXT]: 'bk-1' }, 'bk-2'), t({ [EXT]: 'bk-2' }, 'bk-2'))).toBe(true); // a route change moved it
  });

  test('the controller recording the key of the create it is about to send (the ticket\'s uid, a dot, a random part): true', () => {
    expect(onlyExternalNameRecorded(t({}), t({ [EXT]: 'uid-1.k1' }))).toBe(true); // a new ticket
    expect(onlyExternalNameRecorded(t({ [EXT]: 'uid-1.k1' }, 'uid-1.k1'), t({ [EXT]: 'uid-1.k2' }, 'uid-1.k1'))).toBe(true); // a route change
    expect(onlyExternalNameRecorded(t({}), t({ [EXT]: 'uid-10.k1' }))).toBe(false); // another uid's key: an import
    expect(onlyExternalNameRecorded(t({}), t({ [EXT]: 'uid-1' }))).toBe(false);
  });

  test('anything else: false', () => {
    expect(onlyExternalNameRecorded(t({}, 'bk-1'), t({ [EXT]: 'bk-9' }, 'bk-1'))).toBe(false); // a user naming another booking
    expect(onlyExternalNameRecorded(t({}), t({ [EXT]: 'bk-9' }))).toBe(false); // a user importing a booking into a new ticket
    expect(onlyExternalNameRecorded(t({}, 'bk-1'), t({ [EXT]: 'bk-1', 'flights.com/adopt': 'true' }, 'bk-1'))).toBe(false); // another annotation too
    expect(onlyExternalNameRecorded(t({ [EXT]: 'bk-1' }, 'bk-1'), t({ [EXT]: 'bk-1', 'flights.com/adopt': 'true' }, 'bk-1'))).toBe(false);
    expect(onlyExternalNameRecorded(t({ [EXT]: 'bk-1' }, 'bk-1'), t({}, 'bk-1'))).toBe(false); // removed
  });
});

describe('needsReconcile (which watch updates start a reconcile)', () => {
  const obj = (m: { uid?: string; generation?: number; finalizers?: string[]; deletionTimestamp?: string; annotations?: Record<string, string> }, bookingRef?: string) => ({
    metadata: { uid: 'uid-1', generation: 1, finalizers: ['flights.com/booking'], annotations: {}, ...m },
    status: { bookingRef },
  });
  test('GIVEN only our own status or key writes THEN no reconcile', () => {
    expect(needsReconcile(obj({}), obj({}))).toBe(false);
    expect(needsReconcile(obj({}), obj({ annotations: { [EXT]: 'uid-1.0' } }))).toBe(false);
  });
  test('GIVEN a spec change, a deletion, an annotation edit THEN a reconcile', () => {
    expect(needsReconcile(obj({}), obj({ generation: 2 }))).toBe(true);
    expect(needsReconcile(obj({}), obj({ deletionTimestamp: '2026-12-06T00:00:00Z' }))).toBe(true);
    expect(needsReconcile(obj({ annotations: { [EXT]: 'uid-1.0' } }), obj({}))).toBe(true);
  });
  test('GIVEN the same name with a new uid (deleted and created again between two events) THEN a reconcile', () => {
    expect(needsReconcile(obj({}), obj({ uid: 'uid-2' }))).toBe(true);
  });
  test('GIVEN our finalizer taken off a live ticket by hand THEN a reconcile (it goes back on while a booking exists); taken off by us at deletion THEN none', () => {
    expect(needsReconcile(obj({}), obj({ finalizers: [] }))).toBe(true);
    const deleting = { deletionTimestamp: '2026-12-06T00:00:00Z' };
    expect(needsReconcile(obj(deleting), obj({ ...deleting, finalizers: [] }))).toBe(false);
  });
});
