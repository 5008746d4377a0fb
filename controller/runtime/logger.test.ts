import { createLogger, redact, REDACTED } from './logger';

function capture(level: 'debug' | 'info' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, sink: (l) => lines.push(JSON.parse(l)), now: () => new Date('2025-01-02T03:04:05.678Z') });
  return { lines, logger };
}

describe('logger', () => {
  it('writes one JSON object per line with level, ts, msg and fields', () => {
    const { lines, logger } = capture();
    logger.info('hello', { a: 1 });
    expect(lines).toEqual([{ level: 'info', ts: '2025-01-02T03:04:05.678Z', msg: 'hello', a: 1 }]);
  });

  it('filters by level', () => {
    const { lines, logger } = capture('info');
    logger.debug('hidden');
    logger.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
    expect(logger.enabled('debug')).toBe(false);
  });

  it('child loggers add fields; fields cannot override level/ts/msg', () => {
    const { lines, logger } = capture();
    logger.child({ controller: 'c' }).child({ key: 'ns/x' }).error('boom', { msg: 'nope', level: 'debug' });
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'boom', controller: 'c', key: 'ns/x' });
  });

  it('redacts secret-looking keys at any depth and bearer tokens in strings', () => {
    const { lines, logger } = capture();
    logger.info('req Authorization: Bearer abc.def-123', {
      headers: { Authorization: 'Bearer abc', 'x-api-key': 'k', accept: 'json' },
      user: { password: 'p', name: 'n', nested: [{ token: 't', refreshToken: 'r' }] },
      clientKeyData: 'pem',
      secretName: 'my-secret', // key matches: value is redacted too (we prefer over-redaction)
    });
    const l = lines[0] as any;
    expect(l.msg).toBe(`req Authorization: Bearer ${REDACTED}`);
    expect(l.headers).toEqual({ Authorization: REDACTED, 'x-api-key': REDACTED, accept: 'json' });
    expect(l.user.password).toBe(REDACTED);
    expect(l.user.name).toBe('n');
    expect(l.user.nested[0]).toEqual({ token: REDACTED, refreshToken: REDACTED });
    expect(l.clientKeyData).toBe(REDACTED);
    expect(JSON.stringify(l)).not.toMatch(/abc|"p"|"t"|pem/);
  });

  it('serializes errors (with code and cause) and survives cycles', () => {
    const cyc: any = { a: 1 };
    cyc.self = cyc;
    const err = Object.assign(new Error('bad token=xyz', { cause: new Error('inner') }), { code: 409 });
    const out = redact({ err, cyc }) as any;
    expect(out.err).toMatchObject({ name: 'Error', message: 'bad token=xyz', code: 409, cause: { message: 'inner' } });
    expect(out.cyc.self).toBe('[Circular]');
  });

  it('never throws when the sink throws', () => {
    const logger = createLogger({ sink: () => { throw new Error('EPIPE'); } });
    expect(() => logger.info('x')).not.toThrow();
  });
});
