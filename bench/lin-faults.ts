// Cluster histories under faults, checked for linearizability (bench/lin/harness.ts): N fault cycles on M nodes
// (partition of one node, of a minority, SIGKILL + restart of a daemon, corosync killed and restarted, a node
// frozen with SIGSTOP past the token timeout), clients on every node; prints the counts and exits 1 on any
// anomaly, lost change or divergence. Bounded: stops after --cycles.
//
//   node dist/bench/lin-faults.js [--nodes 5] [--cycles 100] [--seed N] [--clients 2] [--hold 2500] [--stale-ms 100]
//                                 [--max-seconds S] [--quiet]
import { pathToFileURL } from 'node:url';
import { arg } from './args.js';
import { runLin } from './lin/harness.js';

async function main(): Promise<void> {
  const quiet = process.argv.includes('--quiet');
  const rep = await runLin({
    nodes: Number(arg('--nodes', '5')),
    cycles: Number(arg('--cycles', '100')),
    seed: Number(arg('--seed', String(Date.now() % 1_000_000))),
    clientsPerNode: Number(arg('--clients', '2')),
    holdMs: Number(arg('--hold', '2500')),
    staleMs: Number(arg('--stale-ms', '100')),
    maxSeconds: process.argv.includes('--max-seconds') ? Number(arg('--max-seconds', '0')) : undefined,
    log: quiet ? () => {} : (l) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`),
  });
  const { cycleSeconds, ...rest } = rep;
  const sorted = [...cycleSeconds].sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ ...rest, cycleSecondsMedian: sorted[Math.floor(sorted.length / 2)] ?? 0, cycleSecondsMax: sorted.at(-1) ?? 0 }, null, 1) + '\n');
  process.stdout.write(
    `ops ${rep.ops} (ok ${rep.ok}, refused ${rep.refused}, failed ${rep.failed}, unknown ${rep.unknown}), anomalies ${rep.anomalies} (strict: ${rep.strictAnomalies}), lost ${rep.lost}, divergence ${rep.divergence}, hung ops ${rep.hungOps}, ENOENT reads ${rep.enoentReads}, cycles ${rep.cycles}/${Number(arg('--cycles', '100'))}\n`,
  );
  process.exit(rep.anomalies || rep.lost || rep.divergence || rep.failures.length ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
