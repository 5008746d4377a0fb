import { ConfigError, loadConfig } from './config';

const env = { BOOKING_API_URL: 'http://127.0.0.1:9000', BOOKING_API_TOKEN_FILE: '/run/token' };

describe('loadConfig', () => {
  test('reads the environment, lets flags win, and applies controller-runtime style defaults', () => {
    // GIVEN env and flags WHEN loaded THEN
    const c = loadConfig(['--leader-elect', '--concurrency=8', '--watch-namespace', 'a, b'], { ...env, POD_NAME: 'ctrl-0', POD_NAMESPACE: 'ops' });
    expect(c).toMatchObject({
      bookingApiUrl: 'http://127.0.0.1:9000',
      bookingApiTokenFile: '/run/token',
      watchNamespaces: ['a', 'b'],
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      identity: 'ctrl-0',
      metricsBindAddress: '0.0.0.0:8080',
      healthProbeBindAddress: '0.0.0.0:8081',
      concurrency: 8,
      driftIntervalMs: 60_000,
      leaseDurationMs: 8_000,
      renewDeadlineMs: 6_000,
      retryPeriodMs: 1_000,
    });
  });

  test('GIVEN BOOKING_API_CA_FILE THEN the booking client gets that extra CA file; unset, none', () => {
    expect(loadConfig([], { ...env, BOOKING_API_CA_FILE: '/etc/flight-operator/ca/ca.crt' }).bookingApiCaFile).toBe('/etc/flight-operator/ca/ca.crt');
    expect(loadConfig([], env).bookingApiCaFile).toBe('');
  });

  test('optional objects: off by default; a folder needs the Deployment that owns them (nothing would remove them otherwise); the interval is in seconds', () => {
    expect(loadConfig([], env)).toMatchObject({ optionalObjectsDir: '', optionalObjectsIntervalMs: 60_000 });
    expect(() => loadConfig([], { ...env, OPTIONAL_OBJECTS_DIR: '/etc/x' })).toThrow(/--optional-objects-owner .* is required with --optional-objects-dir/);
    expect(loadConfig(['--optional-objects-interval=5'], { ...env, OPTIONAL_OBJECTS_DIR: '/etc/x', OPTIONAL_OBJECTS_OWNER: 'ctl' })).toMatchObject({
      optionalObjectsDir: '/etc/x',
      optionalObjectsOwner: 'ctl',
      optionalObjectsIntervalMs: 5_000,
    });
    expect(() => loadConfig(['--optional-objects-interval=0'], env)).toThrow(ConfigError);
  });

  test('an empty WATCH_NAMESPACE (OLM AllNamespaces) watches every namespace; 0 disables a server', () => {
    const c = loadConfig(['--metrics-bind-address=0'], { ...env, WATCH_NAMESPACE: '' });
    expect(c.watchNamespaces).toEqual([]);
    expect(c.metricsBindAddress).toBeUndefined();
  });

  test.each([
    [[], {}, '--booking-api-url (or BOOKING_API_URL) is required'],
    [[], { BOOKING_API_URL: 'http://x' }, '--booking-api-token-file (or BOOKING_API_TOKEN_FILE) is required'],
    [['--booking-api-url=ftp://x'], env, '--booking-api-url must be an http(s) URL, got "ftp://x"'],
    [['--concurrency=0'], env, '--concurrency must be a whole number from 1 to 100, got "0"'],
    [['--drift-interval', 'soon'], env, '--drift-interval must be a whole number from 1 to 86400, got "soon"'],
    [['--metrics-bind-address=8080'], env, '--metrics-bind-address must be host:port, :port or 0, got "8080"'],
    [['--log-level=loud'], env, '--log-level must be debug, info, warn or error, got "loud"'],
    [['--frobnicate'], env, 'unknown argument "--frobnicate"'],
    [['--leader-election-renew-deadline=8'], env, '--leader-election-renew-deadline (8) must be less than --leader-election-lease-duration (8)'],
    // The elector's own rule (retry x 1.2 jitter < renew), checked at start-up, not at the first campaign.
    [['--leader-election-retry-period=5'], env, '--leader-election-retry-period (5) x 1.2 (the retry jitter) must be less than --leader-election-renew-deadline (6)'],
  ])('rejects %j with a message naming the flag', (argv, e, message) => {
    expect(() => loadConfig(argv as string[], e)).toThrow(ConfigError);
    expect(() => loadConfig(argv as string[], e)).toThrow(message);
  });
});

test('every lease timing the config accepts, the elector accepts too (one rule)', () => {
  const { LeaderElector } = jest.requireActual<typeof import('./runtime/leader-election')>('./runtime/leader-election');
  for (let lease = 2; lease <= 12; lease++) {
    for (let renew = 1; renew <= 12; renew++) {
      for (let retry = 1; retry <= 12; retry++) {
        const argv = [`--leader-election-lease-duration=${lease}`, `--leader-election-renew-deadline=${renew}`, `--leader-election-retry-period=${retry}`];
        let config;
        try {
          config = loadConfig(argv, env);
        } catch {
          continue;
        }
        const client = {} as never;
        expect(() => new LeaderElector({ client, namespace: 'n', name: 'l', onStartedLeading: () => {}, ...config })).not.toThrow();
      }
    }
  }
});
