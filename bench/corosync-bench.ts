// CPG throughput and send-to-own-delivery latency of the binding vs. a C client, on a real 3-node cluster.
//   npx tsc -p . && node dist/bench/corosync-bench.js [--runs 5] [--n200 100000] [--n4k 20000] [--nlat 3000]
// Node 1 sends; nodes 2 and 3 run the C receiver (same for both, so only the sender differs). Two phases per size:
// throughput (as many in flight as corosync's flow control accepts; msgs/s) and latency (one message in flight,
// send to own delivery; p50/p99). Runs alternate C / binding; medians are printed as a markdown table.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testnet, packageRoot } from '../test/helpers/testnet.js';

interface Result {
  msgs: number;
  seconds: number;
  msgsPerSec: number;
  p50us: number;
  p99us: number;
}

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const runs = arg('runs', 5);
const nlat = arg('nlat', 3000);
const sizes: [number, number][] = [
  [200, arg('n200', 100_000)],
  [4096, arg('n4k', 20_000)],
];

const root = packageRoot();
const work = mkdtempSync(join(tmpdir(), 'corosync-bench-'));
const cbin = join(work, 'corosync-bench');
execFileSync('gcc', ['-O2', '-o', cbin, join(root, 'bench', 'corosync-bench.c'), '-lcpg'], { stdio: 'inherit' });
const worker = join(root, 'dist', 'bench', 'corosync-worker.js');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const net = Testnet.create({ nodes: 3 });
try {
  net.start();
  await net.waitAllQuorate();
  for (const id of [2, 3]) net.spawn(id, cbin, ['recv', 'bench']);
  const results: { impl: string; size: number; phase: string; r: Result }[] = [];
  for (const [size, n] of sizes) {
    for (let run = 0; run < runs; run++) {
      for (const phase of ['throughput', 'latency']) {
        for (const impl of ['C', 'binding']) {
          const count = phase === 'latency' ? nlat : n;
          const window = phase === 'latency' ? 1 : count;
          const common = ['bench', String(count), String(size), '3', String(window)];
          const cmd = impl === 'C' ? cbin : process.execPath;
          const args = impl === 'C' ? ['send', ...common] : [worker, ...common];
          const r = await net.exec(1, cmd, args, { timeoutMs: 150_000 });
          if (r.code !== 0) throw new Error(`${impl} ${size} B run failed (${r.code}): ${r.stderr}`);
          const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
          results.push({ impl, size, phase, r: res });
          console.error(`${impl.padEnd(7)} ${String(size).padStart(4)} B ${phase.padEnd(10)} run ${run + 1}: ${JSON.stringify(res)}`);
        }
      }
    }
  }
  const pick = (impl: string, size: number, phase: string) =>
    results.filter((x) => x.impl === impl && x.size === size && x.phase === phase).map((x) => x.r);
  console.log(`\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, ${runs} runs, medians\n`);
  console.log('| message | client | throughput msgs/s | latency p50 | latency p99 |');
  console.log('|---|---|---|---|---|');
  for (const [size, n] of sizes) {
    const mps: Record<string, number> = {};
    for (const impl of ['C', 'binding']) {
      mps[impl] = median(pick(impl, size, 'throughput').map((x) => x.msgsPerSec));
      const lat = pick(impl, size, 'latency');
      console.log(
        `| ${size} B (${n} msgs; ${nlat} for latency) | ${impl} | ${(mps[impl]! / 1000).toFixed(1)}k | ${Math.round(median(lat.map((x) => x.p50us)))} us | ${Math.round(median(lat.map((x) => x.p99us)))} us |`,
      );
    }
    console.log(`| ${size} B | binding / C | ${((mps.binding! / mps.C!) * 100).toFixed(0)} % | | |`);
  }
} finally {
  await net.destroy();
  rmSync(work, { recursive: true, force: true });
}
