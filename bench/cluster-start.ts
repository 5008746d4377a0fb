/**
 * npm run bench:cluster [-- --runs N --settle S]
 *
 * Warm start of the test control plane (binaries already built and cached):
 * time from startCluster() to /readyz, to the kwok Node being Ready and to the
 * default ServiceAccount; then, after S seconds of idling, the resident memory
 * (VmRSS, and the peak VmHWM) of every component process; then stop time.
 * Prints a table and writes bench/results/cluster.json.
 * FLIGHT_CLUSTER_CONTROLLER_SA=1 measures the kubeadm-like controller-manager
 * (one service account per controller) instead of the default.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binaryVersion, REPO_ROOT, resolveBinaries } from '../testenv/binaries';
import { startCluster } from '../testenv/cluster';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

function memKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (kib: number) => Math.round(kib / 102.4) / 10;

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const settle = arg('settle', 10);
  const t = Date.now();
  const binaries = resolveBinaries();
  const resolveSeconds = (Date.now() - t) / 1000;
  const versions = { kubernetes: binaryVersion(binaries.kubeApiserver), etcd: binaryVersion(binaries.etcd), kwok: binaryVersion(binaries.kwok) };
  const loadBefore = os.loadavg();
  console.log(`bench: ${runs} warm starts on ${os.cpus().length} CPUs, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}; ${JSON.stringify(versions)}`);

  const results: Array<Record<string, unknown>> = [];
  for (let i = 0; i < runs; i++) {
    const c = await startCluster({ binaries, log: () => {} });
    await new Promise((r) => setTimeout(r, settle * 1000));
    const memory: Record<string, { rssMiB: number; peakMiB: number }> = {};
    for (const [name, pid] of Object.entries(c.state.processes)) {
      if (name === 'watchdog' || !pid) continue;
      const m = memKiB(pid);
      memory[name] = { rssMiB: mib(m.rss), peakMiB: mib(m.hwm) };
    }
    const t0 = Date.now();
    await c.stop();
    const stopSeconds = (Date.now() - t0) / 1000;
    const total = Object.values(memory).reduce((a, m) => a + m.rssMiB, 0);
    results.push({ run: i + 1, timings: c.timings, stopSeconds, memory, totalRssMiB: Math.round(total * 10) / 10 });
    console.log(
      `run ${i + 1}: readyz ${c.timings.readyz}s, node Ready ${c.timings.nodeReady}s, default SA ${c.timings.defaultServiceAccount}s, ` +
        `ready ${c.timings.ready}s, stop ${stopSeconds.toFixed(2)}s, RSS ${Object.entries(memory)
          .map(([n, m]) => `${n} ${m.rssMiB}`)
          .join(', ')} (total ${total.toFixed(0)} MiB)`,
    );
  }

  const pick = (f: (r: Record<string, any>) => number) => median(results.map(f));
  const summary = {
    readySecondsMedian: pick((r) => r.timings.ready),
    readyzSecondsMedian: pick((r) => r.timings.readyz),
    nodeReadySecondsMedian: pick((r) => r.timings.nodeReady),
    defaultServiceAccountSecondsMedian: pick((r) => r.timings.defaultServiceAccount),
    stopSecondsMedian: pick((r) => r.stopSeconds),
    rssMiBMedian: Object.fromEntries(
      Object.keys((results[0]!.memory as object) ?? {}).map((n) => [n, pick((r) => r.memory[n].rssMiB)]),
    ),
    totalRssMiBMedian: pick((r) => r.totalRssMiB),
  };
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), loadavgBefore: loadBefore, loadavgAfter: os.loadavg() },
    versions,
    binarySources: binaries.sources,
    controllerServiceAccounts: process.env.FLIGHT_CLUSTER_CONTROLLER_SA === '1',
    resolveBinariesSeconds: resolveSeconds,
    settleSeconds: settle,
    summary,
    runs: results,
  };
  const file = path.join(REPO_ROOT, 'bench', 'results', 'cluster.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nmedian: ready ${summary.readySecondsMedian}s (readyz ${summary.readyzSecondsMedian}s), stop ${summary.stopSecondsMedian}s, RSS ${JSON.stringify(summary.rssMiBMedian)} MiB, total ${summary.totalRssMiBMedian} MiB`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
