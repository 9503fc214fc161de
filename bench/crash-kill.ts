// Crash safety in local mode, by numbers: several writers change files through the mount (new files, overwrites,
// appends, tmp + rename, unlink, mkdir/rmdir locks) and print each change before they start it and after it was
// acknowledged; the daemon is killed (SIGKILL, or SIGTERM with --signal TERM) at a random moment, restarted on the
// same database, and every writer's directory is compared with what the writers were told:
//   - every acknowledged change is there with its exact content,
//   - a change in flight at the kill is either wholly there or not at all (a new file may be there empty: its
//     create is one change and its content the next), nothing half-written,
//   - the restart succeeded (the start-up check of the rows passed), SQLite's integrity_check says ok, the daemon
//     logged no error;
//   - with SIGTERM: the daemon exited 0 within the unit's TimeoutStopSec, and the mount is gone.
// Bounded: stops after --kills cycles (or at the first failure, which it prints with the seed).
//
//   node dist/bench/crash-kill.js [--kills 1000] [--writers 4] [--seed N] [--signal KILL|TERM] [--backend native]
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { availableBackends, cleanupAll, isMounted, makeStateDir, PYTHON, py, ROOT, sleep, startDaemon, type Daemon } from './lib-daemon.js';
import { arg } from './args.js';

export interface CrashOptions {
  kills: number;
  writers: number;
  seed: number;
  signal: 'KILL' | 'TERM';
  backend: string;
  /** files per writer */
  files?: number;
  /** ms range of the run before the kill */
  minRunMs?: number;
  maxRunMs?: number;
  log?: (line: string) => void;
}

export interface CrashReport {
  cycles: number;
  signal: string;
  backend: string;
  seed: number;
  acknowledged: number;
  inFlightAtKill: number;
  lost: number;
  halfWritten: number;
  unexpected: number;
  startFailures: number;
  integrityFailures: number;
  errorsLogged: number;
  maxStopMs: number;
  stopTimeouts: number;
  mountLeft: number;
  /** what the writers' calls in flight got when the daemon went away (the kernel's answers), by errno */
  errnoAfterKill: Record<string, number>;
  failures: string[];
  seconds: number;
}

/** mulberry32: small, seeded, good enough to pick moments and operations */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The content a writer writes for (writer, file, seq, length): distinct for every change, checkable byte by byte. */
export function content(w: number, f: string, seq: number, len: number): string {
  const unit = `${w}/${f}/${seq};`;
  return unit.repeat(Math.ceil(len / unit.length)).slice(0, len);
}

/** TimeoutStopSec of scripts/pve-cluster.service (seconds). */
export function unitStopTimeout(): number {
  const m = /^TimeoutStopSec=(\d+)/m.exec(readFileSync(join(ROOT, 'scripts', 'pve-cluster.service'), 'utf8'));
  return m ? Number(m[1]) : 90;
}

// One writer: WRITER seed dir lockdir seq0 nfiles. It reads its directory, then changes it until an error
// (the daemon went away). Lines: "B seq kind file len" before, "A seq" after the change was acknowledged.
const WRITER = `
import os, sys, random, errno, time
w, seed, mnt, seq, nfiles = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
d, lockdir = 'sect-w%d' % w, 'priv/lock/sect-w%d' % w
rnd = random.Random(seed)
def content(f, s, n):
    u = '%d/%s/%d;' % (w, f, s)
    return (u * (n // len(u) + 1))[:n].encode()
def wr(fd, data):
    off = 0
    while off < len(data):
        n = rnd.randint(1, 9000)
        off += os.write(fd, data[off:off+n])
names = ['f%d' % i for i in range(nfiles)]
out = sys.stdout
try:
    # relative paths from a working directory inside the mount: once the daemon is gone every call fails (ENOTCONN)
    # instead of writing into the directory underneath the mount point
    os.chdir(mnt)
    if not os.path.exists('.version'): raise OSError(errno.ENOTCONN, 'not mounted')
    os.makedirs(d, exist_ok=True)
    have = set(n for n in os.listdir(d) if n.startswith('f'))
    locked = os.path.isdir(lockdir)
    while True:
        seq += 1
        k = rnd.random()
        n = rnd.randint(1, 6000)
        if locked or k < 0.08:
            out.write('B %d %s %s 0\\n' % (seq, 'unlock' if locked else 'lock', '-')); out.flush()
            (os.rmdir if locked else os.mkdir)(lockdir)
            locked = not locked
        else:
            f = rnd.choice(names)
            if f not in have: kind = 'new' if k < 0.6 else 'rename'
            elif k < 0.4: kind = 'over'
            elif k < 0.6: kind = 'append'
            elif k < 0.85: kind = 'rename'
            else: kind = 'unlink'
            out.write('B %d %s %s %d\\n' % (seq, kind, f, n)); out.flush()
            p = os.path.join(d, f)
            if kind == 'new':
                fd = os.open(p, os.O_WRONLY|os.O_CREAT|os.O_EXCL, 0o640); wr(fd, content(f, seq, n)); os.close(fd); have.add(f)
            elif kind == 'over':
                fd = os.open(p, os.O_WRONLY|os.O_TRUNC); wr(fd, content(f, seq, n)); os.close(fd)
            elif kind == 'append':
                fd = os.open(p, os.O_WRONLY|os.O_APPEND); wr(fd, content(f, seq, n)); os.close(fd)
            elif kind == 'rename':
                t = os.path.join(d, '.tmp%d' % seq)
                fd = os.open(t, os.O_WRONLY|os.O_CREAT|os.O_EXCL, 0o640); wr(fd, content(f, seq, n)); os.close(fd)
                os.rename(t, p); have.add(f)
            else:
                os.unlink(p); have.discard(f)
        out.write('A %d\\n' % seq); out.flush()
except OSError as e:
    out.write('E %d %s %d\\n' % (seq, errno.errorcode.get(e.errno, str(e.errno)), int(time.time() * 1000))); out.flush()
`;

interface Pending {
  seq: number;
  kind: string;
  file: string;
  len: number;
}

interface WriterModel {
  files: Map<string, string>;
  locked: boolean;
  seq: number;
}

interface WriterRun {
  child: ChildProcess;
  pending: Pending | null;
  acked: number;
  errors: string[];
  failed: { seq: number; code: string; at: number; kind: string } | null;
  exited: Promise<void>;
}

function startWriter(w: number, m: WriterModel, mnt: string, seed: number, files: number): WriterRun {
  const child = spawn(PYTHON, ['-c', WRITER, String(w), String(seed), mnt, String(m.seq), String(files)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: WriterRun = { child, pending: null, acked: 0, errors: [], failed: null, exited: new Promise((r) => child.on('close', () => r())) };
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const [t, a, b, c, e] = l.split(' ');
      if (t === 'B') run.pending = { seq: Number(a), kind: b!, file: c!, len: Number(e) };
      else if (t === 'A') {
        const p = run.pending!;
        if (Number(a) !== p.seq) run.errors.push(`writer ${w}: ack ${a} for pending ${p.seq}`);
        applyAck(w, m, p);
        m.seq = p.seq;
        run.pending = null;
        run.acked++;
      } else if (t === 'E') {
        // the change stays in flight; an error before the kill is a failure, after it the kernel's answer
        run.failed = { seq: Number(a), code: b!, at: Number(c), kind: run.pending?.kind ?? 'start' };
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => run.errors.push(`writer ${w} stderr: ${d.trim()}`));
  return run;
}

function applyAck(w: number, m: WriterModel, p: Pending): void {
  const c = content(w, p.file, p.seq, p.len);
  switch (p.kind) {
    case 'lock': m.locked = true; break;
    case 'unlock': m.locked = false; break;
    case 'new': case 'over': case 'rename': m.files.set(p.file, c); break;
    case 'append': m.files.set(p.file, (m.files.get(p.file) ?? '') + c); break;
    case 'unlink': m.files.delete(p.file); break;
  }
}

/** What each entry of a writer's directory may hold after a restart, given an in-flight change. */
function allowedStates(w: number, m: WriterModel, p: Pending | null): { files: Map<string, (string | null)[]>; tmp: string | null; tmpOk: (string | null)[]; lock: boolean[] } {
  const files = new Map<string, (string | null)[]>();
  for (const [f, c] of m.files) files.set(f, [c]);
  let lock = [m.locked];
  let tmp: string | null = null;
  let tmpOk: (string | null)[] = [null];
  if (p) {
    const c = content(w, p.file, p.seq, p.len);
    const old = m.files.get(p.file) ?? null;
    const add = (...v: (string | null)[]) => files.set(p.file, [old, ...v]);
    switch (p.kind) {
      case 'lock': case 'unlock': lock = [true, false]; break;
      case 'new': add('', c); break;
      case 'over': add(c); break;
      case 'append': add((old ?? '') + c); break;
      case 'unlink': add(null); break;
      case 'rename': add(c); tmp = `.tmp${p.seq}`; tmpOk = [null, '', c]; break;
    }
  }
  return { files, tmp, tmpOk, lock };
}

interface Seen {
  files: Record<string, string>;
  lock: boolean;
}

async function readWriterDirs(d: Daemon, writers: number): Promise<Seen[]> {
  const r = await py(`
out = []
for w in range(${writers}):
    d = os.path.join(${JSON.stringify(d.mnt)}, 'sect-w%d' % w)
    files = {}
    if os.path.isdir(d):
        for n in os.listdir(d): files[n] = R(os.path.join(d, n)).decode('latin1')
    out.append({'files': files, 'lock': os.path.isdir(os.path.join(${JSON.stringify(d.mnt)}, 'priv', 'lock', 'sect-w%d' % w))})
print(json.dumps(out))
`, { timeout: 30_000 });
  if (r.code !== 0) throw new Error(`reading the writers' directories failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Seen[];
}

const show = (s: string | null | undefined): string => (s === null || s === undefined ? 'absent' : `${s.length} bytes ${JSON.stringify(s.slice(0, 24))}`);

export async function runCrashCycles(o: CrashOptions): Promise<CrashReport> {
  const t0 = Date.now();
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const rnd = prng(o.seed);
  const nfiles = o.files ?? 6;
  const stopLimitMs = unitStopTimeout() * 1000;
  const rep: CrashReport = {
    cycles: 0, signal: o.signal, backend: o.backend, seed: o.seed, acknowledged: 0, inFlightAtKill: 0, lost: 0, halfWritten: 0,
    unexpected: 0, startFailures: 0, integrityFailures: 0, errorsLogged: 0, maxStopMs: 0, stopTimeouts: 0, mountLeft: 0, errnoAfterKill: {}, failures: [], seconds: 0,
  };
  const models: WriterModel[] = Array.from({ length: o.writers }, () => ({ files: new Map(), locked: false, seq: 0 }));
  const state = makeStateDir();
  let d: Daemon | null = null;
  const fail = (msg: string) => {
    rep.failures.push(`cycle ${rep.cycles} (seed ${o.seed}): ${msg}`);
    log(`FAIL cycle ${rep.cycles}: ${msg}`);
  };
  try {
    d = await startDaemon({ backend: o.backend, dir: state.dir });
    for (let cycle = 1; cycle <= o.kills && rep.failures.length === 0; cycle++) {
      rep.cycles = cycle;
      const runs = models.map((m, w) => startWriter(w, m, d!.mnt, Math.floor(rnd() * 2 ** 31), nfiles));
      const runMs = (o.minRunMs ?? 30) + rnd() * ((o.maxRunMs ?? 700) - (o.minRunMs ?? 30));
      await sleep(runMs);
      // the kill
      const tKill = Date.now();
      if (o.signal === 'KILL') {
        await d.kill('SIGKILL');
      } else {
        process.kill(d.pid, 'SIGTERM');
        const code = await Promise.race([d.exited, sleep(stopLimitMs).then(() => -1)]);
        const ms = Date.now() - tKill;
        rep.maxStopMs = Math.max(rep.maxStopMs, ms);
        if (code === -1) {
          rep.stopTimeouts++;
          fail(`SIGTERM: still running after TimeoutStopSec (${stopLimitMs} ms)`);
          await d.kill('SIGKILL');
        } else if (code !== 0) fail(`SIGTERM: exit code ${code}`);
        if (isMounted(d.mnt)) {
          rep.mountLeft++;
          fail('SIGTERM: the mount is still there after the exit');
        }
      }
      if (/"level":(50|60)/.test(d.log())) {
        rep.errorsLogged++;
        fail(`the daemon logged an error: ${d.log().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(0, 3).join(' | ')}`);
      }
      for (const r of runs) {
        if ((await Promise.race([r.exited.then(() => true), sleep(10_000).then(() => false)])) === false) {
          r.child.kill('SIGKILL');
          fail('a writer hung after the daemon stopped');
          await r.exited;
        }
      }
      // restart on the same database (a stale mount is cleared by the new daemon)
      try {
        d = await startDaemon({ backend: o.backend, dir: state.dir, timeout: 20_000 });
      } catch (err) {
        rep.startFailures++;
        fail(`restart failed: ${(err as Error).message}`);
        break;
      }
      // what the writers were told against what is there
      const seen = await readWriterDirs(d, o.writers);
      let acked = 0;
      for (let w = 0; w < o.writers; w++) {
        const r = runs[w]!;
        acked += r.acked;
        for (const e of r.errors) fail(e);
        if (r.failed) {
          const f = r.failed;
          if (f.at < tKill) fail(`writer ${w}: ${f.kind} (seq ${f.seq}) failed with ${f.code} ${tKill - f.at} ms before the kill`);
          else rep.errnoAfterKill[f.code] = (rep.errnoAfterKill[f.code] ?? 0) + 1;
        }
        if (r.pending) rep.inFlightAtKill++;
        const allowed = allowedStates(w, models[w]!, r.pending);
        const s = seen[w]!;
        if (!allowed.lock.includes(s.lock)) {
          rep.lost++;
          fail(`writer ${w}: lock ${s.lock ? 'held' : 'free'}, expected ${allowed.lock.join(' or ')}`);
        }
        for (const name of new Set([...allowed.files.keys(), ...Object.keys(s.files)])) {
          const got = s.files[name] ?? null;
          if (name === allowed.tmp) {
            if (!allowed.tmpOk.includes(got)) {
              rep.halfWritten++;
              fail(`writer ${w}: ${name} holds ${show(got)}`);
            }
            continue;
          }
          const ok = allowed.files.get(name);
          if (!ok) {
            rep.unexpected++;
            fail(`writer ${w}: unexpected entry ${name} (${show(got)})`);
            continue;
          }
          if (!ok.includes(got)) {
            const ackedOnly = ok.length === 1;
            if (ackedOnly) rep.lost++;
            else rep.halfWritten++;
            fail(`writer ${w}: ${name} holds ${show(got)}, expected ${ok.map(show).join(' or ')}${r.pending ? ` (in flight: ${r.pending.kind} ${r.pending.file} seq ${r.pending.seq})` : ''}`);
          }
        }
        // what is there now is the model of the next cycle; a left-over tmp file is removed
        const m = models[w]!;
        m.files = new Map(Object.entries(s.files).filter(([n]) => n !== allowed.tmp));
        m.locked = s.lock;
        if (r.pending) m.seq = r.pending.seq;
        if (allowed.tmp && s.files[allowed.tmp] !== undefined) await d.sh(`rm -f ${join(d.mnt, `sect-w${w}`, allowed.tmp)}`);
      }
      rep.acknowledged += acked;
      // SQLite's own check, through a second connection while the daemon runs (as an admin would)
      try {
        const db = new Database(d.db, { fileMustExist: true, timeout: 2000 });
        const res = db.pragma('integrity_check', { simple: true });
        db.close();
        if (res !== 'ok') {
          rep.integrityFailures++;
          fail(`integrity_check: ${String(res)}`);
        }
      } catch (err) {
        rep.integrityFailures++;
        fail(`integrity_check failed: ${(err as Error).message}`);
      }
      if (cycle % 10 === 0 || cycle === o.kills || rep.failures.length) {
        log(`cycle ${cycle}/${o.kills}: ${rep.acknowledged} acknowledged, ${rep.inFlightAtKill} in flight at the kill, ${rep.failures.length} failures${o.signal === 'TERM' ? `, max stop ${rep.maxStopMs} ms` : ''}`);
      }
    }
    if (d) await d.stop();
  } finally {
    await cleanupAll();
    rep.seconds = Math.round((Date.now() - t0) / 1000);
  }
  return rep;
}

async function main(): Promise<void> {
  const backends = availableBackends();
  const rep = await runCrashCycles({
    kills: Number(arg('--kills', '100')),
    writers: Number(arg('--writers', '4')),
    seed: Number(arg('--seed', String(Date.now() % 1_000_000))),
    signal: arg('--signal', 'KILL') === 'TERM' ? 'TERM' : 'KILL',
    backend: arg('--backend', backends.includes('native') ? 'native' : 'fuse-native'),
  });
  process.stdout.write(JSON.stringify(rep, null, 1) + '\n');
  process.exit(rep.failures.length ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
