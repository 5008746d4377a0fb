/**
 * Controller configuration from flags and environment (flags win), checked
 * up front so a bad value stops the process with a message naming it rather
 * than failing later in a reconcile. Flag names follow controller-runtime's
 * (--leader-elect, --metrics-bind-address, --health-probe-bind-address), so
 * manifests and habits carry over.
 */
import { hostname } from 'node:os';
import { LEASE_JITTER, leaseTimingProblem } from './runtime/leader-election';

export interface ControllerConfig {
  bookingApiUrl: string;
  bookingApiTokenFile: string;
  /** PEM file of extra CA certificates for the booking API; empty = Node's built-in roots only. */
  bookingApiCaFile: string;
  /** Namespaces to watch; empty = all. OLM passes a comma-separated list. */
  watchNamespaces: string[];
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** host:port, or undefined when disabled with "0". */
  metricsBindAddress?: string;
  healthProbeBindAddress?: string;
  concurrency: number;
  driftIntervalMs: number;
  watchInactivityTimeoutMs: number;
  bookingTimeoutMs: number;
  /** Between orphan sweeps; 0 = no sweep. */
  orphanSweepIntervalMs: number;
  /** This cluster's identity on bookings; empty = the kube-system namespace's uid. */
  clusterId: string;
  /** Folder of objects to apply once their kind is served (optional-objects.ts); empty = none. */
  optionalObjectsDir: string;
  /** The Deployment (in the leader-election namespace) that owns them. */
  optionalObjectsOwner: string;
  optionalObjectsIntervalMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface Option {
  env: string;
  help: string;
  default?: string;
  boolean?: true;
}

export const OPTIONS: Record<string, Option> = {
  'booking-api-url': { env: 'BOOKING_API_URL', help: 'base URL of the booking API (required)' },
  'booking-api-token-file': { env: 'BOOKING_API_TOKEN_FILE', help: 'file holding the booking API bearer token (required)' },
  'booking-api-ca-file': { env: 'BOOKING_API_CA_FILE', help: 'PEM file of CA certificates trusted for the booking API besides the built-in roots', default: '' },
  'watch-namespace': { env: 'WATCH_NAMESPACE', help: 'namespaces to watch, comma-separated; empty for all', default: '' },
  'leader-elect': { env: 'LEADER_ELECT', help: 'elect a leader among replicas through a Lease', default: 'false', boolean: true },
  'leader-election-namespace': { env: 'POD_NAMESPACE', help: 'namespace of the leader-election Lease', default: 'default' },
  'leader-election-id': { env: 'LEADER_ELECTION_ID', help: 'name of the leader-election Lease', default: 'flight-operator-controller' },
  // Shorter than controller-runtime's 15/10/2 s. Retries are jittered up to
  // 2.2x (client-go), so after a crash the standby takes over within
  // lease + 2 x 2.2 x retry = 12.4 s worst case, inside a 15 s failover budget
  // (measured: test/controller/leader-election.test.ts).
  'leader-election-lease-duration': { env: 'LEADER_ELECTION_LEASE_DURATION', help: 'seconds a Lease stays valid after its last renewal', default: '8' },
  'leader-election-renew-deadline': { env: 'LEADER_ELECTION_RENEW_DEADLINE', help: 'seconds the leader keeps trying to renew before it steps down', default: '6' },
  'leader-election-retry-period': { env: 'LEADER_ELECTION_RETRY_PERIOD', help: 'seconds between tries to acquire or renew the Lease', default: '1' },
  identity: { env: 'POD_NAME', help: 'this replica\'s name in the Lease', default: `${hostname()}-${process.pid}` },
  'metrics-bind-address': { env: 'METRICS_BIND_ADDRESS', help: 'metrics address, or 0 to disable', default: ':8080' },
  'health-probe-bind-address': { env: 'HEALTH_PROBE_BIND_ADDRESS', help: 'health probe address, or 0 to disable', default: ':8081' },
  // 8: against 4, 24.9-26.7 tickets/s instead of 16.1-21.1 for the same or less CPU per
  // ticket; 16 made no more than 8 (docs/scale.md, Workers).
  concurrency: { env: 'MAX_CONCURRENT_RECONCILES', help: 'tickets reconciled in parallel', default: '8' },
  'watch-inactivity-timeout': {
    env: 'WATCH_INACTIVITY_TIMEOUT_SECONDS',
    help: 'seconds without any watch event or bookmark before the watch is presumed dead and the cache relisted',
    default: '150',
  },
  'drift-interval': { env: 'DRIFT_INTERVAL_SECONDS', help: 'seconds between re-reads of a booking to repair changes made outside', default: '60' },
  'booking-timeout': { env: 'BOOKING_TIMEOUT_SECONDS', help: 'timeout of one booking API call, seconds', default: '10' },
  'orphan-sweep-interval': {
    env: 'ORPHAN_SWEEP_INTERVAL_SECONDS',
    help: 'seconds between sweeps that cancel this cluster\'s active bookings whose ticket is gone (0: no sweep)',
    default: '300',
  },
  'cluster-id': { env: 'CLUSTER_ID', help: 'this cluster\'s identity recorded on bookings; empty: the uid of the kube-system namespace', default: '' },
  'optional-objects-dir': {
    env: 'OPTIONAL_OBJECTS_DIR',
    help: 'folder of *.json objects (e.g. a ServiceMonitor) to apply once the cluster serves their kind; empty: none',
    default: '',
  },
  'optional-objects-owner': { env: 'OPTIONAL_OBJECTS_OWNER', help: 'the Deployment, in the pod\'s namespace, that owns those objects (deleting it removes them)', default: '' },
  'optional-objects-interval': { env: 'OPTIONAL_OBJECTS_INTERVAL_SECONDS', help: 'seconds between checks for their kinds (a CRD installed later)', default: '60' },
  'log-level': { env: 'LOG_LEVEL', help: 'debug, info, warn or error', default: 'info' },
};

export function usage(): string {
  return [
    'usage: flight-operator-controller [flags]',
    ...Object.entries(OPTIONS).map(([name, o]) => `  --${name.padEnd(28)} ${o.help} (env ${o.env}${o.default !== undefined ? `, default "${o.default}"` : ''})`),
  ].join('\n');
}

function parseFlags(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in OPTIONS)) throw new ConfigError(`unknown argument "${argv[i]}"\n${usage()}`);
    const [, name, inline] = m;
    if (inline !== undefined) flags.set(name, inline);
    else if (OPTIONS[name].boolean) flags.set(name, 'true');
    else if (i + 1 < argv.length) flags.set(name, argv[++i]);
    else throw new ConfigError(`--${name} needs a value`);
  }
  return flags;
}

function integer(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max) throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** ":8080" -> "0.0.0.0:8080"; "0" -> disabled. */
function bindAddress(name: string, raw: string): string | undefined {
  if (raw === '0') return undefined;
  const m = /^(.*):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`--${name} must be host:port, :port or 0, got "${raw}"`);
  return `${m[1] || '0.0.0.0'}:${m[2]}`;
}

function leaseTimes(get: (name: string) => string): Pick<ControllerConfig, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'> {
  const lease = integer('leader-election-lease-duration', get('leader-election-lease-duration'), 2, 600);
  const renew = integer('leader-election-renew-deadline', get('leader-election-renew-deadline'), 1, 600);
  const retry = integer('leader-election-retry-period', get('leader-election-retry-period'), 1, 600);
  const t = { leaseDurationMs: lease * 1000, renewDeadlineMs: renew * 1000, retryPeriodMs: retry * 1000 };
  // The elector's own rule (client-go's), checked here so a bad combination
  // stops the process at start-up instead of when it first campaigns.
  switch (leaseTimingProblem(t)) {
    case 'renew-deadline':
      throw new ConfigError(`--leader-election-renew-deadline (${renew}) must be less than --leader-election-lease-duration (${lease})`);
    case 'retry-period':
      throw new ConfigError(`--leader-election-retry-period (${retry}) x ${LEASE_JITTER} (the retry jitter) must be less than --leader-election-renew-deadline (${renew})`);
  }
  return t;
}

function optionalObjects(get: (name: string) => string): Pick<ControllerConfig, 'optionalObjectsDir' | 'optionalObjectsOwner' | 'optionalObjectsIntervalMs'> {
  const dir = get('optional-objects-dir').trim();
  const owner = get('optional-objects-owner').trim();
  // Without an owner nothing would ever remove them: refuse rather than leak.
  if (dir && !owner) throw new ConfigError('--optional-objects-owner (or OPTIONAL_OBJECTS_OWNER) is required with --optional-objects-dir');
  return { optionalObjectsDir: dir, optionalObjectsOwner: owner, optionalObjectsIntervalMs: integer('optional-objects-interval', get('optional-objects-interval'), 1, 86400) * 1000 };
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): ControllerConfig {
  const flags = parseFlags(argv);
  const get = (name: string): string => flags.get(name) ?? env[OPTIONS[name].env] ?? OPTIONS[name].default ?? '';
  const required = (name: string): string => {
    const v = get(name).trim();
    if (!v) throw new ConfigError(`--${name} (or ${OPTIONS[name].env}) is required: ${OPTIONS[name].help}`);
    return v;
  };

  const bookingApiUrl = required('booking-api-url');
  try {
    const u = new URL(bookingApiUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(`--booking-api-url must be an http(s) URL, got "${bookingApiUrl}"`);
  }
  const leaderElect = get('leader-elect');
  if (!['true', 'false'].includes(leaderElect)) throw new ConfigError(`--leader-elect must be true or false, got "${leaderElect}"`);
  const logLevel = get('log-level');
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new ConfigError(`--log-level must be debug, info, warn or error, got "${logLevel}"`);

  return {
    bookingApiUrl,
    bookingApiTokenFile: required('booking-api-token-file'),
    bookingApiCaFile: get('booking-api-ca-file').trim(),
    watchNamespaces: get('watch-namespace').split(',').map((s) => s.trim()).filter(Boolean),
    leaderElect: leaderElect === 'true',
    leaderElectionNamespace: required('leader-election-namespace'),
    leaderElectionId: required('leader-election-id'),
    identity: required('identity'),
    ...leaseTimes(get),
    metricsBindAddress: bindAddress('metrics-bind-address', get('metrics-bind-address')),
    healthProbeBindAddress: bindAddress('health-probe-bind-address', get('health-probe-bind-address')),
    concurrency: integer('concurrency', get('concurrency'), 1, 100),
    driftIntervalMs: integer('drift-interval', get('drift-interval'), 1, 86400) * 1000,
    watchInactivityTimeoutMs: integer('watch-inactivity-timeout', get('watch-inactivity-timeout'), 1, 3600) * 1000,
    bookingTimeoutMs: integer('booking-timeout', get('booking-timeout'), 1, 300) * 1000,
    orphanSweepIntervalMs: integer('orphan-sweep-interval', get('orphan-sweep-interval'), 0, 86400) * 1000,
    clusterId: get('cluster-id').trim(),
    ...optionalObjects(get),
    logLevel: logLevel as ControllerConfig['logLevel'],
  };
}
