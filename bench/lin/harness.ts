// Fault cycles on a real cluster (namespaces, corosync, a daemon per node), with clients on every node whose
// operations are recorded and checked for linearizability (bench/lin/checker.ts).
//
// One cycle: clients start on every node (bench/lin/client.ts), one fault is injected and held, then undone
// (heal, restart, SIGCONT), the harness waits until every node is synced, the clients run on a little, stop, and
// every node reads every key. Then:
//   - the history (client ops + the final reads) must be linearizable, per key;
//   - no acknowledged write lost: the final value must not be older than an acknowledged change that began after
//     the final value's own change had completed (the checker rejects these too; this counts them);
//   - every node's tree (listing + content digests) must be the same.
// Reads are local (a node answers from its own tree, like the original): a node cut off from the quorum, frozen,
// or restarted and not caught up yet serves what it has. Those reads ("local reads": on an affected node, invoked
// between the fault and the end of the sync) are left out of the strict check and checked on their own afterwards;
// a cycle where they do not fit is counted as `staleLocalCycles`, not as an anomaly. Every other read is checked
// strictly, also during the fault.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PveCluster } from '../../test/helpers/cluster.js';
import { treeListing } from '../../test/helpers/listing.js';
import { PYTHON, sleep } from '../lib-daemon.js';
import { checkHistory, describeOp, type Op, type Outcome } from './checker.js';
import { CLIENT_PY } from './client.js';

export type FaultKind = 'partition-one' | 'partition-minority' | 'kill-daemon' | 'kill-corosync' | 'freeze';
export const FAULTS: FaultKind[] = ['partition-one', 'partition-minority', 'kill-daemon', 'kill-corosync', 'freeze'];

export interface LinOptions {
  nodes: number;
  cycles: number;
  seed: number;
  clientsPerNode?: number;
  /** ms the clients run before the fault, how long it is held, and after the sync */
  warmMs?: number;
  holdMs?: number;
  coolMs?: number;
  /** start no new cycle after this many seconds (the run reports how many it did) */
  maxSeconds?: number;
  /** staleness allowed to local observations on nodes not affected by the fault (default 100 ms) */
  staleMs?: number;
  log?: (line: string) => void;
}

export interface LinReport {
  nodes: number;
  cycles: number;
  seed: number;
  /** operations recorded, by outcome */
  ops: number;
  ok: number;
  refused: number;
  failed: number;
  unknown: number;
  localReads: number;
  /** reads of a key answered ENOENT while a rename replaced it (keys are never removed): left out, counted */
  enoentReads: number;
  /** cycles whose history no sequential order explains (or the search could not decide: `undecided`) */
  anomalies: number;
  /** cycles that fail the strict check (local observations at their exact times) */
  strictAnomalies: number;
  strictFailures: string[];
  /** the staleness allowed to local observations in the main check, ms */
  staleMs: number;
  /** ops still unanswered when the clients were stopped (after the heal and the sync) and killed 10 s later */
  hungOps: number;
  undecided: number;
  lost: number;
  /** cycles after which two nodes' trees (or final reads) differ */
  divergence: number;
  staleLocalCycles: number;
  faults: Record<string, number>;
  failures: string[];
  seconds: number;
  cycleSeconds: number[];
}

const REGS = ['k0', 'k1', 'k2', 'k3'];
const PLAIN = ['k0', 'k1'];
const CAS = ['k2', 'k3'];

/** CLOCK_MONOTONIC in µs: the clients' time.monotonic_ns() is the same clock. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ClientProc {
  node: number;
  name: string;
  proc: ChildProcess;
  lines: string[];
  stderr: string;
  exited: Promise<void>;
}

type RecordedOp = Op & { node: number; local?: boolean };

function spawnClient(node: number, name: string, mnt: string, seed: number, stop: string): ClientProc {
  const proc = spawn(PYTHON, ['-c', CLIENT_PY, mnt, name, String(seed), stop, PLAIN.join(','), CAS.join(',')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: '/',
  });
  const c: ClientProc = { node, name, proc, lines: [], stderr: '', exited: new Promise((r) => proc.once('close', () => r())) };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    c.lines.push(...parts.filter(Boolean));
  });
  proc.stderr!.on('data', (d: Buffer) => (c.stderr += d.toString()));
  return c;
}

type Line = { e: 'i'; id: string; op: string; k: string; v?: string; frm?: string | null; to?: string } | { e: 'r'; id: string; call: number; ret: number; o: Outcome; v?: string | null; frm?: string | null; to?: string; err?: string } | { e: 'end' };

/** The client's lines as ops; an op invoked but never completed (client killed) is 'unknown'. */
function opsOf(c: ClientProc, enoent: { n: number }, hung: { n: number }): { ops: RecordedOp[]; ended: boolean } {
  const inv = new Map<string, Extract<Line, { e: 'i' }>>();
  const ops: RecordedOp[] = [];
  let ended = false;
  for (const l of c.lines) {
    const d = JSON.parse(l) as Line;
    if (d.e === 'end') ended = true;
    else if (d.e === 'i') inv.set(d.id, d);
    else {
      const i = inv.get(d.id);
      inv.delete(d.id);
      if (!i) continue;
      const base = { key: i.k, call: d.call, ret: d.ret, outcome: d.o, client: `${c.name}#${d.id}${d.err ? ` ${d.err}` : ''}`, node: c.node };
      if (d.o === ('enoent' as Outcome)) {
        enoent.n++;
        continue;
      }
      if (i.op === 'read') ops.push({ ...base, kind: 'read', value: d.v ?? null });
      else if (i.op === 'write') ops.push({ ...base, kind: 'write', value: i.v! });
      else if (i.op === 'cas') ops.push({ ...base, kind: 'cas', from: i.frm ?? null, to: i.to! });
      else if (i.op === 'acquire' || i.op === 'release') ops.push({ ...base, key: `lock:${i.k}`, kind: i.op });
    }
  }
  // invoked, never answered: the client was killed while the call hung
  for (const i of inv.values()) {
    const base = { key: i.k, call: 0, ret: 0, outcome: 'unknown' as Outcome, client: `${c.name}#${i.id} no answer`, node: c.node };
    hung.n++;
    if (i.op === 'write') ops.push({ ...base, kind: 'write', value: i.v! });
    else if (i.op === 'cas') ops.push({ ...base, kind: 'cas', from: i.frm ?? null, to: i.to! });
    else if (i.op === 'acquire' || i.op === 'release') ops.push({ ...base, key: `lock:${i.k}`, kind: i.op });
  }
  return { ops, ended };
}

/** The fault of a cycle, applied; returns the nodes it affects and the function that undoes it. */
async function inject(c: PveCluster, kind: FaultKind, rnd: () => number, log: (s: string) => void): Promise<{ affected: number[]; undo: () => Promise<void> }> {
  const n = c.nodes.length;
  const pick = (k: number): number[] => {
    const ids = c.nodes.map((x) => x.id);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    return ids.slice(0, k).sort();
  };
  switch (kind) {
    case 'partition-one':
    case 'partition-minority': {
      const ids = pick(kind === 'partition-one' ? 1 : Math.max(1, Math.floor((n - 1) / 2)));
      log(`  partition ${ids.join(',')}`);
      c.net.partition(ids);
      return { affected: ids, undo: async () => c.net.heal() };
    }
    case 'kill-daemon': {
      const [id] = pick(1) as [number];
      log(`  SIGKILL daemon ${id}`);
      await c.killDaemon(id);
      return { affected: [id], undo: async () => void (await c.startDaemon(id)) };
    }
    case 'kill-corosync': {
      const [id] = pick(1) as [number];
      log(`  SIGKILL corosync ${id}`);
      await c.net.kill(id);
      return {
        affected: [id],
        undo: async () => {
          c.net.start([id]);
          await c.net.waitQuorate(id, n, 30_000);
        },
      };
    }
    case 'freeze': {
      const [id] = pick(1) as [number];
      const pids = [c.daemon(id).pid, c.net.node(id).proc!.pid!];
      log(`  SIGSTOP node ${id} (daemon and corosync)`);
      for (const p of pids) process.kill(p, 'SIGSTOP');
      return {
        affected: [id],
        undo: async () => {
          for (const p of pids) process.kill(p, 'SIGCONT');
        },
      };
    }
  }
}

function kernelStack(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stack`, 'utf8').split('\n').slice(0, 6).map((l) => l.replace(/^\[<0>\] /, '')).join(' < ');
  } catch {
    return '';
  }
}

/** Lost acknowledged changes of a register: acked changes that began after the final value's change completed. */
function lostOf(ops: RecordedOp[], key: string, final: string | null, initial: string | null): number {
  const changes = ops.filter((o) => o.key === key && (o.kind === 'write' || o.kind === 'cas'));
  const valOf = (o: RecordedOp) => (o.kind === 'write' ? o.value : o.kind === 'cas' ? o.to : null);
  const src = changes.find((o) => valOf(o) === final && o.outcome !== 'failed');
  if (!src && final !== initial) return 1; // a value nobody wrote (or a refused change's value)
  if (src?.outcome === 'unknown') return 0;
  const after = src ? src.ret : -Infinity;
  return changes.filter((o) => o.outcome === 'ok' && o.call > after).length;
}

export async function runLin(opts: LinOptions): Promise<LinReport> {
  const log = opts.log ?? (() => {});
  const rnd = prng(opts.seed);
  const perNode = opts.clientsPerNode ?? 2;
  const warm = opts.warmMs ?? 800;
  const hold = opts.holdMs ?? 2500;
  const cool = opts.coolMs ?? 700;
  const staleUs = (opts.staleMs ?? 100) * 1000;
  const t0 = Date.now();
  const rep: LinReport = {
    nodes: opts.nodes, cycles: 0, seed: opts.seed, ops: 0, ok: 0, refused: 0, failed: 0, unknown: 0, localReads: 0, enoentReads: 0,
    anomalies: 0, strictAnomalies: 0, strictFailures: [], staleMs: opts.staleMs ?? 100, hungOps: 0, undecided: 0, lost: 0, divergence: 0, staleLocalCycles: 0, faults: {}, failures: [], seconds: 0, cycleSeconds: [],
  };
  const work = join(tmpdir(), `pmxcfs-lin-${process.pid}-${opts.seed}`);
  mkdirSync(work, { recursive: true });
  const c = await PveCluster.create({ nodes: opts.nodes });
  const clients: ClientProc[] = [];
  try {
    await c.startAll();
    const m1 = c.mount(1);
    mkdirSync(join(m1, 'lin', 'locks'), { recursive: true });
    const initial: Record<string, string | null> = {};
    for (const k of REGS) {
      writeFileSync(join(m1, 'lin', k), `init-${k}`);
      initial[k] = `init-${k}`;
    }
    await c.waitSynced();
    const order = FAULTS.map((f) => ({ f, r: rnd() })).sort((a, b) => a.r - b.r).map((x) => x.f);
    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      const cs = Date.now();
      if (opts.maxSeconds !== undefined && (cs - t0) / 1000 > opts.maxSeconds) {
        log(`time budget of ${opts.maxSeconds} s used: stopping after ${cycle - 1} cycles`);
        break;
      }
      const kind = order[(cycle - 1) % order.length]!;
      rep.faults[kind] = (rep.faults[kind] ?? 0) + 1;
      log(`cycle ${cycle}/${opts.cycles}: ${kind}`);
      const stop = join(work, `stop-${cycle}`);
      rmSync(stop, { force: true });
      clients.length = 0;
      for (const nd of c.nodes)
        for (let j = 0; j < perNode; j++) clients.push(spawnClient(nd.id, `n${nd.id}c${j}`, c.mount(nd.id), Math.floor(rnd() * 2 ** 31), stop));
      await sleep(warm);
      const faultAt = monotonicUs();
      const f = await inject(c, kind, rnd, log);
      await sleep(hold);
      await f.undo();
      try {
        // the clients are still running: versions read one node after the other never match
        await c.waitSynced(c.nodes.map((x) => x.id), 60_000, true);
      } catch (e) {
        // the nodes did not converge: record why (each daemon's last cluster log lines) and end the run
        rep.divergence++;
        rep.failures.push(`cycle ${cycle} (${kind}): ${(e as Error).message}`);
        for (const nd of c.nodes) {
          const lines = nd.daemon?.log().split('\n').filter((l) => /"module":"cluster"/.test(l)).slice(-15) ?? [];
          rep.failures.push(`  node ${nd.id} daemon log:\n    ${lines.join('\n    ')}`);
        }
        log(`  NOT SYNCED: ${(e as Error).message}`);
        break;
      }
      const syncedAt = monotonicUs();
      await sleep(cool);
      writeFileSync(stop, '');
      const ended = await Promise.race([Promise.all(clients.map((x) => x.exited)).then(() => true), sleep(10_000).then(() => false)]);
      if (!ended) {
        rep.failures.push(`cycle ${cycle} (${kind}): clients still running 10 s after the stop: ${clients.filter((x) => x.proc.exitCode === null).map((x) => x.name).join(',')}`);
        // where they hang, for the report: the clients' kernel stacks, and daemon threads stuck in the kernel
        for (const x of clients) if (x.proc.exitCode === null) rep.failures.push(`  ${x.name} hangs in: ${kernelStack(x.proc.pid!)}`);
        for (const nd of c.nodes) {
          if (!nd.daemon) continue;
          for (const t of readdirSync(`/proc/${nd.daemon.pid}/task`)) {
            const st = kernelStack(Number(t));
            if (st && !/ep_poll|futex_wait/.test(st)) rep.failures.push(`  node ${nd.id} daemon thread ${t} in: ${st}`);
          }
        }
        for (const x of clients) if (x.proc.exitCode === null) x.proc.kill('SIGKILL');
        await Promise.all(clients.map((x) => x.exited));
      }
      const ops: RecordedOp[] = [];
      for (const x of clients) {
        const en = { n: 0 };
        const hung = { n: 0 };
        const { ops: o, ended: e } = opsOf(x, en, hung);
        rep.enoentReads += en.n;
        rep.hungOps += hung.n;
        if (!e && ended) rep.failures.push(`cycle ${cycle}: client ${x.name} died: ${x.stderr.slice(-500)}`);
        ops.push(...o);
      }
      for (const o of ops) {
        if (o.kind === 'read' && f.affected.includes(o.node) && o.call >= faultAt && o.call <= syncedAt) o.local = true;
      }
      // final reads of every key on every node, after the sync
      const finals: Record<string, (string | null)[]> = {};
      for (const k of REGS) {
        finals[k] = [];
        for (const nd of c.nodes) {
          const call = monotonicUs();
          let v: string | null = null;
          try {
            v = readFileSync(join(c.mount(nd.id), 'lin', k), 'utf8');
          } catch {
            v = null;
          }
          ops.push({ kind: 'read', key: k, value: v, call, ret: monotonicUs(), outcome: 'ok', client: `final@n${nd.id}`, node: nd.id });
          finals[k]!.push(v);
        }
      }
      const listings = c.nodes.map((nd) => treeListing(c.mount(nd.id)).join('\n'));
      const diverged = listings.some((l) => l !== listings[0]) || REGS.some((k) => finals[k]!.some((v) => v !== finals[k]![0]));
      if (diverged) {
        rep.divergence++;
        rep.failures.push(`cycle ${cycle} (${kind}): trees differ between nodes`);
      }
      for (const o of ops) {
        rep.ops++;
        rep[o.outcome]++;
        if (o.local) rep.localReads++;
      }
      // strict: every op at its recorded times (only reads on affected nodes during the fault left out)
      const strict = ops.filter((o) => !o.local);
      const strictRes = checkHistory(strict, initial);
      if (!strictRes.ok) {
        rep.strictAnomalies++;
        for (const k of strictRes.keys.filter((x) => !x.ok)) rep.strictFailures.push(`cycle ${cycle} (${kind}, seed ${opts.seed}): ${k.key}: ${k.stuckAt ? describeOp(k.stuckAt) : '?'}`);
      }
      // local observations: reads and EEXIST/ENOENT answers are served from the node's own tree, which may lag the
      // node that acknowledged a change by a few ms; they may see a state up to staleMs old. Observations of
      // affected nodes during the fault are left out; updates keep their exact times.
      const obs = (o: RecordedOp) => o.kind === 'read' || o.outcome === 'refused';
      const relaxed = ops
        .filter((o) => !(obs(o) && f.affected.includes(o.node) && o.call >= faultAt && o.call <= syncedAt))
        .map((o) => (obs(o) && !o.client?.startsWith('final@') ? { ...o, call: o.call - staleUs } : o));
      const res = checkHistory(relaxed, initial);
      if (!res.ok) {
        rep.anomalies++;
        for (const k of res.keys.filter((x) => !x.ok)) {
          if (k.undecided) rep.undecided++;
          const around = relaxed
            .filter((o) => o.key === k.key && o.outcome !== 'failed')
            .sort((a, b) => a.call - b.call)
            .map((o) => `    ${describeOp(o)}`);
          rep.failures.push(
            `cycle ${cycle} (${kind}, seed ${opts.seed}): key ${k.key} not linearizable${k.undecided ? ' (undecided: search budget)' : ''}; stuck at ${k.stuckAt ? describeOp(k.stuckAt) : '?'}; fault at ${faultAt}, synced at ${syncedAt}\n${around.join('\n')}`,
          );
        }
      } else if (ops.some((o) => o.local)) {
        if (!checkHistory(ops, initial).ok) rep.staleLocalCycles++;
      }
      for (const k of REGS) {
        const l = lostOf(ops, k, finals[k]![0] ?? null, initial[k] ?? null);
        if (l) {
          rep.lost += l;
          rep.failures.push(`cycle ${cycle} (${kind}): ${l} acknowledged change(s) of ${k} lost; final ${JSON.stringify(finals[k]![0])}`);
        }
        initial[k] = finals[k]![0] ?? null;
      }
      // reset between cycles: locks released, tmp files gone (not part of any history)
      for (const k of CAS) {
        try {
          rmdirSync(join(m1, 'lin', 'locks', k));
        } catch {
          /* not held */
        }
      }
      for (const name of readdirSync(join(m1, 'lin'))) if (name.startsWith('.tmp-')) unlinkSync(join(m1, 'lin', name));
      await c.waitSynced();
      rep.cycles++;
      rep.cycleSeconds.push((Date.now() - cs) / 1000);
      log(`  ops ${ops.length}, local reads ${ops.filter((o) => o.local).length}, ${strictRes.ok ? 'strictly linearizable' : 'not strictly linearizable'}, ${res.ok ? 'linearizable with stale local reads' : 'NOT LINEARIZABLE'}${diverged ? ', DIVERGED' : ''} (${((Date.now() - cs) / 1000).toFixed(1)} s)`);
      if (!existsSync(join(m1, 'lin', 'k0'))) throw new Error('lin/k0 vanished');
    }
  } finally {
    for (const x of clients) if (x.proc.exitCode === null && x.proc.signalCode === null) x.proc.kill('SIGKILL');
    await Promise.all(clients.map((x) => x.exited));
    // a frozen node must not stay frozen (the teardown would hang on its mount)
    for (const nd of c.nodes) {
      try {
        if (nd.daemon) process.kill(nd.daemon.pid, 'SIGCONT');
        const p = c.net.node(nd.id).proc?.pid;
        if (p) process.kill(p, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
    rep.seconds = (Date.now() - t0) / 1000;
  }
  return rep;
}
