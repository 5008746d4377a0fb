/**
 * The Pulumi toolchain built from Go modules (tools/pulumi: CLI v3.259.0,
 * Kubernetes provider 4.25.0, our Node.js language host), run offline:
 *
 *   npm run pulumi -- preview -s manifests      # any pulumi command
 *
 * and, for tests, `pulumiEnv()` / `runPulumi()`. What it sets, and why:
 *   PULUMI_HOME          ~/.cache/flight-operator/pulumi-home: plugins and
 *                        credentials stay in the cache, not in ~/.pulumi
 *   PULUMI_BACKEND_URL   file://~/.cache/flight-operator/pulumi-state unless
 *                        set: a local file backend, no Pulumi Cloud
 *   PULUMI_CONFIG_PASSPHRASE_FILE  ~/.cache/flight-operator/pulumi-passphrase
 *                        unless a passphrase is set: made once, mode 0600
 *   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, PULUMI_SKIP_UPDATE_CHECK:
 *                        nothing is downloaded
 *   FLIGHT_OLM_CHART     OLM's upstream chart (tools/olm), for the olm stack
 *   PATH                 the tools first (the engine finds the language host
 *                        next to itself) and node_modules/.bin (Node 24, tsx)
 * The provider binary is registered once in PULUMI_HOME as kubernetes
 * v4.25.0, the version @pulumi/kubernetes 4.25.0 asks for.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureFamily, REPO_ROOT } from './binaries';

export const PROVIDER_VERSION = '4.25.0';

export function flightCache(): string {
  return process.env.FLIGHT_CACHE ?? path.join(os.homedir(), '.cache', 'flight-operator');
}

export interface PulumiToolchain {
  /** Folder with pulumi, pulumi-resource-kubernetes, pulumi-language-nodejs. */
  bin: string;
  /** OLM's upstream Helm chart. */
  olmChart: string;
  home: string;
}

let toolchain: PulumiToolchain | undefined;

/** Builds (first time: minutes) or finds the tools, and registers the provider plugin in PULUMI_HOME. */
export function pulumiToolchain(log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): PulumiToolchain {
  if (toolchain) return toolchain;
  const bin = ensureFamily('pulumi', log);
  const olmChart = path.join(ensureFamily('olm', log), 'chart');
  const home = path.join(flightCache(), 'pulumi-home');
  mkdirSync(home, { recursive: true });
  const plugin = path.join(home, 'plugins', `resource-kubernetes-v${PROVIDER_VERSION}`, 'pulumi-resource-kubernetes');
  // Keyed by the tools folder: a rebuilt provider is registered again.
  const marker = path.join(home, `.registered-${path.basename(path.dirname(bin))}`);
  if (!existsSync(plugin) || !existsSync(marker)) {
    const r = spawnSync(path.join(bin, 'pulumi'), ['plugin', 'install', 'resource', 'kubernetes', PROVIDER_VERSION, '--file', path.join(bin, 'pulumi-resource-kubernetes'), '--reinstall'], {
      env: { ...process.env, ...baseEnv(bin, home, olmChart) },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`pulumi plugin install (from ${bin}) failed: ${r.stderr || r.stdout}`);
    writeFileSync(marker, '');
  }
  toolchain = { bin, olmChart, home };
  return toolchain;
}

function baseEnv(bin: string, home: string, olmChart: string): NodeJS.ProcessEnv {
  return {
    PULUMI_HOME: home,
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    FLIGHT_OLM_CHART: olmChart,
    // The provider comes from PULUMI_HOME (registered above), not from PATH.
    PULUMI_IGNORE_AMBIENT_PLUGINS: 'true',
    PATH: [bin, path.join(REPO_ROOT, 'node_modules', '.bin'), process.env.PATH ?? ''].join(path.delimiter),
  };
}

export interface PulumiEnvOptions {
  /** State folder of the file backend. Default: $PULUMI_BACKEND_URL or ~/.cache/flight-operator/pulumi-state. */
  stateDir?: string;
  /** Passphrase file. Default: $PULUMI_CONFIG_PASSPHRASE(_FILE) or ~/.cache/flight-operator/pulumi-passphrase. */
  passphraseFile?: string;
  log?: (m: string) => void;
}

/** The environment every pulumi command of ours runs with. */
export function pulumiEnv(opts: PulumiEnvOptions = {}): NodeJS.ProcessEnv {
  const tc = pulumiToolchain(opts.log);
  const env: NodeJS.ProcessEnv = { ...process.env, ...baseEnv(tc.bin, tc.home, tc.olmChart) };
  if (opts.stateDir || !process.env.PULUMI_BACKEND_URL) {
    const stateDir = opts.stateDir ?? path.join(flightCache(), 'pulumi-state');
    mkdirSync(stateDir, { recursive: true });
    env.PULUMI_BACKEND_URL = `file://${stateDir}`;
  }
  if (opts.passphraseFile || (!process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE)) {
    const file = opts.passphraseFile ?? path.join(flightCache(), 'pulumi-passphrase');
    if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
    delete env.PULUMI_CONFIG_PASSPHRASE;
    env.PULUMI_CONFIG_PASSPHRASE_FILE = file;
  }
  return env;
}

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs `pulumi <args>` in `cwd` (default: the repo, where Pulumi.yaml is). Never throws on a non-zero exit.
 * A timeout or `signal` interrupts it (SIGINT, as Ctrl-C: pulumi stops and prints what it was doing).
 */
export function runPulumi(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; echo?: boolean; signal?: AbortSignal },
): Promise<PulumiResult> {
  const started = Date.now();
  const bin = path.join(pulumiToolchain().bin, 'pulumi');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    const interrupt = () => child.kill('SIGINT');
    const timer = setTimeout(interrupt, opts.timeoutMs ?? 600_000);
    opts.signal?.addEventListener('abort', interrupt, { once: true });
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', interrupt);
      resolve({ code: code ?? -1, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

if (require.main === module) {
  const env = pulumiEnv();
  runPulumi(process.argv.slice(2), { env, echo: true, timeoutMs: 24 * 3600_000 }).then(
    (r) => process.exit(r.code),
    (e) => {
      process.stderr.write(`${e}\n`);
      process.exit(1);
    },
  );
}
