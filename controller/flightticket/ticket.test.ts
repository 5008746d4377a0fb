import { onlyExternalNameRecorded } from './ticket';

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
