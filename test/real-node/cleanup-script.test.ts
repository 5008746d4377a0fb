/**
 * The watchdog runs testenv/real-node/cleanup.ts with plain `node` (type
 * stripping, native ES modules: no jest, no SWC), when a test run's owner is
 * killed. A module it cannot load leaves a dead run's node behind (daemons,
 * pods, mounts), so this loads it the way the watchdog does.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';

test('node loads testenv/real-node/cleanup.ts as the watchdog runs it (its imports resolve without a bundler)', () => {
  const r = spawnSync(process.execPath, ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', path.join(REPO_ROOT, 'testenv', 'real-node', 'cleanup.ts')], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 2, stderr: 'usage: node testenv/real-node/cleanup.ts <stop|network|all> <absolute cluster dir>' });
});
