import { startIdleGc } from './idle-gc';

const MiB = 2 ** 20;

/** A heap that grows when told to and shrinks to `liveMiB` when collected. */
function fakeHeap(startMiB: number) {
  const h = { committed: startMiB * MiB, live: startMiB * MiB, collections: 0 };
  return {
    h,
    heapBytes: () => h.committed,
    gc: () => {
      h.collections++;
      h.committed = h.live;
    },
  };
}

describe('idle gc', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('GIVEN the heap grew 10 MiB during a burst WHEN the work has been idle for two checks THEN one full GC runs, and none after it', () => {
    const heap = fakeHeap(11);
    let idle = false;
    const stop = startIdleGc({ idle: () => idle, gc: heap.gc, heapBytes: heap.heapBytes, intervalMs: 1000 });
    heap.h.committed = 21 * MiB; // burst: V8 grew its heap
    heap.h.live = 13 * MiB; // what survives a full collection
    jest.advanceTimersByTime(5000); // busy all along
    expect(heap.h.collections).toBe(0);
    idle = true;
    jest.advanceTimersByTime(1000); // first quiet check: not yet
    expect(heap.h.collections).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(heap.h.collections).toBe(1);
    expect(heap.h.committed).toBe(13 * MiB);
    jest.advanceTimersByTime(60_000);
    expect(heap.h.collections).toBe(1);
    stop();
  });

  it('GIVEN a heap that grew because it holds more WHEN collected once THEN the new size is the baseline: no collection at every check', () => {
    const heap = fakeHeap(11);
    const stop = startIdleGc({ idle: () => true, gc: heap.gc, heapBytes: heap.heapBytes, intervalMs: 1000 });
    heap.h.committed = heap.h.live = 40 * MiB; // all of it live
    jest.advanceTimersByTime(30_000);
    expect(heap.h.collections).toBe(1);
    heap.h.committed = 43 * MiB; // less than the growth threshold above 40
    jest.advanceTimersByTime(30_000);
    expect(heap.h.collections).toBe(1);
    stop();
  });

  it('GIVEN work arriving at every other check WHEN the heap has grown THEN no collection runs in the middle of it', () => {
    const heap = fakeHeap(11);
    let checks = 0;
    const stop = startIdleGc({ idle: () => checks++ % 2 === 0, gc: heap.gc, heapBytes: heap.heapBytes, intervalMs: 1000 });
    heap.h.committed = 30 * MiB;
    jest.advanceTimersByTime(20_000);
    expect(heap.h.collections).toBe(0);
    stop();
  });

  it('GIVEN node without --expose-gc WHEN started THEN it does nothing and says so at debug level', () => {
    const debug = jest.fn();
    const saved = (globalThis as { gc?: unknown }).gc;
    delete (globalThis as { gc?: unknown }).gc;
    try {
      const stop = startIdleGc({ idle: () => true, logger: { debug } as never, intervalMs: 1000 });
      jest.advanceTimersByTime(10_000);
      stop();
    } finally {
      if (saved) (globalThis as { gc?: unknown }).gc = saved;
    }
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('--expose-gc'));
  });
});
