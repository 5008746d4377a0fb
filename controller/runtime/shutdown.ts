/**
 * Graceful shutdown on SIGTERM/SIGINT.
 *
 * Why ordered steps with a deadline: the kubelet sends SIGTERM, waits
 * terminationGracePeriodSeconds (30 s default), then SIGKILLs. In that window
 * the order matters (controller-runtime's manager does the same):
 *   1. drain the controller: start no new reconciles, finish in-progress ones;
 *   2. release the leader Lease: only now may a standby start, so two
 *      processes never act on the same object at once;
 *   3. stop informers;
 *   4. close the probe/metrics servers last, so the kubelet can still probe
 *      us while we drain.
 * If the steps overrun the deadline we exit non-zero rather than be SIGKILLed
 * mid-write. A second signal exits at once (130).
 */
import { noopLogger, type Logger } from './logger';

export interface ShutdownStep {
  name: string;
  run: () => void | Promise<void>;
}

/** What we listen on; process by default (injectable for tests: jest's sandbox cannot take real signals). */
export type SignalSource = Pick<NodeJS.EventEmitter, 'on' | 'off'>;

export interface ShutdownOptions {
  /** Run in order; a failing step is logged and the next one still runs. */
  steps: ShutdownStep[];
  /** Overall budget. Default 25000 (below the kubelet's 30 s grace period). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
  logger?: Logger;
  /** Default process.exit; injectable for tests. */
  exit?: (code: number) => void;
  /** Exit after the steps complete. Default true. */
  exitOnComplete?: boolean;
  source?: SignalSource;
}

export interface ShutdownHandle {
  /** Aborted when shutdown begins (for loops that should wind down). */
  readonly signal: AbortSignal;
  /** Why shutdown began (signal name or the reason given), once it has. */
  readonly reason: string | undefined;
  /** Start shutdown programmatically (e.g. after losing leadership); idempotent. Resolves with the exit code. */
  shutdown(reason: string, exitCode?: number): Promise<number>;
  /** Remove the signal handlers. */
  dispose(): void;
}

export function installShutdown(opts: ShutdownOptions): ShutdownHandle {
  const logger = (opts.logger ?? noopLogger).child({ component: 'shutdown' });
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const source: SignalSource = opts.source ?? process;
  const ctl = new AbortController();
  let running: Promise<number> | undefined;
  let why: string | undefined;

  const shutdown = (reason: string, exitCode = 0): Promise<number> => {
    if (running) return running;
    why = reason;
    ctl.abort(new Error(reason));
    const timeoutMs = opts.timeoutMs ?? 25_000;
    logger.info('shutting down', { reason, timeoutMs });
    running = (async () => {
      let code = exitCode;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), timeoutMs);
      });
      const steps = (async () => {
        for (const step of opts.steps) {
          const t0 = performance.now();
          try {
            await step.run();
            logger.info('shutdown step done', { step: step.name, ms: Math.round(performance.now() - t0) });
          } catch (err) {
            code = code || 1;
            logger.error('shutdown step failed', { step: step.name, err });
          }
        }
        return 'done' as const;
      })();
      const result = await Promise.race([steps, deadline]);
      clearTimeout(timer);
      if (result === 'timeout') {
        logger.error('shutdown deadline exceeded; exiting anyway', { timeoutMs });
        exit(code || 1);
        return code || 1;
      }
      logger.info('shutdown complete', { code });
      if (opts.exitOnComplete ?? true) exit(code);
      return code;
    })();
    return running;
  };

  const handlers = signals.map((sig) => {
    const h = () => {
      if (running) {
        logger.warn('second signal; exiting now', { signal: sig });
        exit(130);
        return;
      }
      void shutdown(sig);
    };
    source.on(sig, h);
    return [sig, h] as const;
  });

  return {
    signal: ctl.signal,
    get reason() {
      return why;
    },
    shutdown,
    dispose: () => {
      for (const [sig, h] of handlers) source.off(sig, h);
    },
  };
}

/**
 * Simple form: run `handler(signal)` once on SIGTERM/SIGINT, within
 * `timeoutMs` (default 25 s; past it, or on a second signal, the process
 * exits non-zero). Does not exit after the handler: the caller decides.
 */
export function onShutdownSignal(
  handler: (signal: string) => void | Promise<void>,
  opts: Omit<ShutdownOptions, 'steps' | 'exitOnComplete'> = {},
): ShutdownHandle {
  let h: ShutdownHandle | undefined = undefined;
  h = installShutdown({
    ...opts,
    exitOnComplete: false,
    steps: [{ name: 'shutdown', run: () => handler(h?.reason ?? 'unknown') }],
  });
  return h;
}
