/**
 * The controller as it was at a git revision, bundled the way the image
 * bundles it (esbuild, one CommonJS file for Node 24), so a test can run an
 * older release's controller beside the current one. The sources come from
 * `git archive <ref> controller booking-api`; npm packages from this tree's
 * node_modules (the controller's dependencies are locked by package-lock.json).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../../image/cache';

/** Writes the bundle to `out` and returns it; throws when the revision is not in this clone. */
export async function bundleControllerAt(ref: string, out: string): Promise<string> {
  const src = mkdtempSync(join(tmpdir(), 'controller-at-'));
  try {
    try {
      const tar = execFileSync('git', ['archive', ref, 'controller', 'booking-api'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
      execFileSync('tar', ['-x', '-C', src], { input: tar });
    } catch (e) {
      throw new Error(`cannot read the controller at ${ref} from this clone (a shallow clone lacks it: git fetch --unshallow): ${(e as Error).message}`);
    }
    const result = await build({
      absWorkingDir: src,
      entryPoints: ['controller/main.ts'],
      nodePaths: [join(REPO_ROOT, 'node_modules')],
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      write: false,
      logLevel: 'silent',
      outfile: 'controller.js',
    });
    writeFileSync(out, result.outputFiles[0].contents);
    return out;
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}
