// Benchmark of the local-mode filesystem: starts pmxcfs for each backend (and a tmpfs baseline), runs the client
// (bench/fs-bench-client.ts) in a separate process several times, unpinned and pinned to one CPU, and prints a
// markdown table of medians.
//
//   npm run bench                       # both backends, unpinned and pinned, 5 runs each
//   node dist/bench/fs-bench.js --pin   # pinned only (daemon and client under `taskset -c 0`)
//   node dist/bench/fs-bench.js --no-pin --runs 3 --n 1000 --backends fuse-native
//   node dist/bench/fs-bench.js --client c --pin   # the C client: create, read, stat, tmp+rename, readdir, 1 MiB
//
// Pinning removes this VM's cross-CPU wake-up per FUSE round trip (see /work/shared/reference/fuse-notes.md);
// report both regimes.

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cClient } from './lib-cclient.js';
import { availableBackends, cleanupAll, run, startDaemon } from './lib-daemon.js';
import { arg } from './args.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLIENT = join(HERE, 'fs-bench-client.js');

function flag(name: string): boolean {
  return process.argv.includes(name);
}

const RUNS = Number(arg('--runs', '5'));
const N = Number(arg('--n', '1000'));
const BACKENDS = arg('--backends', availableBackends().join(',')).split(',').filter(Boolean);
const MODES: ('unpinned' | 'pinned')[] = flag('--pin') ? ['pinned'] : flag('--no-pin') ? ['unpinned'] : ['unpinned', 'pinned'];
const BASELINE = !flag('--no-baseline');

type Result = Record<string, number>;
const METRICS: { key: string; label: string; unit: 'ops' | 'ms' }[] = [
  { key: 'create', label: 'create+write+close /s', unit: 'ops' },
  { key: 'read', label: 'read /s', unit: 'ops' },
  { key: 'stat', label: 'stat /s', unit: 'ops' },
  { key: 'overwrite', label: 'overwrite /s', unit: 'ops' },
  { key: 'rename', label: 'write tmp + rename /s', unit: 'ops' },
  { key: 'readdir_ms', label: `readdir(${N}) ms`, unit: 'ms' },
  { key: 'unlink', label: 'unlink /s', unit: 'ops' },
  { key: 'mkdir_rmdir', label: 'mkdir+rmdir /s', unit: 'ops' },
  { key: 'write1m_ms', label: '1 MiB write ms', unit: 'ms' },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** --client c: bench/native-fuse-client.c (no per-call cost of Node); fewer metrics. */
const C_CLIENT = arg('--client', 'node') === 'c';
async function runCClient(dir: string, pinned: boolean): Promise<Result> {
  const argv = [await cClient(), dirname(dir), basename(dir), String(N)];
  const r = await run(pinned ? ['taskset', '-c', '0', ...argv] : argv, { timeout: 600_000 });
  if (r.code !== 0) throw new Error(`C client failed (${r.code}): ${r.stderr}`);
  const c = JSON.parse(r.stdout.trim()) as Record<string, number>;
  return { create: c.create!, read: c.read!, stat: c.stat!, overwrite: NaN, rename: c.rename!, readdir_ms: c.readdirMs!, unlink: NaN, mkdir_rmdir: NaN, write1m_ms: c.bigWriteMs! };
}

async function client(dir: string, pinned: boolean): Promise<Result> {
  if (C_CLIENT) return runCClient(dir, pinned);
  const argv = [process.execPath, CLIENT, '--dir', dir, '--n', String(N)];
  const r = await run(pinned ? ['taskset', '-c', '0', ...argv] : argv, { timeout: 600_000 });
  if (r.code !== 0) throw new Error(`client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

function fmt(v: number, unit: 'ops' | 'ms'): string {
  if (Number.isNaN(v)) return '-';
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v >= 1000 ? `${(v / 1000).toFixed(2)}k` : v.toFixed(0);
}

async function main(): Promise<void> {
  const rows: { target: string; mode: string; med: Result }[] = [];
  const targets = [...(BASELINE ? ['tmpfs'] : []), ...BACKENDS];
  for (const target of targets) {
    for (const mode of MODES) {
      const pinned = mode === 'pinned';
      const results: Result[] = [];
      if (target === 'tmpfs') {
        const base = mkdtempSync(join('/dev/shm', 'pmxcfs-bench-'));
        try {
          for (let i = 0; i < RUNS; i++) results.push(await client(join(base, `run${i}`), pinned));
        } finally {
          rmSync(base, { recursive: true, force: true });
        }
      } else {
        const d = await startDaemon({ backend: target, ...(pinned ? { cpu: '0' } : {}) });
        try {
          for (let i = 0; i < RUNS; i++) results.push(await client(join(d.mnt, `bench${i}`), pinned));
          const code = await d.stop();
          if (code !== 0) process.stderr.write(`daemon ${target} exited ${code}\n${d.log().slice(-2000)}\n`);
        } finally {
          await cleanupAll();
        }
      }
      const med: Result = {};
      for (const m of METRICS) med[m.key] = median(results.map((r) => r[m.key]!));
      rows.push({ target, mode, med });
      process.stderr.write(`${target} ${mode}: ${JSON.stringify(med)}\n`);
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines: string[] = [];
  lines.push(`${cpus().length} CPUs (${cpu}), kernel ${release()}, Node ${process.version}; ${N} files of 512 B, median of ${RUNS} runs.`);
  lines.push('');
  lines.push(`| target | CPUs | ${METRICS.map((m) => m.label).join(' | ')} |`);
  lines.push(`|---|---|${METRICS.map(() => '---:').join('|')}|`);
  for (const r of rows) {
    lines.push(`| ${r.target} | ${r.mode === 'pinned' ? 'pinned (taskset -c 0)' : 'unpinned'} | ${METRICS.map((m) => fmt(r.med[m.key]!, m.unit)).join(' | ')} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main()
  .catch(async (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());

