import { conditionsEqual, findCondition, formatTime, isStatusTrue, removeCondition, semanticEqual, setCondition, type Condition } from './conditions';

const t0 = new Date('2025-01-01T00:00:00.999Z');
const t1 = new Date('2025-01-01T01:00:00Z');

describe('conditions', () => {
  it('formats metav1.Time with whole seconds', () => {
    expect(formatTime(t0)).toBe('2025-01-01T00:00:00Z');
  });

  it('adds a new condition with lastTransitionTime = now', () => {
    const { conditions, changed } = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Creating', message: 'm', observedGeneration: 1 }, t0);
    expect(changed).toBe(true);
    expect(conditions).toEqual([{ type: 'Ready', status: 'False', reason: 'Creating', message: 'm', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 1 }]);
  });

  it('a no-op set reports unchanged and returns an equal list', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Available', message: '' }, t0).conditions;
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Available', message: '' }, t1);
    expect(b.changed).toBe(false);
    expect(b.conditions).toEqual(a);
    expect(conditionsEqual(a, b.conditions)).toBe(true);
  });

  it('keeps lastTransitionTime when only reason/message/generation change', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Creating', message: '' }, t0).conditions;
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Waiting', message: 'x', observedGeneration: 2 }, t1);
    expect(b.changed).toBe(true);
    expect(b.conditions[0].lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    expect(b.conditions[0].reason).toBe('Waiting');
  });

  it('moves lastTransitionTime when status flips', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Creating', message: '' }, t0).conditions;
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Available', message: '' }, t1);
    expect(b.conditions[0].lastTransitionTime).toBe('2025-01-01T01:00:00Z');
    expect(isStatusTrue(b.conditions, 'Ready')).toBe(true);
  });

  it('preserves order and other conditions; does not mutate input', () => {
    let list: Condition[] = [];
    list = setCondition(list, { type: 'Ready', status: 'False', reason: 'A', message: '' }, t0).conditions;
    list = setCondition(list, { type: 'Synced', status: 'True', reason: 'B', message: '' }, t0).conditions;
    const frozen = Object.freeze(list.map((c) => Object.freeze({ ...c })));
    const next = setCondition(frozen, { type: 'Ready', status: 'True', reason: 'C', message: '' }, t1).conditions;
    expect(next.map((c) => c.type)).toEqual(['Ready', 'Synced']);
    expect(frozen[0].status).toBe('False');
    expect(findCondition(next, 'Synced')?.reason).toBe('B');
    const r = removeCondition(next, 'Synced');
    expect(r.changed).toBe(true);
    expect(r.conditions.map((c) => c.type)).toEqual(['Ready']);
    expect(removeCondition(r.conditions, 'Nope').changed).toBe(false);
  });

  it('conditionsEqual ignores order', () => {
    const a: Condition[] = [
      { type: 'A', status: 'True', reason: 'r', message: '', lastTransitionTime: 't' },
      { type: 'B', status: 'True', reason: 'r', message: '', lastTransitionTime: 't' },
    ];
    expect(conditionsEqual(a, [a[1], a[0]])).toBe(true);
    expect(conditionsEqual(a, [a[0]])).toBe(false);
    expect(conditionsEqual(a, [a[0], { ...a[1], message: 'x' }])).toBe(false);
  });

  it('semanticEqual treats missing, undefined and null alike', () => {
    expect(semanticEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(semanticEqual({ a: 1, b: null }, { a: 1 })).toBe(true);
    expect(semanticEqual({ a: [1, { x: 2 }] }, { a: [1, { x: 2 }] })).toBe(true);
    expect(semanticEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(semanticEqual({ a: 0 }, { a: null })).toBe(false);
    expect(semanticEqual({ a: {} }, { a: [] })).toBe(false);
  });
});
