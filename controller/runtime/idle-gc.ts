/**
 * One full garbage collection when the process goes quiet after its V8 heap
 * grew. V8 sizes its heap for the allocation rate of a burst (a thousand
 * objects created at once) and, in a process that has already run a full GC,
 * does not give the empty pages back on its own: the heap stays at its burst
 * size for as long as the process lives. A forced full GC compacts it and
 * releases them (docs/scale.md, Memory, has the figures).
 *
 * Rule, checked every `intervalMs`: the work is idle at this check and at the
 * one before, and V8's heap is more than `growthBytes` above what it was
 * after the last collection this piece ran (or at start). Then gc() once, and
 * the new size becomes the baseline, so a heap that grew because it holds
 * more (not garbage) is not collected again and again.
 *
 * Needs Node started with --expose-gc (the image's command line has it);
 * without it this does nothing.
 */
import { getHeapStatistics } from 'node:v8';
import type { Logger } from './logger';

export interface IdleGcOptions {
  /** True when no work is queued or running (e.g. queue.len() + queue.active() === 0). */
  idle: () => boolean;
  /** Defaults to a last-resort full collection through globalThis.gc (present with --expose-gc). */
  gc?: () => void;
  /** V8's committed heap in bytes; defaults to v8.getHeapStatistics().total_heap_size. */
  heapBytes?: () => number;
  intervalMs?: number;
  growthBytes?: number;
  logger?: Logger;
  /** Called after each collection this piece runs (metrics). */
  onCollect?: (before: number, after: number) => void;
}

export const IDLE_GC_INTERVAL_MS = 10_000;
export const IDLE_GC_GROWTH_BYTES = 4 * 2 ** 20;

/** Starts the checks; returns a function that stops them. */
export function startIdleGc(o: IdleGcOptions): () => void {
  const exposed = (globalThis as { gc?: (opts?: object) => void }).gc;
  // 'last-resort' (CollectAllAvailableGarbage): collects until nothing more
  // goes and hands V8's pooled empty pages back to the OS; a plain gc() keeps
  // them committed (a 110 MiB heap: 70 MiB after gc(), 5.5 after this).
  const gc = o.gc ?? (exposed && (() => exposed({ type: 'major', execution: 'sync', flavor: 'last-resort' })));
  if (!gc) {
    o.logger?.debug('idle gc off: node was started without --expose-gc');
    return () => {};
  }
  const heapBytes = o.heapBytes ?? (() => getHeapStatistics().total_heap_size);
  const growth = o.growthBytes ?? IDLE_GC_GROWTH_BYTES;
  let baseline = heapBytes();
  let idleBefore = false;
  const timer = setInterval(() => {
    const idle = o.idle();
    const quiet = idle && idleBefore;
    idleBefore = idle;
    if (!quiet) return;
    const before = heapBytes();
    if (before <= baseline + growth) return;
    gc();
    baseline = heapBytes();
    o.logger?.debug('idle gc', { heapBeforeMiB: +(before / 2 ** 20).toFixed(1), heapAfterMiB: +(baseline / 2 ** 20).toFixed(1) });
    o.onCollect?.(before, baseline);
  }, o.intervalMs ?? IDLE_GC_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
