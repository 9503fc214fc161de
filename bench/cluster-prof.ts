// Where the CPU goes in cluster mode (ours only): a 3-node cluster, N new 512-byte files written one after another
// on node 1 (or by 8 writers over the nodes with --writers 8), CPU (user+sys from /proc/PID/stat) of each daemon and
// each corosync per 1,000 files, and each daemon's split: [JS thread user, JS thread system, other threads]. With
// --cpu-prof DIR every daemon writes a V8 CPU profile there on exit.
//
//   node dist/bench/cluster-prof.js [--files 1000] [--writers 1] [--cpu-prof DIR] [--env K=V,K=V] [--node-args "F F"] [--trace]
//   --trace: each FUSE request of the writers timed by the kernel's tracepoints (sent -> answered), p50/p90 per kind
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PveCluster } from '../test/helpers/cluster.js';
import { cleanupAll, run, startDaemon } from './lib-daemon.js';
import { arg, envArg } from './args.js';
import { traceRequests, type RequestTrip } from '../test/helpers/fuse-trace.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT_DIR = [join(HERE, '..', '..'), join(HERE, '..')].find((d) => existsSync(join(d, 'bench', 'cluster-client.c')))!;
const N = Number(arg('--files', '1000'));
const WRITERS = Number(arg('--writers', '1'));
const PROF = arg('--cpu-prof', '');
const PERF = arg('--perf', '');
const TRACE = process.argv.includes('--trace');
const EXTRA = envArg('--env');
/** flags for the daemons' node, e.g. `--node-args "--interrupt-budget=8192"` */
const NODE_ARGS = arg('--node-args', '').split(' ').filter(Boolean);

/** user and system CPU (ms) from a /proc stat file (a process's or one thread's) */
function userSysMs(statFile: string): [number, number] {
  const s = readFileSync(statFile, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
}

function cpuMs(pid: number): number {
  const [user, sys] = userSysMs(`/proc/${pid}/stat`);
  return user + sys;
}

/** CPU (ms) of a process's threads, split: the main (JS) thread's user and system time, and all other threads. */
function threadMs(pid: number): { mainUser: number; mainSys: number; others: number } {
  const r = { mainUser: 0, mainSys: 0, others: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let user: number, sys: number;
    try {
      [user, sys] = userSysMs(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      continue; // a thread that ended meanwhile
    }
    if (Number(tid) === pid) {
      r.mainUser = user;
      r.mainSys = sys;
    } else r.others += user + sys;
  }
  return r;
}

const wrapDir = (id: number): string => join(tmpdir(), `cprof-wrap-${process.pid}-n${id}`);

/** node's own flags are refused in NODE_OPTIONS: a wrapper puts them after the node binary */
function nodeWrapper(id: number, flags: string[]): string {
  mkdirSync(wrapDir(id), { recursive: true });
  const w = join(wrapDir(id), 'node.sh');
  writeFileSync(w, `#!/bin/sh\nn="$1"; shift\nexec "$n" ${flags.join(' ')} "$@"\n`, { mode: 0o755 });
  return w;
}

async function main(): Promise<void> {
  if (PERF) mkdirSync(PERF, { recursive: true });
  const client = join(tmpdir(), `cprof-client-${process.pid}`);
  execFileSync('cc', ['-O2', '-o', client, join(ROOT_DIR, 'bench', 'cluster-client.c')], { stdio: 'inherit' });
  const cluster = await PveCluster.create({ nodes: 3 });
  try {
    for (const id of [1, 2, 3]) {
      const env: Record<string, string> = { PMXCFS_COROSYNC_RETRY_MS: '300', ...EXTRA };
      const tn = cluster.net.node(id);
      const prefix = ['nsenter', `--net=/run/netns/${tn.ns}`];
      const flags = [...NODE_ARGS];
      if (PERF) flags.push('--perf-basic-prof');
      else if (PROF) {
        const d = join(PROF, `n${id}`);
        rmSync(d, { recursive: true, force: true });
        mkdirSync(d, { recursive: true });
        flags.push('--cpu-prof', `--cpu-prof-dir=${d}`);
      }
      if (flags.length) prefix.push(nodeWrapper(id, flags));
      const n = cluster.node(id);
      n.daemon = await startDaemon({
        dir: n.state.dir, backend: 'native', nodename: tn.name, cluster: true, prefix,
        args: ['--corosync-conf', tn.confPath], env, timeout: 15_000,
      });
    }
    await cluster.waitSynced();
    const sub = `prof-${Date.now()}`;
    await run(['mkdir', join(cluster.mount(1), sub)]);
    await new Promise((r) => setTimeout(r, 500));
    const dp = [1, 2, 3].map((i) => cluster.daemon(i).pid);
    const cp = [1, 2, 3].map((i) => cluster.net.node(i).proc?.pid ?? 0);
    const d0 = dp.map(cpuMs);
    const t0s = dp.map(threadMs);
    const c0 = cp.map(cpuMs);
    const perfs = PERF ? dp.map((p, i) => spawn('perf', ['record', '-F', '1999', '-g', '-p', String(p), '-o', join(PERF, `n${i + 1}.data`)], { stdio: 'ignore' })) : [];
    if (PERF) await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const nodes = WRITERS === 1 ? [1] : [1, 1, 1, 2, 2, 2, 3, 3].slice(0, WRITERS);
    const per = Math.floor(N / nodes.length);
    const go = () => Promise.all(nodes.map((n, k) => run([client, 'write', join(cluster.mount(n), sub), `w${k}`, String(per), '0'], { timeout: 600_000 })));
    let outs!: Awaited<ReturnType<typeof go>>;
    if (TRACE) {
      const trips: RequestTrip[] = await traceRequests(async () => { outs = await go(); });
      const by = new Map<string, number[]>();
      for (const t of trips) {
        if (t.comm.startsWith('cprof-client')) (by.get(t.op) ?? by.set(t.op, []).get(t.op)!).push(t.endUs - t.sentUs);
      }
      for (const [op, v] of by) {
        v.sort((a, b) => a - b);
        console.log(`${op}: n ${v.length} p50 ${v[Math.floor(v.length / 2)]!.toFixed(0)} us p90 ${v[Math.floor(v.length * 0.9)]!.toFixed(0)} us`);
      }
    } else outs = await go();
    const ms = Date.now() - t0;
    for (const p of perfs) p.kill('SIGINT');
    await Promise.all(perfs.map((p) => new Promise((r) => p.once('exit', r))));
    for (const o of outs) if (o.code !== 0) throw new Error(o.stderr);
    const lat = outs.flatMap((o) => (JSON.parse(o.stdout) as { lat: number[] }).lat).sort((a, b) => a - b);
    const k = 1000 / (per * nodes.length);
    const d = dp.map((p, i) => Math.round((cpuMs(p) - d0[i]!) * k));
    const c = cp.map((p, i) => Math.round((cpuMs(p) - c0[i]!) * k));
    // where a daemon's CPU goes: its JS thread in user space, the same thread in the kernel, every other thread
    // (V8's compiler and GC helpers, the checkpointer, libuv's pool); threads that ended meanwhile are not counted
    const split = dp.map((p, i) => {
      const a = t0s[i]!, b = threadMs(p);
      return [b.mainUser - a.mainUser, b.mainSys - a.mainSys, b.others - a.others].map((v) => Math.round(v * k));
    });
    console.log(JSON.stringify({
      files: per * nodes.length, writers: nodes.length, filesPerS: Math.round((per * nodes.length * 1000) / ms),
      p50ms: lat[Math.floor(lat.length / 2)]! / 1e6, p99ms: lat[Math.floor(lat.length * 0.99)]! / 1e6,
      daemonCpuPer1000: d, daemonSplitPer1000: split, corosyncCpuPer1000: c, load: readFileSync('/proc/loadavg', 'utf8').trim(),
    }));
  } finally {
    await cluster.destroy();
    await cleanupAll();
    rmSync(client, { force: true });
    for (const id of [1, 2, 3]) rmSync(wrapDir(id), { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
