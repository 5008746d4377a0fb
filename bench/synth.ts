/**
 * `npm run bench:synth`: wall time of the main job (`npm run synth`, warm),
 * N runs; prints min/median/max and writes bench/results/synth.json.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 5);
const root = join(__dirname, '..');
execFileSync('npm', ['run', 'synth', '--silent'], { cwd: root, stdio: 'ignore' }); // warm-up
const seconds: number[] = [];
for (let i = 0; i < runs; i++) {
  const t = process.hrtime.bigint();
  execFileSync('npm', ['run', 'synth', '--silent'], { cwd: root, stdio: 'ignore' });
  seconds.push(Number(process.hrtime.bigint() - t) / 1e9);
}
seconds.sort((a, b) => a - b);
const result = {
  benchmark: 'npm run synth (warm): dist/ manifests + olm-bundle/',
  runs,
  minSeconds: +seconds[0].toFixed(2),
  medianSeconds: +seconds[Math.floor(runs / 2)].toFixed(2),
  maxSeconds: +seconds[runs - 1].toFixed(2),
  cpus: cpus().length,
  loadAverage: loadavg().map((l) => +l.toFixed(2)),
  node: process.version,
  at: new Date().toISOString(),
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'synth.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`synth: min ${result.minSeconds}s, median ${result.medianSeconds}s, max ${result.maxSeconds}s over ${runs} warm runs (load ${result.loadAverage.join(' ')})`);
