// This daemon and the original pmxcfs, side by side in one run on one machine: the same clients against both mounts,
// runs interleaved (ours, original, original, ours, ...) so the machine's load hits both alike.
//
//   npx tsc -p . && node dist/bench/side-by-side.js                 # 3 runs, Node and C clients, unpinned and pinned
//   node dist/bench/side-by-side.js --runs 5 --modes pinned --clients c --n 1000 --rtt 200000
//   node dist/bench/side-by-side.js --wake-here Y   # the kernel's fuse wake_here set for the run (bench/wake-here.ts)
//
// The original: built by /work/shared/anchor/build-original.sh into $PMXCFS_HOME (default /tmp/original) and run in
// local mode in its own namespaces by run-original.sh (--anchor; its mount /etc/pve is visible only through
// `run-original.sh exec`). Only one original can run per machine: this script stops and wipes it when done.
//
// Per regime (unpinned; pinned = daemon and client under `taskset -c 0`): both daemons started fresh, one warm-up pass
// of every client on both, then --runs passes each, medians. Besides ops/s, each client reports the daemon's CPU time
// per operation (all its threads, from /proc/PID/task/*/schedstat), which the load of other work disturbs far less.
// The round-trip section times statx(AT_STATX_FORCE_SYNC) on an open file (one GETATTR each) against this daemon, the
// original, and bench/ll-null.c (a plain C libfuse3 low-level loop): the bare cost of one request. The placement
// section traces --placement creates (bench/op-cost.c, C) on each daemon with the fuse tracepoints and splits their
// wall time into the daemons' side and the client's side (bench/placement.ts). With --floor every client also runs
// against bench/ll-floor.c, a C filesystem the kernel sees as it sees this daemon, in memory and then with one SQLite
// transaction per change: the best any daemon with this design can do on the machine (the "bound" column).

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC } from './lib-cclient.js';
import { startCfs, startFloor, stopCfs, type CFs } from './lib-cfs.js';
import { cleanupAll, run, startDaemon, type Daemon, type RunResult } from './lib-daemon.js';
import { arg, envArg } from './args.js';
import { setWakeHere, wakeHere } from './wake-here.js';
import { commOf, placement, type Placement } from './placement.js';
import { traceRequests, tracingAvailable } from '../test/helpers/fuse-trace.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const NODE_CLIENT = join(HERE, 'fs-bench-client.js');

const RUNS = Number(arg('--runs', '3'));
const N = Number(arg('--n', '1000'));
const CLIENTS = arg('--clients', 'node,c').split(',').filter(Boolean) as ('node' | 'c')[];
const MODES = arg('--modes', 'unpinned,pinned').split(',').filter(Boolean) as ('unpinned' | 'pinned')[];
const RTT = Number(arg('--rtt', '200000'));
const ANCHOR = arg('--anchor', '/work/shared/anchor/run-original.sh');
const HOME = arg('--original', process.env.PMXCFS_HOME ?? '/tmp/original');
const OURS_ARGS = arg('--ours-args', '').split(' ').filter(Boolean);
/** environment of our daemon, e.g. `--ours-env PMXCFS_FUSE_SPIN_US=0` */
const OURS_ENV = envArg('--ours-env');
const PLACEMENT = Number(arg('--placement', '300'));
/** also run every client against bench/ll-floor.c, without and with SQLite: what these semantics allow on this machine */
const FLOOR = process.argv.includes('--floor');
/** Y or N: the kernel's fuse wake_here for the whole run (bench/wake-here.ts); default: as the machine has it */
const WAKE = arg('--wake-here', '');

type Result = Record<string, number>;
const OPS: { key: string; label: string; unit: 'ops' | 'ms' }[] = [
  { key: 'create', label: 'create+write+close', unit: 'ops' },
  { key: 'read', label: 'read (open+read+close)', unit: 'ops' },
  { key: 'stat', label: 'stat', unit: 'ops' },
  { key: 'overwrite', label: 'overwrite (O_TRUNC)', unit: 'ops' },
  { key: 'rename', label: 'write tmp + rename', unit: 'ops' },
  { key: 'readdir', label: `readdir of ${N} entries`, unit: 'ms' },
  { key: 'unlink', label: 'unlink', unit: 'ops' },
  { key: 'mkdir_rmdir', label: 'mkdir+rmdir', unit: 'ops' },
];

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const CGROOT = '/sys/fs/cgroup/cpuacct';
const groups: string[] = [];
/**
 * Where the daemon's CPU time is read: a cpuacct cgroup of its own (exact, and it counts threads that ended, like
 * the original's libfuse workers), else its pid (schedstat of its live threads).
 */
function cpuSource(pid: number, name: string): string {
  const g = join(CGROOT, `pmxcfs-bench-${process.pid}-${name}`);
  try {
    mkdirSync(g);
    groups.push(g);
    writeFileSync(join(g, 'cgroup.procs'), String(pid));
    return join(g, 'cpuacct.usage');
  } catch {
    return String(pid);
  }
}
function dropGroups(): void {
  for (const g of groups.splice(0)) {
    try {
      // members go back to the root group, then the empty group can go
      for (const p of readFileSync(join(g, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        writeFileSync(join(CGROOT, 'cgroup.procs'), p);
      }
      rmdirSync(g);
    } catch {
      /* already gone */
    }
  }
}

/** ns of CPU the daemon ran so far */
function cpuNs(src: string): number {
  if (src.startsWith('/')) return Number(readFileSync(src, 'utf8'));
  const pid = Number(src);
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* thread gone */
    }
  }
  return ns;
}

interface Target {
  name: string;
  pid: number;
  /** cpuSource() of the daemon */
  cpu: string;
  /** directory the clients work in (as the client sees it) */
  base: string;
  /** prefix of every client command (nsenter into the original's namespace) */
  prefix: string[];
}

const orig = (verb: string, pinned = false) =>
  run([...(pinned ? ['taskset', '-c', '0'] : []), ANCHOR, verb], { env: { PMXCFS_HOME: HOME }, timeout: 60_000 });

async function startOriginal(pinned: boolean): Promise<Target> {
  await orig('wipe');
  const r = await orig('start', pinned);
  if (r.code !== 0) throw new Error(`original did not start: ${r.stdout}${r.stderr}`);
  const pid = Number(readFileSync(join(HOME, 'state', 'ns.pid'), 'utf8'));
  const prefix = [ANCHOR, 'exec'];
  const m = await run([...prefix, 'mkdir', '-p', '/etc/pve/nodes/bench1'], { env: { PMXCFS_HOME: HOME } });
  if (m.code !== 0) throw new Error(`original: mkdir failed: ${m.stderr}`);
  return { name: 'original', pid, cpu: cpuSource(pid, 'original'), base: '/etc/pve/nodes/bench1', prefix };
}

let seq = 0;
async function client(t: Target, kind: 'node' | 'c', pinned: boolean): Promise<Result> {
  const dir = `${t.base}/sbs-${process.pid}-${++seq}`;
  const pin = pinned ? ['taskset', '-c', '0'] : [];
  const argv =
    kind === 'node'
      ? [process.execPath, NODE_CLIENT, '--dir', dir, '--n', String(N), '--bigwrites', '0', '--daemon-cpu', t.cpu]
      : [await compileC('fs-bench-client'), dir, String(N), t.cpu];
  const r = await run([...t.prefix, ...pin, ...argv], { timeout: 600_000, env: { PMXCFS_HOME: HOME } });
  if (r.code !== 0) throw new Error(`${kind} client on ${t.name} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
  out.readdir = out.readdir_ms!;
  return out;
}

interface Rtt {
  us: number;
  cpu: number;
}
async function rtt(t: Target, file: string, pinned: boolean): Promise<Rtt> {
  const bin = await compileC('rtt-client');
  const c0 = cpuNs(t.cpu);
  const r = await run([...t.prefix, ...(pinned ? ['taskset', '-c', '0'] : []), bin, file, String(RTT)], {
    timeout: 600_000,
    env: { PMXCFS_HOME: HOME },
  });
  const c1 = cpuNs(t.cpu);
  if (r.code !== 0) throw new Error(`rtt on ${t.name} failed: ${r.stderr}`);
  const o = JSON.parse(r.stdout.trim()) as { us: number; calls: number };
  return { us: o.us, cpu: (c1 - c0) / 1e3 / o.calls };
}

/** Traces PLACEMENT creates of 512 B (one after another, C) on `t` and splits their time (bench/placement.ts). */
async function placed(t: Target, pinned: boolean): Promise<Placement> {
  const bin = await compileC('op-cost');
  const file = `${t.base}/placement-${++seq}`;
  await run([...t.prefix, 'sh', '-c', `echo x > ${file}`], { env: { PMXCFS_HOME: HOME } });
  let r: RunResult | undefined;
  const trips = await traceRequests(async () => {
    const argv = [...t.prefix, ...(pinned ? ['taskset', '-c', '0'] : []), bin, file, String(PLACEMENT), '/dev/null', '5'];
    r = await run(argv, { timeout: 600_000, env: { PMXCFS_HOME: HOME } });
  });
  if (r?.code !== 0) throw new Error(`placement on ${t.name} failed: ${r?.stderr}`);
  return placement(trips, commOf(bin), PLACEMENT);
}

/** A C filesystem of bench/ as a target of the clients. */
function cTarget(c: CFs, label: string): Target & { fs: CFs } {
  return { name: label, pid: c.pid, cpu: cpuSource(c.pid, `c-${c.pid}`), base: c.mnt, prefix: [], fs: c };
}

function fmt(v: number, unit: 'ops' | 'ms'): string {
  if (!Number.isFinite(v)) return '-';
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v >= 1000 ? `${(v / 1000).toFixed(2)}k` : v.toFixed(0);
}

const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  process.stderr.write(s + '\n');
};

async function regime(mode: 'unpinned' | 'pinned'): Promise<void> {
  const pinned = mode === 'pinned';
  const load0 = loadavg()[0]!.toFixed(1);
  const ours: Daemon = await startDaemon({ backend: 'native', ...(pinned ? { cpu: '0' } : {}), args: OURS_ARGS, env: OURS_ENV });
  const a: Target = { name: 'this daemon', pid: ours.pid, cpu: cpuSource(ours.pid, 'ours'), base: join(ours.mnt, 'nodes', ours.nodename), prefix: [] };
  const b = await startOriginal(pinned);
  const floors: (Target & { fs: CFs })[] = [];
  try {
    if (FLOOR) {
      floors.push(cTarget(await startFloor(pinned, false), 'C floor'));
      floors.push(cTarget(await startFloor(pinned, true), 'C floor + SQLite'));
    }
    const targets: Target[] = [a, b, ...floors];
    for (const kind of CLIENTS) for (const t of targets) await client(t, kind, pinned); // warm-up
    const res = new Map<string, Result[]>();
    for (let i = 0; i < RUNS; i++) {
      for (const kind of CLIENTS) {
        const order = i % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const key = `${kind}/${t.name}`;
          const r = await client(t, kind, pinned);
          (res.get(key) ?? res.set(key, []).get(key)!).push(r);
          process.stderr.write(`${mode} ${key} run ${i + 1}: ${JSON.stringify(r)}\n`);
        }
      }
    }
    // bare round trip
    const rt = new Map<string, Rtt[]>();
    const ll = cTarget(await startCfs('ll-null', pinned, ['fuse3']), 'C libfuse3 low-level loop');
    try {
      await run(['sh', '-c', `echo rtt > ${a.base}/rtt-file`]);
      await run([...b.prefix, 'sh', '-c', `echo rtt > ${b.base}/rtt-file`], { env: { PMXCFS_HOME: HOME } });
      for (let i = 0; i < 3; i++) {
        for (const [t, f] of [
          [a, `${a.base}/rtt-file`],
          [b, `${b.base}/rtt-file`],
          [ll, `${ll.fs.mnt}/f`],
        ] as [Target, string][]) {
          if (RTT <= 0) break;
          const r = await rtt(t, f, pinned);
          (rt.get(t.name) ?? rt.set(t.name, []).get(t.name)!).push(r);
        }
      }
    } finally {
      await stopCfs(ll.fs);
    }
    // where the requests of one client are answered
    const pl = new Map<string, Placement[]>();
    if (PLACEMENT > 0 && tracingAvailable()) {
      for (let i = 0; i < 3; i++) {
        for (const t of i % 2 === 0 ? [a, b] : [b, a]) (pl.get(t.name) ?? pl.set(t.name, []).get(t.name)!).push(await placed(t, pinned));
      }
    }
    const load1 = loadavg()[0]!.toFixed(1);
    for (const kind of CLIENTS) {
      const A = res.get(`${kind}/${a.name}`)!;
      const B = res.get(`${kind}/${b.name}`)!;
      say('');
      say(`**${kind === 'node' ? 'Node' : 'C'} client, ${pinned ? 'pinned (daemon and client under `taskset -c 0`)' : 'unpinned'}**, ` +
        `${N} files of 512 B, median of ${RUNS} (load average ${load0} -> ${load1})`);
      say('');
      const F = floors.map((f) => res.get(`${kind}/${f.name}`)!);
      say('| operation | this daemon | the original | ratio (this / original) | daemon CPU per op, this | the original |' +
        (F.length ? ' C floor | C floor + SQLite | bound (floor + SQLite / original) | CPU per op, floor + SQLite |' : ''));
      say('|---|---:|---:|---:|---:|---:|' + (F.length ? '---:|---:|---:|---:|' : ''));
      for (const op of OPS) {
        const med = (rs: Result[], k = op.key) => median(rs.map((r) => r[k]!));
        const ratio = (x: number, y: number) => (op.unit === 'ms' ? y / x : x / y);
        const x = med(A);
        const y = med(B);
        const u = op.unit === 'ms' ? ' ms' : '/s';
        let row = `| ${op.label} | ${fmt(x, op.unit)}${u} | ${fmt(y, op.unit)}${u} | **${ratio(x, y).toFixed(2)}** | ` +
          `${med(A, `cpu_${op.key}`).toFixed(1)} us | ${med(B, `cpu_${op.key}`).toFixed(1)} us |`;
        if (F.length === 2) {
          const [m, q] = [med(F[0]!), med(F[1]!)];
          row += ` ${fmt(m, op.unit)}${u} | ${fmt(q, op.unit)}${u} | ${ratio(q, y).toFixed(2)} | ${med(F[1]!, `cpu_${op.key}`).toFixed(1)} us |`;
        }
        say(row);
      }
    }
    if (RTT > 0) {
      say('');
      say(`**One request round trip** (${pinned ? 'pinned' : 'unpinned'}): statx(AT_STATX_FORCE_SYNC) on an open file = one GETATTR, ` +
        `${RTT} calls, median of 3`);
      say('');
      say('| server | us per round trip (client) | daemon CPU us per request |');
      say('|---|---:|---:|');
      for (const [name, rs] of rt) {
        say(`| ${name} | ${median(rs.map((r) => r.us)).toFixed(1)} | ${median(rs.map((r) => r.cpu)).toFixed(2)} |`);
      }
    }
    if (pl.size > 0) {
      say('');
      say(`**Where the requests are answered** (${pinned ? 'pinned' : 'unpinned'}): ${PLACEMENT} creates of 512 B one after ` +
        'another (C, `bench/op-cost.c` mode 5) under the fuse tracepoints, median of 3; per create, synchronous requests only');
      say('');
      say('| daemon | answered on the client\'s CPU | daemon side (sent -> answered) | client side (answered -> next sent) | wall |');
      say('|---|---:|---:|---:|---:|');
      for (const [name, ps] of pl) {
        const m = (f: (p: Placement) => number) => median(ps.map(f));
        say(`| ${name} | ${(m((p) => p.sameCpu) * 100).toFixed(0)} % | ${m((p) => p.daemonUs).toFixed(1)} us | ` +
          `${m((p) => p.clientUs).toFixed(1)} us | ${m((p) => p.wallUs).toFixed(1)} us |`);
      }
    }
  } finally {
    for (const f of floors) await stopCfs(f.fs);
    await orig('wipe');
    await ours.stop();
    await cleanupAll();
    dropGroups();
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(HOME, 'pmxcfs'))) throw new Error(`the original is not built in ${HOME} (see /work/shared/anchor/README.md)`);
  const restoreWake = setWakeHere(WAKE);
  const commit = (await run(['git', '-C', join(HERE, '..', '..'), 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  say(`${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), kernel ${release()}, Node ${process.version}, commit ${commit}, ` +
    `${new Date().toISOString()}, fuse wake_here ${wakeHere() ?? '(none)'}; command: node dist/bench/side-by-side.js ${process.argv.slice(2).join(' ')}`);
  try {
    for (const mode of MODES) await regime(mode);
  } finally {
    restoreWake();
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    dropGroups();
  });
