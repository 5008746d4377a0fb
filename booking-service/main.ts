/**
 * booking-service entry point.
 *
 *   npm run booking-service -- --port 8080 --data-dir /var/lib/booking --token-file /run/secrets/token
 *   npx tsx booking-service/main.ts --port 0 --data-dir /tmp/b --token-file /tmp/t --routes unlimited
 *
 * Flags (env in parentheses):
 *   --port N            (BOOKING_PORT, default 8080; 0 picks a free port)
 *   --host H            (BOOKING_HOST, default 127.0.0.1)
 *   --data-dir DIR      (BOOKING_DATA_DIR, required)
 *   --token-file FILE   (BOOKING_TOKEN_FILE, required; the token is never logged)
 *   --routes SPEC       (BOOKING_ROUTES: "default" | "unlimited" | file.yaml|json | inline JSON)
 *   --faults JSON|FILE  (BOOKING_FAULTS: initial fault config, see faults.ts)
 *   --quiet             (BOOKING_QUIET=1: no request logs)
 *
 * Logs are JSON lines on stdout. The first line has msg "listening" and the
 * real "port"/"url" (tests start it with --port 0 and read that line).
 * SIGTERM/SIGINT: graceful shutdown (in-flight requests finish, store closed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { validateFaults, type FaultConfig } from './faults';
import { startBookingService } from './server';

function fail(msg: string): never {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg })}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'token-file': { type: 'string' },
      routes: { type: 'string' },
      faults: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(readFileSync(__filename, 'utf8').split('*/')[0]!.replace(/^\/\*\*?|^ \* ?/gm, '') + '\n');
    return;
  }
  const env = process.env;
  const port = Number(values.port ?? env.BOOKING_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be an integer 0..65535');
  const dataDir = values['data-dir'] ?? env.BOOKING_DATA_DIR;
  if (!dataDir) fail('--data-dir (or BOOKING_DATA_DIR) is required');
  const tokenFile = values['token-file'] ?? env.BOOKING_TOKEN_FILE;
  if (!tokenFile) fail('--token-file (or BOOKING_TOKEN_FILE) is required');
  let faults: FaultConfig | undefined;
  const faultSpec = values.faults ?? env.BOOKING_FAULTS;
  if (faultSpec) {
    try {
      faults = validateFaults(JSON.parse(faultSpec.trimStart().startsWith('{') ? faultSpec : readFileSync(faultSpec, 'utf8')));
    } catch (err) {
      fail(`--faults: ${(err as Error).message}`);
    }
  }
  const routes = values.routes ?? env.BOOKING_ROUTES;
  if (routes && !['default', 'unlimited'].includes(routes) && !routes.trimStart().startsWith('{') && !existsSync(routes)) {
    fail(`--routes: no such file ${routes}`);
  }
  const quiet = values.quiet ?? env.BOOKING_QUIET === '1';
  const svc = await startBookingService({
    port,
    host: values.host ?? env.BOOKING_HOST ?? '127.0.0.1',
    dataDir,
    tokenFile,
    ...(routes ? { routes } : {}),
    ...(faults ? { faults } : {}),
    log: quiet
      ? (e) => {
          if (e.msg !== 'request') process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
        }
      : true,
  }).catch((err: Error) => fail(`cannot start: ${err.message}`));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'shutting down', signal })}\n`);
    svc.stop({ graceMs: 10_000 }).then(
      () => process.exit(0),
      (err: Error) => fail(`shutdown failed: ${err.message}`),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
