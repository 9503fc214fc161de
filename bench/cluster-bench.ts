// Cluster mode, side by side with the original: in one run, this project's 3-node cluster (test/helpers/cluster.ts:
// daemons in the testnet's namespaces, mounts visible here) and the original pmxcfs's 3-node cluster
// (/work/shared/anchor/cluster/cluster.sh), the same corosync settings (token 500, knet ping 125/500, crypto off)
// and the same C client (bench/cluster-client.c) in a separate process: on the host for ours, inside the node's
// namespaces (`cluster.sh exec I`) for the original. Runs are interleaved (ours, original, original, ours, ...)
// so the load of this shared machine hits both alike; each figure is the median of the runs.
//
//   node dist/bench/cluster-bench.js [--runs 3] [--lat 1000] [--tp 2000] [--ops 1000] [--env K=V,K=V (our daemons)]
//     [--wake-here Y|N (the kernel's fuse wake_here for the run, bench/wake-here.ts)]
//   env: PMXCFS_BIN (default /tmp/original/pmxcfs), ANCHOR_HOME (default /tmp/original-cluster)
//
// Measured (unpinned):
//   lat       N new 512-byte files one after another from node 1: writer latency p50/p99 (open..close)
//   readable  the same with a reader polling on node 2: open on node 1 -> first full read on node 2, p50/p99
//   tp1/tp8   2000 files with 1 writer (node 1) and 8 writers (3/3/2 over the nodes): files/s, then the three
//             trees are compared (path, type, sha1 of content); CPU (user+sys) of the daemons and corosyncs
//   ops       create+write+close, overwrite, write tmp + rename, mkdir+rmdir, unlink on node 1: ops/s
//   --floor   what this design can reach here, written in C: the cluster half (bench/cpg-floor.c on our cluster:
//             a writer on node 1, members on nodes 2 and 3, SQLite on each, both promises) plus a new file's local
//             part on bench/ll-floor.c (memory only): their sum bounds the writer's latency and files/s, printed
//             against the original's
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PveCluster } from '../test/helpers/cluster.js';
import { cleanupAll, run, sleep, type RunResult } from './lib-daemon.js';
import { arg, envArg } from './args.js';
import { setWakeHere, wakeHere } from './wake-here.js';
import { compileC } from './lib-cclient.js';
import { startFloor, stopCfs, type CFs } from './lib-cfs.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT_DIR = [join(HERE, '..', '..'), join(HERE, '..')].find((d) => existsSync(join(d, 'bench', 'cluster-client.c')))!;
const ANCHOR = '/work/shared/anchor/cluster/cluster.sh';
const PMXCFS_BIN = process.env.PMXCFS_BIN ?? '/tmp/original/pmxcfs';
const ANCHOR_HOME = process.env.ANCHOR_HOME ?? '/tmp/original-cluster';

const RUNS = Number(arg('--runs', '3'));
const N_LAT = Number(arg('--lat', '1000'));
const N_TP = Number(arg('--tp', '2000'));
const N_OPS = Number(arg('--ops', '1000'));
/** environment of our daemons, e.g. `--env PMXCFS_ACK=own` (docs/CLUSTER.md) */
const EXTRA_ENV = envArg('--env');
const CLK_TCK = 100;
const FLOOR = process.argv.includes('--floor');

// ---------------------------------------------------------------------------------------------------------------
// the two clusters behind one interface

interface Side {
  name: 'ours' | 'original';
  /** the node's /etc/pve as the client sees it */
  root(node: number): string;
  /** runs argv as a client on `node` (a separate process; never in this one) */
  exec(node: number, argv: string[], timeoutMs?: number): Promise<RunResult>;
  daemonPids(): number[];
  corosyncPids(): number[];
}

const ENV = { PMXCFS_BIN, ANCHOR_HOME };

function anchor(args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run([ANCHOR, ...args], { timeout: timeoutMs, env: ENV });
}

function anchorDownSync(): void {
  try {
    execFileSync(ANCHOR, ['wipe'], { env: { ...process.env, ...ENV }, stdio: 'ignore', timeout: 60_000 });
  } catch {
    /* best effort */
  }
}

function readPid(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

async function originalSide(): Promise<Side> {
  execFileSync('mkdir', ['-p', '/var/log/corosync']);
  await anchor(['wipe'], 60_000);
  const up = await anchor(['up'], 120_000);
  if (up.code !== 0) throw new Error(`cluster.sh up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
  const st = (i: number, f: string) => join(ANCHOR_HOME, 'state', `n${i}`, f);
  return {
    name: 'original',
    root: () => '/etc/pve',
    exec: (node, argv, timeoutMs = 600_000) => run([ANCHOR, 'exec', String(node), ...argv], { timeout: timeoutMs, env: ENV }),
    daemonPids: () => [1, 2, 3].map((i) => readPid(st(i, 'pmxcfs.pid'))),
    corosyncPids: () => [1, 2, 3].map((i) => readPid(st(i, 'corosync.pid'))),
  };
}

async function oursSide(): Promise<{ side: Side; cluster: PveCluster }> {
  const cluster = await PveCluster.create({ nodes: 3 });
  await cluster.startAll(EXTRA_ENV);
  return {
    cluster,
    side: {
      name: 'ours',
      root: (i) => cluster.mount(i),
      exec: (_node, argv, timeoutMs = 600_000) => run(argv, { timeout: timeoutMs }),
      daemonPids: () => [1, 2, 3].map((i) => cluster.daemon(i).pid),
      corosyncPids: () => [1, 2, 3].map((i) => cluster.net.node(i).proc?.pid ?? 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

let CLIENT = '';
function buildClient(): void {
  CLIENT = join(tmpdir(), `cbt-client-${process.pid}`);
  execFileSync('cc', ['-O2', '-o', CLIENT, join(ROOT_DIR, 'bench', 'cluster-client.c')], { stdio: 'inherit' });
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** user+sys CPU ticks of a process (fields 14 and 15 of /proc/PID/stat, counted after the `(comm)`). */
function cpuTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
const sumTicks = (pids: number[]) => pids.reduce((a, p) => a + cpuTicks(p), 0);

function monoNs(): bigint {
  return process.hrtime.bigint(); // CLOCK_MONOTONIC, the client's clock
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))]!;
}
function median(xs: number[]): number {
  return pct(xs, 0.5);
}

async function must(p: Promise<RunResult>, what: string): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

interface WriteOut {
  t0: number;
  t1: number;
  start: number[];
  lat: number[];
}

const LIST_PY = `
import os, sys, hashlib
root = sys.argv[1]; sub = sys.argv[2]; out = []
base = os.path.join(root, sub)
for d, dirs, files in os.walk(base):
    dirs.sort()
    for n in sorted(files):
        p = os.path.join(d, n)
        if os.path.islink(p): continue
        with open(p, 'rb') as f: out.append('%s f %s' % (os.path.relpath(p, root), hashlib.sha1(f.read()).hexdigest()))
    for n in dirs: out.append('%s d' % os.path.relpath(os.path.join(d, n), root))
print(hashlib.sha1('\\n'.join(out).encode()).hexdigest(), len(out))
`;

/** Waits (bounded) until the three nodes list the same `count` entries under `sub` with the same contents. */
async function treesIdentical(side: Side, sub: string, count: number): Promise<string> {
  const end = Date.now() + 60_000;
  let last: string[] = [];
  while (Date.now() < end) {
    last = [] as string[];
    for (const i of [1, 2, 3]) last.push((await must(side.exec(i, ['python3', '-c', LIST_PY, side.root(i), sub], 60_000), 'listing')).trim());
    const [h, c] = last[0]!.split(' ');
    if (last.every((l) => l === last[0]) && Number(c) === count) return `identical (${c} entries, sha1 ${h!.slice(0, 12)})`;
    await sleep(500);
  }
  throw new Error(`${side.name}: trees under ${sub} differ after 60 s: ${last.join(' | ')}`);
}

async function rmTree(side: Side, sub: string): Promise<void> {
  await must(side.exec(1, ['rm', '-rf', join(side.root(1), sub)], 300_000), `rm -rf ${sub}`);
  // every node must have applied the removal before the next phase starts
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const r = await Promise.all([2, 3].map((i) => side.exec(i, ['test', '-e', join(side.root(i), sub)], 10_000)));
    if (r.every((x) => x.code === 1)) return;
    await sleep(200);
  }
  throw new Error(`${side.name}: ${sub} still present on a node 60 s after rm -rf`);
}

async function mkdirOn(side: Side, sub: string): Promise<void> {
  await must(side.exec(1, ['mkdir', '-p', join(side.root(1), sub)], 30_000), `mkdir ${sub}`);
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const r = await Promise.all([2, 3].map((i) => side.exec(i, ['test', '-d', join(side.root(i), sub)], 10_000)));
    if (r.every((x) => x.code === 0)) return;
    await sleep(100);
  }
  throw new Error(`${side.name}: ${sub} not on every node`);
}

// ---------------------------------------------------------------------------------------------------------------
// measurements; each returns named figures

type Figures = Record<string, number>;

async function latency(side: Side, r: number): Promise<Figures> {
  const sub = `cbt-lat-${r}`;
  await mkdirOn(side, sub);
  const w = JSON.parse(await must(side.exec(1, [CLIENT, 'write', join(side.root(1), sub), 'l', String(N_LAT), '0']), 'writer')) as WriteOut;
  await rmTree(side, sub);
  const ms = w.lat.map((x) => x / 1e6);
  return { lat_p50: pct(ms, 0.5), lat_p99: pct(ms, 0.99) };
}

async function readable(side: Side, r: number): Promise<Figures> {
  const sub = `cbt-rd-${r}`;
  await mkdirOn(side, sub);
  const reader = must(side.exec(2, [CLIENT, 'poll', join(side.root(2), sub), 'p', String(N_LAT)]), 'reader');
  const start = monoNs() + 1_000_000_000n; // the reader is polling by then
  const w = JSON.parse(await must(side.exec(1, [CLIENT, 'write', join(side.root(1), sub), 'p', String(N_LAT), String(start)]), 'writer')) as WriteOut;
  const seen = (JSON.parse(await reader) as { seen: number[] }).seen;
  await rmTree(side, sub);
  const d = seen.map((s, i) => (s - w.start[i]!) / 1e6);
  return { rd_p50: pct(d, 0.5), rd_p99: pct(d, 0.99), rd_wlat_p50: pct(w.lat.map((x) => x / 1e6), 0.5) };
}

async function throughput(side: Side, r: number, writers: number): Promise<{ figures: Figures; check: string }> {
  const sub = `cbt-tp${writers}-${r}`;
  await mkdirOn(side, sub);
  const per = Math.floor(N_TP / writers);
  const total = per * writers;
  const start = monoNs() + 1_500_000_000n; // every writer (cluster.sh exec included) is up by then
  const nodeOf = (k: number) => [1, 2, 3, 1, 2, 3, 1, 2][k % 8]!; // 8 writers: 3/3/2
  const d0 = sumTicks(side.daemonPids());
  const c0 = sumTicks(side.corosyncPids());
  const outs = await Promise.all(
    Array.from({ length: writers }, (_, k) => {
      const n = nodeOf(k);
      return must(side.exec(n, [CLIENT, 'write', join(side.root(n), sub), `w${k}`, String(per), String(start)]), `writer ${k}`);
    }),
  );
  const d1 = sumTicks(side.daemonPids());
  const c1 = sumTicks(side.corosyncPids());
  const ws = outs.map((o) => JSON.parse(o) as WriteOut);
  const secs = (Math.max(...ws.map((w) => w.t1)) - Math.min(...ws.map((w) => w.t0))) / 1e9;
  const check = await treesIdentical(side, sub, total);
  await rmTree(side, sub);
  const perK = 1000 / total;
  return {
    figures: {
      fps: total / secs,
      daemon_cpu_ms: (((d1 - d0) * 1000) / CLK_TCK) * perK,
      coro_cpu_ms: (((c1 - c0) * 1000) / CLK_TCK) * perK,
    },
    check,
  };
}

async function ops(side: Side, r: number): Promise<Figures> {
  const sub = `cbt-ops-${r}`;
  await mkdirOn(side, sub);
  const o = JSON.parse(await must(side.exec(1, [CLIENT, 'ops', join(side.root(1), sub), String(N_OPS)]), 'ops client')) as Figures;
  await rmTree(side, sub);
  return o;
}

/** The floor's parts on this machine now (see --floor above): the cluster half in C, and a new file's local part. */
interface Floor {
  bin: string;
  /** the members' and the writer's databases */
  dir: string;
  fs: CFs;
  members: ChildProcess[];
}
const PROMISES = [['own', '0'], ['all', '1']] as const;
async function floorStart(cluster: PveCluster): Promise<Floor> {
  const dir = mkdtempSync(join(tmpdir(), 'cbt-floor-'));
  const bin = await compileC('cpg-floor', ['libcpg', 'sqlite3']);
  const members: ChildProcess[] = [];
  for (const i of [2, 3]) {
    for (const [promise, ack] of PROMISES) members.push(cluster.net.spawn(i, bin, ['member', `cbt-floor-${promise}`, join(dir, `n${i}-${promise}.db`), ack]));
  }
  // the local part only: the changes' SQLite transactions are the cluster half's
  return { bin, dir, fs: await startFloor(false, false), members };
}
async function floorStop(f: Floor): Promise<void> {
  for (const m of f.members) m.kill('SIGTERM');
  await stopCfs(f.fs);
  rmSync(f.dir, { recursive: true, force: true });
}
async function floor(f: Floor, cluster: PveCluster, r: number): Promise<Figures> {
  const out: Figures = {};
  const sub = join(f.fs.mnt, `cbt-floor-${r}`);
  mkdirSync(sub);
  const w = JSON.parse(await must(run([CLIENT, 'write', sub, 'l', String(N_LAT), '0'], { timeout: 600_000 }), 'floor writer')) as WriteOut;
  rmSync(sub, { recursive: true });
  out.file_p50 = pct(w.lat.map((x) => x / 1e6), 0.5);
  out.file_fps = (N_LAT * 1e9) / (w.t1 - w.t0);
  for (const [promise, ack] of PROMISES) {
    const db = join(f.dir, `n1-${promise}-${r}.db`);
    const c = await cluster.net.exec(1, f.bin, ['write', `cbt-floor-${promise}`, db, String(N_LAT), '600', '3', ack], { timeoutMs: 300_000 });
    if (c.code !== 0) throw new Error(`floor (${promise}): cluster half failed (${c.code}): ${c.stderr}`);
    const x = JSON.parse(c.stdout.trim().split('\n').pop()!) as { perSec: number; p50us: number };
    out[`${promise}_p50`] = x.p50us / 1000;
    out[`${promise}_rate`] = x.perSec;
    out[`${promise}_lat_p50`] = x.p50us / 1000 + out.file_p50;
    out[`${promise}_tp1_fps`] = 1 / (1 / x.perSec + 1 / out.file_fps);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

const ROWS: { key: string; label: string; better: 'lower' | 'higher'; unit: string }[] = [
  { key: 'lat_p50', label: `writer latency p50 (new 512 B file, ${N_LAT} sequential, node 1)`, better: 'lower', unit: 'ms' },
  { key: 'lat_p99', label: 'writer latency p99', better: 'lower', unit: 'ms' },
  { key: 'rd_p50', label: 'open on node 1 -> readable on node 2, p50 (reader polling)', better: 'lower', unit: 'ms' },
  { key: 'rd_p99', label: 'open on node 1 -> readable on node 2, p99', better: 'lower', unit: 'ms' },
  { key: 'rd_wlat_p50', label: 'writer latency p50 while node 2 polls', better: 'lower', unit: 'ms' },
  { key: 'tp1_fps', label: `throughput, 1 writer (${N_TP} files)`, better: 'higher', unit: 'files/s' },
  { key: 'tp8_fps', label: `throughput, 8 writers 3/3/2 (${N_TP} files)`, better: 'higher', unit: 'files/s' },
  { key: 'create', label: `create+write+close (${N_OPS})`, better: 'higher', unit: 'ops/s' },
  { key: 'overwrite', label: 'overwrite (O_TRUNC)', better: 'higher', unit: 'ops/s' },
  { key: 'rename', label: 'write tmp + rename', better: 'higher', unit: 'ops/s' },
  { key: 'mkdir_rmdir', label: 'mkdir+rmdir', better: 'higher', unit: 'ops/s' },
  { key: 'unlink', label: 'unlink', better: 'higher', unit: 'ops/s' },
  { key: 'tp1_daemon_cpu_ms', label: 'CPU of the 3 daemons per 1,000 files, 1 writer', better: 'lower', unit: 'ms' },
  { key: 'tp1_coro_cpu_ms', label: 'CPU of the 3 corosyncs per 1,000 files, 1 writer', better: 'lower', unit: 'ms' },
  { key: 'tp8_daemon_cpu_ms', label: 'CPU of the 3 daemons per 1,000 files, 8 writers', better: 'lower', unit: 'ms' },
  { key: 'tp8_coro_cpu_ms', label: 'CPU of the 3 corosyncs per 1,000 files, 8 writers', better: 'lower', unit: 'ms' },
];

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function main(): Promise<void> {
  let ours: { side: Side; cluster: PveCluster } | null = null;
  let orig: Side | null = null;
  let cleaned = false;
  const teardown = async () => {
    if (cleaned) return;
    cleaned = true;
    if (fl) await floorStop(fl).catch((e: unknown) => console.error('floor stop:', e));
    if (ours) await ours.cluster.destroy().catch((e: unknown) => console.error('ours destroy:', e));
    await cleanupAll().catch(() => {});
    if (orig) await anchor(['wipe'], 60_000).catch(() => {});
    rmSync(CLIENT, { force: true });
  };
  // a ^C or kill tears the original down too (ours has its own exit hooks in testnet/lib-daemon)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      anchorDownSync();
      rmSync(CLIENT, { force: true });
      process.exit(130);
    });
  }
  const restoreWake = setWakeHere(arg('--wake-here', ''));
  const results: Record<'ours' | 'original', Record<string, number[]>> = { ours: {}, original: {} };
  const floors: Record<string, number[]> = {};
  let fl: Floor | null = null;
  const checks: string[] = [];
  const loads: string[] = [loadavg()];
  try {
    buildClient();
    console.error(`load ${loadavg()}: starting the original's cluster`);
    orig = await originalSide();
    console.error(`original: daemons ${orig.daemonPids().map(comm).join(',')} corosyncs ${orig.corosyncPids().map(comm).join(',')}`);
    console.error(`load ${loadavg()}: starting ours`);
    ours = await oursSide();
    console.error(`ours: daemons ${ours.side.daemonPids().map(comm).join(',')} corosyncs ${ours.side.corosyncPids().map(comm).join(',')}`);
    for (const s of [ours.side, orig]) await mkdirOn(s, 'cbt-warm').then(() => rmTree(s, 'cbt-warm'));
    if (FLOOR) fl = await floorStart(ours.cluster);

    const put = (side: Side, f: Figures, prefix = '') => {
      for (const [k, v] of Object.entries(f)) (results[side.name][prefix + k] ??= []).push(v);
    };
    const phases: { name: string; go: (s: Side, r: number) => Promise<void> }[] = [
      { name: 'latency', go: async (s, r) => put(s, await latency(s, r)) },
      { name: 'readable', go: async (s, r) => put(s, await readable(s, r)) },
      {
        name: 'tp1',
        go: async (s, r) => {
          const f = await throughput(s, r, 1);
          checks.push(`${s.name} run ${r} 1 writer: ${f.check}`);
          put(s, f.figures, 'tp1_');
        },
      },
      {
        name: 'tp8',
        go: async (s, r) => {
          const f = await throughput(s, r, 8);
          checks.push(`${s.name} run ${r} 8 writers: ${f.check}`);
          put(s, f.figures, 'tp8_');
        },
      },
      { name: 'ops', go: async (s, r) => put(s, await ops(s, r)) },
    ];
    for (let r = 1; r <= RUNS; r++) {
      // A B in odd runs, B A in even ones: neither side always runs first
      const order = r % 2 ? [ours.side, orig] : [orig, ours.side];
      for (const p of phases) {
        for (const s of order) {
          await p.go(s, r);
          console.error(`run ${r} ${p.name} ${s.name} done (load ${loadavg()})`);
        }
      }
      if (fl) {
        for (const [k, v] of Object.entries(await floor(fl, ours.cluster, r))) (floors[k] ??= []).push(v);
        console.error(`run ${r} floor done (load ${loadavg()})`);
      }
      loads.push(loadavg());
    }
  } finally {
    await teardown();
  }

  const model = cpus()[0]?.model ?? '?';
  console.log(`\nmachine: ${cpus().length} CPUs, ${model}; load (1/5/15 min) at start and after each run: ${loads.join(' | ')}`);
  console.log(`runs: ${RUNS}, medians; unpinned; interleaved ours/original; fuse wake_here ${wakeHere() ?? '(none)'}; our daemons' env: ${JSON.stringify(EXTRA_ENV)}\n`);
  restoreWake();
  console.log('| figure | unit | ours | original | ours/original |');
  console.log('|---|---|---:|---:|---:|');
  for (const row of ROWS) {
    const a = results.ours[row.key];
    const b = results.original[row.key];
    const ma = a?.length ? median(a) : NaN;
    const mb = b?.length ? median(b) : NaN;
    console.log(`| ${row.label} | ${row.unit} | ${fmt(ma)} | ${fmt(mb)} | ${fmt(ma / mb)}x |`);
  }
  if (FLOOR) {
    const m = (k: string) => median(floors[k] ?? [NaN]);
    const o = (k: string) => median(results.original[k] ?? [NaN]);
    console.log(`\n**The floor** (the design in C, bench/cpg-floor.c and bench/ll-floor.c; medians of ${RUNS}):\n`);
    console.log('| part | own node applied (the original\'s promise) | every member applied (this daemon\'s default) |');
    console.log('|---|---:|---:|');
    console.log(`| cluster half: change multicast, applied (SQLite) on all, acknowledged as promised; p50 | ${fmt(m('own_p50'))} ms | ${fmt(m('all_p50'))} ms |`);
    console.log(`| the same, one change at a time | ${fmt(m('own_rate'))} /s | ${fmt(m('all_rate'))} /s |`);
    console.log(`| local half: a new 512 B file on ll-floor (memory only), p50 | ${fmt(m('file_p50'))} ms (${fmt(m('file_fps'))} files/s) | |`);
    for (const [k, label, target] of [['lat_p50', 'writer latency p50', '<= 0.5x'], ['tp1_fps', '1 writer, files/s', '>= 2.5x']] as const) {
      const b = (pr: string) => `${fmt(m(`${pr}_${k}`))} = ${fmt(m(`${pr}_${k}`) / o(k))}x`;
      console.log(`| bound: ${label} (the original: ${fmt(o(k))}; target ${target}) | ${b('own')} | ${b('all')} |`);
    }
    for (const [k, v] of Object.entries(floors)) console.log(`  floor ${k}: ${v.map(fmt).join(' ')}`);
  }
  console.log('\nall runs:');
  for (const row of ROWS) console.log(`  ${row.key}: ours ${(results.ours[row.key] ?? []).map(fmt).join(' ')}; original ${(results.original[row.key] ?? []).map(fmt).join(' ')}`);
  console.log('\ntree checks (path, type, sha1 of content on all three nodes):');
  for (const c of checks) console.log(`  ${c}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
