/**
 * An old release's controller image can be had again: rebuilt from the
 * commit its record names (olm-bundle/releases/<version>/release.json), in
 * a fresh checkout of that commit, it has the digest the release recorded,
 * bit for bit. The checkout gets node_modules as a real folder (hard links
 * to this repo's): esbuild resolves symlinks, and a symlinked node_modules
 * would put its relative path into the bundle's module ids (a different
 * digest for the same code).
 *
 * The recorded bundle images are rebuilt by `npm run image -- bundle` from
 * the recorded files (image/bundle-image-lock.test.ts and
 * infra/bundle/releases.test.ts together compare them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRecordedRelease, recordedVersions } from '../../infra/bundle/recorded';
import { REPO_ROOT } from '../../infra/validate/operator-framework';

const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();

test('the controller image of the oldest recorded release, rebuilt from its recorded commit, has its recorded digest', () => {
  const version = recordedVersions().sort()[0];
  const record = readRecordedRelease(version)!.record;
  const dir = mkdtempSync(path.join(os.tmpdir(), `rebuild-${version}-`));
  const checkout = path.join(dir, 'src');
  const t0 = Date.now();
  git('worktree', 'add', '--detach', checkout, record.commit);
  try {
    // Hard links where the file system allows them (a second or two), else a copy.
    try {
      execFileSync('cp', ['-al', path.join(REPO_ROOT, 'node_modules/'), path.join(checkout, 'node_modules')]);
    } catch {
      cpSync(path.join(REPO_ROOT, 'node_modules'), path.join(checkout, 'node_modules'), { recursive: true, dereference: true });
    }
    const r = spawnSync('npm', ['run', '-s', 'image', '--', 'controller', '--no-lock'], { cwd: checkout, encoding: 'utf8', timeout: 15 * 60_000 });
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ status: 0, stderr: '' });
    const digest = /^controller\s+(sha256:[0-9a-f]{64})/m.exec(r.stdout)?.[1];
    process.stderr.write(`\nrebuilt the ${version} controller image from ${record.commit.slice(0, 12)} in ${(Date.now() - t0) / 1000}s: ${digest} (recorded ${record.controllerImage.digest})\n`);
    expect(digest).toBe(record.controllerImage.digest);
  } finally {
    git('worktree', 'remove', '--force', checkout);
    rmSync(dir, { recursive: true, force: true });
  }
}, 20 * 60_000);
