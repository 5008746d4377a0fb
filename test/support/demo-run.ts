/**
 * Runs `npm run demo` (scripts/demo.ts through tsx, as npm does) and reads its
 * summary table: shared by the kwok demo test and the real-node one.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../testenv/binaries';

export type DemoStep = string | RegExp;

export function runDemo(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(REPO_ROOT, 'scripts', 'demo.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('exit', (code) => resolve({ code, out, seconds: (Date.now() - t0) / 1000 }));
  });
}

/** Expects one summary row per step, in order, then "total ... demo OK"; returns the table, its step rows and the total seconds. */
export function expectDemoSummary(out: string, steps: readonly DemoStep[]): { table: string; rows: string[]; total: number } {
  const table = out.slice(out.lastIndexOf('\nstep '));
  const rows = table.trim().split('\n').slice(1);
  const names = rows.slice(0, -1).map((r) => r.replace(/\s{2,}[\d.]+\s{2}.*$/, ''));
  expect(names).toHaveLength(steps.length);
  steps.forEach((s, i) => (typeof s === 'string' ? expect(names[i]).toBe(s) : expect(names[i]).toMatch(s)));
  expect(rows[rows.length - 1]).toMatch(/^total\s+[\d.]+\s+demo OK$/);
  return { table, rows: rows.slice(0, -1), total: Number(/^total\s+([\d.]+)/m.exec(table)![1]) };
}
