/**
 * npm run chaos [-- --seed N] [-- --tickets 1000] [-- --fault-seconds S] [-- --out DIR]
 *
 * The fault suite of issue 10 (test/chaos/scenario.ts; docs/chaos.md): N
 * tickets (default 1,000) created, changed and deleted while the controller
 * leader is SIGKILLed, the booking service fails, hangs and rate-limits, the
 * kube-apiserver process restarts, etcd restarts once and the booking service
 * restarts once; then the faults stop and exactly-once is checked.
 *
 * Builds what it needs (a control plane of its own, the controller bundle).
 * Writes bench/results/chaos.json (with the load average and CPU count) and
 * chaos.md (the summary); exits 1 when a check failed. The seed is printed
 * first: the same seed replays the same plan.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runChaos, summaryMarkdown } from '../test/chaos/scenario';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return argv[i]!.includes('=') ? argv[i]!.split('=').slice(1).join('=') : argv[i + 1];
};
const num = (name: string, def: number): number => {
  const v = arg(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
  return n;
};

async function main(): Promise<number> {
  const seed = num('seed', Date.now() % 1_000_000);
  const tickets = num('tickets', 1000);
  const faultSeconds = arg('fault-seconds');
  const out = path.resolve(arg('out') ?? path.join(__dirname, 'results'));
  process.stdout.write(`chaos: seed ${seed} (replay: npm run chaos -- --seed ${seed} --tickets ${tickets})\n`);
  const result = await runChaos({ tickets, seed, ...(faultSeconds ? { faultMs: Number(faultSeconds) * 1000 } : {}) });
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'chaos.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = summaryMarkdown(result);
  writeFileSync(path.join(out, 'chaos.md'), md);
  process.stdout.write(`${md}\nwrote ${path.join(out, 'chaos.json')} and chaos.md; process logs in ${result.logsDir}\n`);
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
