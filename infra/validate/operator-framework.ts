/**
 * The real operator-framework tools, for jest tests and scripts.
 *
 *   validateBundle(dir)    tools/bundle-validate: operator-framework/api's
 *                          validators, the set `operator-sdk bundle validate
 *                          --select-optional suite=operatorframework` runs,
 *                          plus operator-registry's bundle format check.
 *   opmValidate(dir)       `opm validate DIR` on a File-Based Catalog.
 *   opmRender(dir)         `opm render DIR -o json` of a bundle (or FBC)
 *                          directory, parsed into FBC blobs.
 *
 * Binaries come from tools/ensure.sh (built from upstream Go modules on first
 * use, minutes when cold, then cached by hash outside the clone). A tool that
 * cannot be built or run is an exception, never a skip.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Tool families (tools/<family>/) this module builds through tools/ensure.sh. */
export type ToolFamily = 'bundle-validate' | 'opm' | 'olm' | 'olmv1';

/** One error or warning from tools/bundle-validate. */
export interface Finding {
  /** bundle-format, load, bundle-objects, bundle, csv, crd, operatorhubv2,
   * capabilities, categories, alpha-deprecated-apis, good-practices. */
  validator: string;
  /** "Error" or "Warning", as operator-framework/api spells it. */
  level: string;
  /** Usually the CSV name. */
  manifest?: string;
  /** operator-framework/api ErrorType, e.g. FieldNotFound, CSVFileNotValid. */
  type?: string;
  field?: string;
  badValue?: string;
  detail?: string;
  /** One line a person can read: field, value and detail. */
  message: string;
}

export interface BundleValidation {
  errors: Finding[];
  warnings: Finding[];
  /** Validators that ran, in order. */
  validators: string[];
  /** The CSV name, when the bundle loaded. */
  bundleName?: string;
  k8sVersion?: string;
}

export interface ValidateBundleOptions {
  /** Kubernetes version for the deprecated/removed-API checks (default 1.35).
   * Empty string: the validators fall back to the CSV's minKubeVersion. */
  k8sVersion?: string;
  /** Extra optional validators, e.g. ['operatorhub'] (the deprecated one). */
  extra?: string[];
}

export interface OpmValidation {
  valid: boolean;
  /** opm's own messages (stderr and stdout), for assertions and logs. */
  output: string;
}

/** One File-Based Catalog blob (olm.package, olm.channel, olm.bundle, ...). */
export interface FbcBlob {
  schema: string;
  name?: string;
  package?: string;
  [key: string]: unknown;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { echoStderr?: boolean; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (opts.echoStderr) process.stderr.write(b);
    });
    child.on('error', (e) => reject(new Error(`operator-framework: cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

const families = new Map<ToolFamily, Promise<string>>();

/**
 * Runs tools/ensure.sh FAMILY once per process and returns the folder holding
 * its binaries. A cold build takes minutes; its progress lines go to stderr.
 */
export function ensureToolFamily(family: ToolFamily): Promise<string> {
  let p = families.get(family);
  if (!p) {
    p = buildFamily(family);
    families.set(family, p);
    p.catch(() => families.delete(family));
  }
  return p;
}

async function buildFamily(family: ToolFamily): Promise<string> {
  const script = path.join(REPO_ROOT, 'tools', 'ensure.sh');
  if (!existsSync(path.join(REPO_ROOT, 'tools', family, 'build.sh'))) {
    throw new Error(`operator-framework: tools/${family}/build.sh is missing, so the ${family} tools cannot be built`);
  }
  const r = await run('bash', [script, family], { echoStderr: true });
  if (r.code !== 0) {
    throw new Error(
      `operator-framework: tools/ensure.sh ${family} failed (exit ${r.code ?? r.signal}); ` +
        `Go toolchain and module proxy are needed for a cold build.\n${r.stderr.trim()}`,
    );
  }
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (!dir || !existsSync(dir)) {
    throw new Error(`operator-framework: tools/ensure.sh ${family} printed no folder (stdout ${JSON.stringify(r.stdout)})`);
  }
  return dir;
}

/** Absolute path of one binary of a family, built on demand. */
export async function toolPath(family: ToolFamily, binary: string): Promise<string> {
  const bin = path.join(await ensureToolFamily(family), binary);
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`operator-framework: ${bin} is missing or not executable after tools/ensure.sh ${family}`);
  }
  return bin;
}

function requireDir(dir: string, what: string): string {
  const abs = path.resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new Error(`operator-framework: ${what} ${abs} is not a directory`);
  }
  return abs;
}

/**
 * Validates an OLM registry+v1 bundle directory (manifests/ + metadata/).
 * Resolves with every error and warning; rejects only when the tool itself
 * cannot run or answers nonsense.
 */
export async function validateBundle(dir: string, opts: ValidateBundleOptions = {}): Promise<BundleValidation> {
  const bundleDir = requireDir(dir, 'bundle directory');
  const bin = await toolPath('bundle-validate', 'bundle-validate');
  const args = ['--output', 'json', `--k8s-version=${opts.k8sVersion ?? '1.35'}`];
  if (opts.extra?.length) args.push(`--extra=${opts.extra.join(',')}`);
  args.push(bundleDir);
  const r = await run(bin, args);
  // 0: clean, 1: findings. Anything else is a usage error or a crash.
  if (r.code !== 0 && r.code !== 1) {
    throw new Error(`operator-framework: bundle-validate ${args.join(' ')} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
  }
  let report: any;
  try {
    report = JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`operator-framework: bundle-validate printed no JSON report (${(e as Error).message}): ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`);
  }
  if (!Array.isArray(report?.errors) || !Array.isArray(report?.warnings)) {
    throw new Error(`operator-framework: bundle-validate report has no errors/warnings arrays: ${r.stdout.slice(0, 500)}`);
  }
  return {
    errors: report.errors,
    warnings: report.warnings,
    validators: report.validators ?? [],
    bundleName: report.bundleName,
    k8sVersion: report.k8sVersion,
  };
}

/** One line per finding, for test failure messages and logs. */
export function formatFindings(v: Pick<BundleValidation, 'errors' | 'warnings'>): string {
  return [
    ...v.errors.map((f) => `ERROR   [${f.validator}] ${f.message}`),
    ...v.warnings.map((f) => `WARNING [${f.validator}] ${f.message}`),
  ].join('\n');
}

/** `opm validate DIR`: schema and upgrade-graph checks of a File-Based Catalog. */
export async function opmValidate(catalogDir: string): Promise<OpmValidation> {
  const dir = requireDir(catalogDir, 'catalog directory');
  const opm = await toolPath('opm', 'opm');
  const r = await run(opm, ['validate', dir]);
  if (r.code !== 0 && r.code !== 1) {
    throw new Error(`operator-framework: opm validate ${dir} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
  }
  return { valid: r.code === 0, output: [r.stderr.trim(), r.stdout.trim()].filter(Boolean).join('\n') };
}

/**
 * `opm render DIR -o json`: a bundle directory becomes one olm.bundle blob
 * (olm.package, olm.gvk, olm.bundle.object properties ...); an FBC directory
 * is loaded and re-emitted. Rejects with opm's message when opm fails.
 */
export async function opmRender(dir: string): Promise<FbcBlob[]> {
  const abs = requireDir(dir, 'directory to render');
  const opm = await toolPath('opm', 'opm');
  const r = await run(opm, ['render', abs, '-o', 'json']);
  if (r.code !== 0) {
    throw new Error(`operator-framework: opm render ${abs} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
  }
  return parseJsonStream(r.stdout) as FbcBlob[];
}

/** Splits opm's JSON output (objects one after another) into values. */
export function parseJsonStream(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
      if (depth < 0) throw new Error('operator-framework: unbalanced JSON from opm');
    } else if (depth === 0 && !/\s/.test(c)) {
      throw new Error(`operator-framework: unexpected ${JSON.stringify(c)} at ${i} in opm's JSON output`);
    }
  }
  if (depth !== 0 || inString) throw new Error('operator-framework: truncated JSON from opm');
  return values;
}
