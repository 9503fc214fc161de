// Model checking of the filesystem: seeded random sequences of operations (create, open with O_TRUNC/O_APPEND/O_EXCL,
// writes at offsets, appends, reads through handles, truncate, ftruncate, rename, unlink, mkdir, rmdir, chmod, utime,
// stat, whole-file reads) from several processes through a real mount, compared after every step with a model of
// docs/FILESYSTEM.md: each operation's result (errno, bytes read, stat) and then the whole tree. On a mismatch it
// prints the seed and the shortest sequence that still fails (greedy shrinking, each attempt in a fresh directory).
//
//   node dist/bench/model-check.js [--seeds 100] [--ops 200] [--procs 3] [--seed N] [--backend native]
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { prng } from './crash-kill.js';
import { availableBackends, cleanupAll, PYTHON, startDaemon, type Daemon } from './lib-daemon.js';
import { arg } from './args.js';

// ---------------------------------------------------------------- operations

export type Op =
  | { k: 'open'; w: number; h: number; p: string; creat: boolean; excl: boolean; trunc: boolean; append: boolean; acc: 'r' | 'w' | 'rw' }
  | { k: 'pwrite'; w: number; h: number; o: number; d: string }
  | { k: 'write'; w: number; h: number; d: string }
  | { k: 'pread'; w: number; h: number; o: number; n: number }
  | { k: 'ftruncate'; w: number; h: number; n: number }
  | { k: 'fsync'; w: number; h: number }
  | { k: 'close'; w: number; h: number }
  | { k: 'readfile'; w: number; p: string }
  | { k: 'truncate'; w: number; p: string; n: number }
  | { k: 'rename'; w: number; a: string; b: string }
  | { k: 'unlink'; w: number; p: string }
  | { k: 'mkdir'; w: number; p: string }
  | { k: 'rmdir'; w: number; p: string }
  | { k: 'chmod'; w: number; p: string; m: number }
  | { k: 'utime'; w: number; p: string; t: number }
  | { k: 'stat'; w: number; p: string };

export interface Result {
  e: string;
  r?: unknown;
}

const FILES = ['x', 'y', 'a/x', 'a/y', 'b/x', 'a/c/z'];
const DIRS = ['a', 'b', 'a/c'];
const ALL = [...FILES, ...DIRS];

// ---------------------------------------------------------------- the model (docs/FILESYSTEM.md)

interface MEntry {
  id: number;
  dir: boolean;
  data: Buffer;
  /** known mtime (set by utime), null when it is "the time of the last change" */
  mtime: number | null;
}

interface MHandle {
  w: number;
  id: number;
  dir: boolean;
  readable: boolean;
  writable: boolean;
  append: boolean;
  base: Buffer;
  buf: Buffer | null;
  wrote: boolean;
}

const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

export class Model {
  readonly tree = new Map<string, MEntry>();
  readonly handles = new Map<number, MHandle>();
  private nextId = 1;
  /** the last op's effect arrives with the kernel's asynchronous release */
  released = false;

  private byId(id: number): [string, MEntry] | undefined {
    for (const e of this.tree) if (e[1].id === id) return e;
    return undefined;
  }

  /** ENOENT / ENOTDIR for the path's parent, '' when it is a directory (the test root is one) */
  private parentErr(p: string): string {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const e = this.tree.get(parts.slice(0, i).join('/'));
      if (!e) return 'ENOENT';
      if (!e.dir) return 'ENOTDIR';
    }
    return '';
  }

  private lookup(p: string): { err: string; e?: MEntry } {
    const pe = this.parentErr(p);
    if (pe) return { err: pe };
    const e = this.tree.get(p);
    return e ? { err: '', e } : { err: 'ENOENT' };
  }

  private empty(p: string): boolean {
    for (const k of this.tree.keys()) if (k.startsWith(p + '/')) return false;
    return true;
  }

  /** is an entry (by id) held open by any handle? */
  held(p: string): boolean {
    const e = this.tree.get(p);
    if (!e) return false;
    for (const h of this.handles.values()) if (h.id === e.id) return true;
    return false;
  }

  apply(op: Op): Result {
    switch (op.k) {
      case 'open': {
        const l = this.lookup(op.p);
        if (l.err === 'ENOTDIR' || (l.err === 'ENOENT' && this.parentErr(op.p))) return { e: l.err };
        const writable = op.acc !== 'r';
        let e = l.e;
        if (e && op.creat && op.excl) return { e: 'EEXIST' };
        if (!e) {
          if (!op.creat) return { e: 'ENOENT' };
          e = { id: this.nextId++, dir: false, data: Buffer.alloc(0), mtime: null };
          this.tree.set(op.p, e);
        } else if (e.dir && (writable || op.creat)) return { e: 'EISDIR' };
        const h: MHandle = { w: op.w, id: e.id, dir: e.dir, readable: op.acc !== 'w', writable, append: op.append, base: e.data, buf: null, wrote: false };
        if (writable && op.trunc && !e.dir) h.buf = Buffer.alloc(0);
        this.handles.set(op.h, h);
        return { e: 'OK' };
      }
      case 'pwrite': case 'write': {
        const h = this.handles.get(op.h)!;
        if (!h.writable) return { e: 'EBADF' };
        const node = this.byId(h.id);
        if (!h.buf) h.buf = Buffer.from(node ? node[1].data : h.base);
        const d = Buffer.from(op.d, 'latin1');
        const at = h.append ? h.buf.length : op.k === 'pwrite' ? op.o : 0;
        const end = Math.max(h.buf.length, at + d.length);
        const nb = Buffer.alloc(end);
        h.buf.copy(nb);
        d.copy(nb, at);
        h.buf = nb;
        h.wrote = true;
        return { e: 'OK', r: d.length };
      }
      case 'pread': {
        const h = this.handles.get(op.h)!;
        if (h.dir) return { e: 'EISDIR' };
        if (!h.readable) return { e: 'EBADF' };
        const c = h.buf ?? h.base;
        return { e: 'OK', r: c.subarray(Math.min(op.o, c.length), Math.min(c.length, op.o + op.n)).toString('latin1') };
      }
      case 'ftruncate': {
        const h = this.handles.get(op.h)!;
        if (!h.writable) return { e: 'EINVAL' };
        const node = this.byId(h.id);
        const cur = h.buf ?? (node ? node[1].data : h.base);
        const nb = Buffer.alloc(op.n);
        cur.copy(nb, 0, 0, Math.min(cur.length, op.n));
        h.buf = nb;
        return { e: 'OK' };
      }
      case 'fsync': case 'close': {
        const h = this.handles.get(op.h)!;
        // close commits what the opener wrote; a truncation alone is committed by the release that follows the
        // last close (sent by the kernel after close() returned: the runner waits for it)
        const commit = h.buf !== null;
        if (op.k === 'close' && commit && !h.wrote) this.released = true;
        if (commit && h.buf) {
          const node = this.byId(h.id);
          if (node) {
            node[1].data = h.buf;
            node[1].mtime = null;
            h.base = h.buf;
          }
          h.buf = null;
          h.wrote = false;
        }
        if (op.k === 'close') this.handles.delete(op.h);
        return { e: 'OK' };
      }
      case 'readfile': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        if (l.e!.dir) return { e: 'EISDIR' };
        return { e: 'OK', r: l.e!.data.toString('latin1') };
      }
      case 'truncate': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        if (l.e!.dir) return { e: 'EISDIR' };
        const nb = Buffer.alloc(op.n);
        l.e!.data.copy(nb, 0, 0, Math.min(op.n, l.e!.data.length));
        l.e!.data = nb;
        l.e!.mtime = null;
        return { e: 'OK' };
      }
      case 'unlink': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        if (l.e!.dir) return { e: 'EISDIR' };
        this.tree.delete(op.p);
        return { e: 'OK' };
      }
      case 'mkdir': {
        const pe = this.parentErr(op.p);
        if (pe) return { e: pe };
        if (this.tree.has(op.p)) return { e: 'EEXIST' };
        this.tree.set(op.p, { id: this.nextId++, dir: true, data: Buffer.alloc(0), mtime: null });
        return { e: 'OK' };
      }
      case 'rmdir': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        if (!l.e!.dir) return { e: 'ENOTDIR' };
        if (!this.empty(op.p)) return { e: 'ENOTEMPTY' };
        this.tree.delete(op.p);
        return { e: 'OK' };
      }
      case 'rename': {
        // the kernel resolves both parents before it looks up the source
        const sp = this.parentErr(op.a);
        if (sp) return { e: sp };
        const tp = this.parentErr(op.b);
        if (tp) return { e: tp };
        const s = this.lookup(op.a);
        if (s.err) return { e: s.err };
        const src = s.e!;
        if (op.a === op.b) return { e: 'OK' };
        // the kernel: a directory into its own subtree; a target that is an ancestor of the source
        if (op.b.startsWith(op.a + '/')) return { e: 'EINVAL' };
        if (op.a.startsWith(op.b + '/')) return { e: 'ENOTEMPTY' };
        const t = this.tree.get(op.b);
        if (t) {
          if (src.dir && !t.dir) return { e: 'ENOTDIR' };
          if (!src.dir && t.dir) return { e: 'EISDIR' };
        }
        // the daemon: a directory moves only while it is empty; a target directory is replaced only when empty
        if (src.dir && !this.empty(op.a)) return { e: 'ENOTEMPTY' };
        if (t && t.dir && !this.empty(op.b)) return { e: 'ENOTEMPTY' };
        this.tree.delete(op.a);
        this.tree.set(op.b, src);
        return { e: 'OK' };
      }
      case 'chmod': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        return { e: op.m === (l.e!.dir ? 0o755 : 0o640) ? 'OK' : 'EPERM' };
      }
      case 'utime': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        l.e!.mtime = op.t;
        return { e: 'OK' };
      }
      case 'stat': {
        const l = this.lookup(op.p);
        if (l.err) return { e: l.err };
        return { e: 'OK', r: [l.e!.dir ? 'd' : 'f', l.e!.dir ? 0 : l.e!.data.length, l.e!.mtime] };
      }
    }
  }

  /** The committed tree: path -> [type, content or null, known mtime] */
  snapshot(): Record<string, [string, string | null, number | null]> {
    const out: Record<string, [string, string | null, number | null]> = {};
    for (const [p, e] of [...this.tree].sort(([a], [b]) => (a < b ? -1 : 1))) out[p] = [e.dir ? 'd' : 'f', e.dir ? null : e.data.toString('latin1'), e.mtime];
    return out;
  }
}

// ---------------------------------------------------------------- generation


/** A random op sequence valid for the model (handles exist when used; nothing removes an entry held open). */
export function generate(seed: number, nops: number, procs: number): Op[] {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const model = new Model();
  const ops: Op[] = [];
  let nextH = 1;
  const text = () => {
    const n = 1 + Math.floor(rnd() * 12);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(rnd() * 26));
    return s;
  };
  const push = (op: Op) => {
    ops.push(op);
    model.apply(op);
  };
  while (ops.length < nops) {
    const w = Math.floor(rnd() * procs);
    const mine = [...model.handles].filter(([, h]) => h.w === w).map(([id]) => id);
    const r = rnd();
    if (r < 0.2 && mine.length < 3) {
      const acc = pick(['r', 'w', 'w', 'rw'] as const);
      const op: Op = { k: 'open', w, h: nextH++, p: pick(FILES), creat: rnd() < 0.6, excl: rnd() < 0.2, trunc: acc !== 'r' && rnd() < 0.3, append: acc !== 'r' && rnd() < 0.3, acc };
      push(op);
      // a truncation alone is committed at release, which the kernel sends after close() returned: always write too
      if (model.handles.has(op.h) && op.trunc) push({ k: 'pwrite', w, h: op.h, o: 0, d: text() });
    } else if (r < 0.5 && mine.length) {
      const h = pick(mine);
      const mh = model.handles.get(h)!;
      const q = rnd();
      if (q < 0.3 && mh.writable && !mh.dir) push(mh.append ? { k: 'write', w, h, d: text() } : { k: 'pwrite', w, h, o: Math.floor(rnd() * 20), d: text() });
      else if (q < 0.45 && mh.readable) push({ k: 'pread', w, h, o: Math.floor(rnd() * 8), n: 1 + Math.floor(rnd() * 30) });
      else if (q < 0.55 && mh.writable && !mh.dir) {
        push({ k: 'ftruncate', w, h, n: Math.floor(rnd() * 16) });
        push({ k: 'pwrite', w, h, o: Math.floor(rnd() * 10), d: text() });
      } else if (q < 0.62) push({ k: 'fsync', w, h });
      else push({ k: 'close', w, h });
    } else {
      const q = rnd();
      const p = pick(ALL);
      if (q < 0.2) push({ k: 'readfile', w, p });
      else if (q < 0.3) push({ k: 'stat', w, p });
      else if (q < 0.4) push({ k: 'truncate', w, p, n: Math.floor(rnd() * 24) });
      else if (q < 0.55) push({ k: 'mkdir', w, p: pick(DIRS) });
      else if (q < 0.62) push({ k: 'rmdir', w, p });
      else if (q < 0.75) {
        const a = pick(ALL);
        const b = pick(ALL);
        // the documented semantics say nothing of renaming a file that is open or onto one: not generated
        if (!model.held(a) && !model.held(b)) push({ k: 'rename', w, a, b });
      } else if (q < 0.85) {
        if (!model.held(p)) push({ k: 'unlink', w, p });
      } else if (q < 0.92) push({ k: 'chmod', w, p, m: pick([0o640, 0o755, 0o600, 0o644]) });
      else push({ k: 'utime', w, p, t: 1_600_000_000 + Math.floor(rnd() * 1000) });
    }
  }
  // close whatever is left open, so that every sequence ends with everything committed
  for (const [h, mh] of [...model.handles]) push({ k: 'close', w: mh.w, h });
  return ops;
}

// ---------------------------------------------------------------- running against the mount

const WORKER = `
import os, sys, json, errno, stat
os.chdir(sys.argv[1])
fds = {}
def en(e): return errno.errorcode.get(e.errno, str(e.errno))
ACC = {'r': os.O_RDONLY, 'w': os.O_WRONLY, 'rw': os.O_RDWR}
for line in sys.stdin:
    op = json.loads(line)
    k = op['k']
    r = None
    try:
        if k == 'cd':
            os.chdir(op['p'])
        elif k == 'open':
            fl = ACC[op['acc']] | (os.O_CREAT if op['creat'] else 0) | (os.O_EXCL if op['excl'] else 0) | (os.O_TRUNC if op['trunc'] else 0) | (os.O_APPEND if op['append'] else 0)
            fds[op['h']] = os.open(op['p'], fl, 0o640)
        elif k == 'pwrite': r = os.pwrite(fds[op['h']], op['d'].encode('latin1'), op['o'])
        elif k == 'write': r = os.write(fds[op['h']], op['d'].encode('latin1'))
        elif k == 'pread': r = os.pread(fds[op['h']], op['n'], op['o']).decode('latin1')
        elif k == 'ftruncate': os.ftruncate(fds[op['h']], op['n'])
        elif k == 'fsync': os.fsync(fds[op['h']])
        elif k == 'close':
            fd = fds.pop(op['h']); os.close(fd)
        elif k == 'readfile':
            with open(op['p'], 'rb') as f: r = f.read().decode('latin1')
        elif k == 'truncate': os.truncate(op['p'], op['n'])
        elif k == 'rename': os.rename(op['a'], op['b'])
        elif k == 'unlink': os.unlink(op['p'])
        elif k == 'mkdir': os.mkdir(op['p'])
        elif k == 'rmdir': os.rmdir(op['p'])
        elif k == 'chmod': os.chmod(op['p'], op['m'])
        elif k == 'utime': os.utime(op['p'], (op['t'], op['t']))
        elif k == 'stat':
            st = os.stat(op['p'])
            r = ['d' if stat.S_ISDIR(st.st_mode) else 'f', 0 if stat.S_ISDIR(st.st_mode) else st.st_size, int(st.st_mtime)]
        elif k == 'list':
            r = {}
            for root, dirs, files in os.walk('.'):
                for n in dirs + files:
                    p = os.path.relpath(os.path.join(root, n), '.')
                    st = os.lstat(p)
                    if stat.S_ISDIR(st.st_mode): r[p] = ['d', None, int(st.st_mtime)]
                    else:
                        with open(p, 'rb') as f: r[p] = ['f', f.read().decode('latin1'), int(st.st_mtime)]
        out = {'e': 'OK', 'r': r}
    except OSError as e:
        out = {'e': en(e)}
    sys.stdout.write(json.dumps(out) + '\\n'); sys.stdout.flush()
`;

class Worker {
  private readonly child: ChildProcess;
  private buf = '';
  private waiting: ((r: Result) => void) | null = null;

  constructor(mnt: string) {
    this.child = spawn(PYTHON, ['-c', WORKER, mnt], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buf += d;
      const i = this.buf.indexOf('\n');
      if (i >= 0 && this.waiting) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting;
        this.waiting = null;
        w(JSON.parse(line) as Result);
      }
    });
  }

  call(op: object): Promise<Result> {
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no answer to ${JSON.stringify(op)} within 20 s`)), 20_000);
      this.waiting = (r) => {
        clearTimeout(t);
        res(r);
      };
      this.child.stdin!.write(JSON.stringify(op) + '\n');
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

export interface Mismatch {
  step: number;
  op: Op | null;
  what: string;
  expected: unknown;
  got: unknown;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function compareTree(model: Model, got: Record<string, [string, string | null, number]>): { expected: unknown; got: unknown } | null {
  const exp = model.snapshot();
  const g: Record<string, [string, string | null, number | null]> = {};
  for (const p of Object.keys(got).sort()) {
    const [t, c, m] = got[p]!;
    // an mtime is compared only where the model knows it (utime set it and nothing changed the entry since)
    g[p] = [t, c, exp[p]?.[2] === null || exp[p] === undefined ? null : m];
  }
  return same(exp, g) ? null : { expected: exp, got: g };
}

/** Runs `ops` in the fresh directory `dir` (relative to the mount) with one worker per process; the first mismatch. */
export async function runSequence(workers: Worker[], dir: string, ops: Op[]): Promise<Mismatch | null> {
  const model = new Model();
  for (const w of workers) {
    const r = await w.call({ k: 'cd', p: dir });
    if (r.e !== 'OK') throw new Error(`cd ${dir}: ${r.e}`);
  }
  const open = new Set<number>();
  try {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      // after shrinking, an op may use a handle that was never opened (or already closed): skip it in both
      if ('h' in op && op.k !== 'open' && !model.handles.has(op.h)) continue;
      if (op.k === 'open' && model.handles.has(op.h)) continue;
      model.released = false;
      const want = model.apply(op);
      const got = await workers[op.w]!.call(op);
      if (op.k === 'open' && got.e === 'OK') open.add(op.h);
      if (op.k === 'close') open.delete(op.h);
      let gr = got.r;
      if (op.k === 'stat' && Array.isArray(gr) && Array.isArray(want.r) && want.r[2] === null) gr = [gr[0], gr[1], null];
      if (got.e !== want.e || (got.e === 'OK' && want.r !== undefined && !same(gr, want.r))) {
        return { step: i, op, what: 'result', expected: want, got: { e: got.e, r: gr } };
      }
      let diff: { expected: unknown; got: unknown } | null = null;
      for (let tries = model.released ? 40 : 1; tries > 0; tries--) {
        const tree = await workers[0]!.call({ k: 'list' });
        diff = compareTree(model, tree.r as Record<string, [string, string | null, number]>);
        if (!diff) break;
        if (tries > 1) await new Promise((r) => setTimeout(r, 25));
      }
      if (diff) return { step: i, op, what: model.released ? 'tree (after the release)' : 'tree', ...diff };
    }
    return null;
  } finally {
    // close what a failing run left open, so the next attempt starts clean
    for (const [h, mh] of model.handles) if (open.has(h)) await workers[mh.w]!.call({ k: 'close', w: mh.w, h });
  }
}

export interface CheckReport {
  seeds: number;
  sequences: number;
  ops: number;
  failures: { seed: number; mismatch: Mismatch; shrunk: Op[] }[];
  seconds: number;
}

export async function modelCheck(o: { seeds: number; ops: number; procs: number; seed: number; backend: string; log?: (l: string) => void; shrinkBudget?: number }): Promise<CheckReport> {
  const t0 = Date.now();
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const rep: CheckReport = { seeds: 0, sequences: 0, ops: 0, failures: [], seconds: 0 };
  let d: Daemon | null = null;
  let workers: Worker[] = [];
  let attempt = 0;
  const fresh = async (): Promise<string> => {
    const dir = `sect-m${attempt++}`;
    const r = await workers[0]!.call({ k: 'mkdir', p: `${d!.mnt}/${dir}` });
    if (r.e !== 'OK') throw new Error(`mkdir ${dir}: ${r.e}`);
    return `${d!.mnt}/${dir}`;
  };
  try {
    d = await startDaemon({ backend: o.backend });
    workers = Array.from({ length: o.procs }, () => new Worker(d!.mnt));
    for (let s = 0; s < o.seeds; s++) {
      const seed = o.seed + s;
      const ops = generate(seed, o.ops, o.procs);
      rep.seeds++;
      rep.sequences++;
      rep.ops += ops.length;
      const m = await runSequence(workers, await fresh(), ops);
      if (!m) continue;
      log(`seed ${seed}: mismatch at step ${m.step} (${m.what}) ${JSON.stringify(m.op)}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.got)}`);
      // shrink: drop ops while the sequence still fails (any mismatch), up to the budget of attempts
      let cur = ops.slice(0, m.step + 1);
      let budget = o.shrinkBudget ?? 400;
      let last = m;
      for (let changed = true; changed && budget > 0; ) {
        changed = false;
        for (let i = cur.length - 1; i >= 0 && budget > 0; i--) {
          const cand = [...cur.slice(0, i), ...cur.slice(i + 1)];
          budget--;
          rep.sequences++;
          const r = await runSequence(workers, await fresh(), cand);
          if (r) {
            cur = cand.slice(0, r.step + 1);
            last = r;
            changed = true;
            i = Math.min(i, cur.length);
          }
        }
      }
      rep.failures.push({ seed, mismatch: last, shrunk: cur });
      log(`seed ${seed}: shortest failing sequence (${cur.length} ops):\n  ${cur.map((x) => JSON.stringify(x)).join('\n  ')}\n  -> ${last.what}: expected ${JSON.stringify(last.expected)}, got ${JSON.stringify(last.got)}`);
      if (rep.failures.length >= 3) break;
    }
    if (d) await d.stop();
  } finally {
    for (const w of workers) w.stop();
    await cleanupAll();
    rep.seconds = Math.round((Date.now() - t0) / 1000);
  }
  return rep;
}

async function main(): Promise<void> {
  const backends = availableBackends();
  const rep = await modelCheck({
    seeds: Number(arg('--seeds', '100')),
    ops: Number(arg('--ops', '200')),
    procs: Number(arg('--procs', '3')),
    seed: Number(arg('--seed', String(Date.now() % 1_000_000))),
    backend: arg('--backend', backends.includes('native') ? 'native' : 'fuse-native'),
  });
  process.stdout.write(JSON.stringify({ seeds: rep.seeds, sequences: rep.sequences, ops: rep.ops, failures: rep.failures.length, seconds: rep.seconds }) + '\n');
  process.exit(rep.failures.length ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
