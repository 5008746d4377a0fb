/**
 * Where a test writes the figures it measured: `.bench/results/<name>`
 * (ignored by git), so `npm test` leaves the work tree as it found it.
 * Benchmarks (`npm run bench`, `npm run chaos`) write bench/results/ on purpose;
 * copy a test's file there by hand to record it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../image/cache';

export function testResultsFile(name: string): string {
  const dir = join(REPO_ROOT, '.bench', 'results');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
