/**
 * JSON-lines logger: one object per line with `level`, `ts`, `msg` and fields.
 *
 * Why our own: a log line must never leak a bearer token or password, and a
 * controller logs objects and errors from libraries that may carry them. So
 * every line goes through a redaction pass (by key name, and `Bearer xyz`
 * inside strings) before it is written. No dependency, ~100 lines.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. {controller, key}). */
  child(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** Minimum level; default from LOG_LEVEL, else 'info'. */
  level?: LogLevel;
  /** Fields added to every line. */
  fields?: LogFields;
  /** Where a finished line goes; default process.stdout. */
  sink?: (line: string) => void;
  /** Keys whose values are replaced by "[REDACTED]"; default DEFAULT_REDACT_KEYS. */
  redactKeys?: RegExp;
  now?: () => Date;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Key names that carry secrets in Kubernetes/HTTP land. Matched case-insensitively, anywhere in the key. */
export const DEFAULT_REDACT_KEYS =
  /token|authorization|password|passwd|secret|cookie|api[-_]?key|credential|private[-_]?key|client[-_]?key/i;
export const REDACTED = '[REDACTED]';
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
const MAX_DEPTH = 8;

function parseLevel(v: string | undefined): LogLevel | undefined {
  const l = v?.toLowerCase();
  return l === 'debug' || l === 'info' || l === 'warn' || l === 'error' ? l : undefined;
}

/** Deep-copies `value` replacing secret-looking keys and bearer strings; cycle and depth safe. */
export function redact(value: unknown, keys: RegExp = DEFAULT_REDACT_KEYS, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return value.replace(BEARER, `$1 ${REDACTED}`);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const e = value as Error & { code?: unknown; statusCode?: unknown; body?: unknown; cause?: unknown };
      const out: LogFields = { name: e.name, message: redact(e.message, keys, depth + 1, seen) };
      if (e.code !== undefined) out.code = e.code;
      if (e.statusCode !== undefined) out.statusCode = e.statusCode;
      if (e.stack) out.stack = redact(e.stack, keys, depth + 1, seen);
      if (e.cause !== undefined) out.cause = redact(e.cause, keys, depth + 1, seen);
      return out;
    }
    if (value instanceof Date) return value.toISOString();
    if (Array.isArray(value)) return value.map((v) => redact(v, keys, depth + 1, seen));
    const out: LogFields = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = keys.test(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, keys, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly fields: LogFields,
    private readonly sink: (line: string) => void,
    private readonly keys: RegExp,
    private readonly now: () => Date,
  ) {}

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }
  debug(msg: string, fields?: LogFields): void { this.write('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write('error', msg, fields); }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, { ...this.fields, ...fields }, this.sink, this.keys, this.now);
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const body = redact({ ...this.fields, ...fields }, this.keys) as LogFields;
    // level/ts/msg go first for readability and cannot be overridden by fields.
    const ts = this.now().toISOString();
    const text = redact(msg, this.keys);
    const line = { level, ts, msg: text, ...body };
    line.level = level;
    line.ts = ts;
    line.msg = text;
    try {
      this.sink(JSON.stringify(line) + '\n');
    } catch {
      // A logger must never throw into its caller (e.g. EPIPE on stdout).
    }
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? parseLevel(process.env.LOG_LEVEL) ?? 'info';
  const sink = opts.sink ?? ((line: string) => void process.stdout.write(line));
  return new JsonLogger(level, opts.fields ?? {}, sink, opts.redactKeys ?? DEFAULT_REDACT_KEYS, opts.now ?? (() => new Date()));
}

/** A logger that drops everything: the default for library pieces when none is given. */
export const noopLogger: Logger = createLogger({ level: 'error', sink: () => {} });
