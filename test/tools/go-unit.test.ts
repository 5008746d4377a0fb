/**
 * The Go unit tests of our own tool code (not upstream's): the Node.js
 * language host in tools/pulumi and the bundle validator wrapper in
 * tools/bundle-validate. Run with the flags tools/ensure.sh builds with (and
 * -trimpath), so they reuse the build's compiled packages.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';

function goTest(dir: string, pkgs: string[]): { status: number | null; output: string } {
  const r = spawnSync('go', ['test', '-trimpath', '-count=1', ...pkgs], {
    cwd: path.join(REPO_ROOT, 'tools', dir),
    env: { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=mod', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GONOSUMDB: 'github.com/pulumi' },
    encoding: 'utf8',
    timeout: 900_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test.each([
  ['pulumi', ['./cmd/pulumi-language-nodejs']],
  ['bundle-validate', ['.']],
])('go test in tools/%s passes', (dir, pkgs) => {
  const r = goTest(dir, pkgs);
  expect(r.output).toMatch(/^ok\s/m);
  expect(r.status).toBe(0);
}, 900_000);
