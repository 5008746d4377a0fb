/**
 * A Pulumi project for one test, in a temporary folder, so that stack config
 * files and state never land in the clone: Pulumi.yaml is the committed one
 * (runtime options and all) with `main` pointing at a one-line entry that
 * re-exports the committed program; node_modules is a link to the repo's.
 */
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../../testenv/binaries';
import { pulumiEnv, runPulumi, type PulumiResult } from '../../testenv/pulumi';

export interface PulumiProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** `pulumi <args>` in the project; a non-zero exit is returned, not thrown. `signal` interrupts it. */
  run(args: string[], timeoutMs?: number, signal?: AbortSignal): Promise<PulumiResult>;
  /** Like run, but throws with the output when the command fails. */
  ok(args: string[], timeoutMs?: number, signal?: AbortSignal): Promise<PulumiResult>;
}

export function makeProject(opts: {
  dir: string;
  /** Folder of the committed Pulumi.yaml (and Pulumi.<stack>.yaml files to copy). */
  source: string;
  stackFiles?: string[];
  stateDir: string;
  passphraseFile: string;
}): PulumiProject {
  mkdirSync(opts.dir, { recursive: true });
  const project = parse(readFileSync(path.join(opts.source, 'Pulumi.yaml'), 'utf8')) as { main: string };
  const program = path.resolve(opts.source, project.main).replace(/\.ts$/, '');
  writeFileSync(path.join(opts.dir, 'Pulumi.yaml'), stringify({ ...project, main: 'index.ts' }));
  // The entry hands over whatever the program exports (a function, or named outputs).
  writeFileSync(path.join(opts.dir, 'index.ts'), `module.exports = require(${JSON.stringify(program)});\n`);
  // Without one, @pulumi/pulumi warns that it found no package.json for the program.
  writeFileSync(path.join(opts.dir, 'package.json'), `${JSON.stringify({ name: 'flight-operator-test-project', private: true })}\n`);
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(opts.dir, 'node_modules'));
  for (const f of opts.stackFiles ?? []) cpSync(path.join(opts.source, f), path.join(opts.dir, f));
  const env = pulumiEnv({ stateDir: opts.stateDir, passphraseFile: opts.passphraseFile });
  const run = (args: string[], timeoutMs = 600_000, signal?: AbortSignal) => runPulumi(args, { env, cwd: opts.dir, timeoutMs, signal });
  return {
    dir: opts.dir,
    env,
    run,
    async ok(args, timeoutMs, signal) {
      const r = await run(args, timeoutMs, signal);
      if (r.code !== 0) throw new Error(`pulumi ${args.join(' ')} exited ${r.code} after ${r.seconds}s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
      return r;
    },
  };
}
