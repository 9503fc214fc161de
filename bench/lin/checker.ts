// Linearizability of a recorded history, per key (WGL / Porcupine-style search with memoization).
//
// Objects (each key is checked on its own: registers and locks are independent, so the whole history is
// linearizable iff every key's sub-history is):
//   register: state = content or null (absent). read(v) needs state === v; write(v) sets v; cas(from, to) needs
//             state === from and sets to.
//   lock:     state = held or not. acquire (mkdir) ok needs absent and makes it held; acquire refused with
//             EEXIST needs held; release (rmdir) ok needs held and makes it absent; release refused with ENOENT
//             needs absent.
// Outcomes: 'ok' and 'refused' (an answer that says what the object's state was, e.g. EEXIST) take effect, or are
// observed, somewhere between invocation and completion. 'failed' (EACCES, EROFS: definitely not applied) ops are
// dropped. 'unknown' (ENOTCONN, EIO, no answer: the daemon went away) may have taken effect at any moment after the
// invocation, or never: their completion is +inf and the search may leave them out.
//
// Pure: no I/O, no clocks. Times are numbers in one clock (the harness uses CLOCK_MONOTONIC in ns, as bigint-free
// numbers in microseconds).

export type Outcome = 'ok' | 'refused' | 'failed' | 'unknown';

export type OpKind =
  | { kind: 'read'; value: string | null }
  | { kind: 'write'; value: string }
  | { kind: 'cas'; from: string | null; to: string }
  | { kind: 'acquire' }
  | { kind: 'release' };

export type Op = OpKind & {
  /** register or lock name; a lock's name must not also be used as a register */
  key: string;
  /** invocation time */
  call: number;
  /** completion time (ignored for 'unknown') */
  ret: number;
  outcome: Outcome;
  /** who ran it, for messages */
  client?: string;
};

export interface KeyResult {
  key: string;
  ok: boolean;
  /** search steps used */
  steps: number;
  ops: number;
  /** the search ran out of its step budget: neither proved nor refuted (counted as not ok) */
  undecided?: boolean;
  /** for a refuted history: the op the search could never get past (the first completion it could not explain) */
  stuckAt?: Op;
  /** one linearization (op indexes into the key's ops, in order) when ok */
  order?: Op[];
}

export interface CheckResult {
  ok: boolean;
  keys: KeyResult[];
}

type State = string | null | boolean;

const isLockOp = (o: Op): boolean => o.kind === 'acquire' || o.kind === 'release';

/** One step of the sequential model: the state after `op`, or undefined when `op` cannot happen in `state`. */
export function step(state: State, op: Op): { next: State } | undefined {
  switch (op.kind) {
    case 'read':
      return state === op.value ? { next: state } : undefined;
    case 'write':
      return { next: op.value };
    case 'cas':
      return state === op.from ? { next: op.to } : undefined;
    case 'acquire':
      if (op.outcome === 'refused') return state === true ? { next: true } : undefined;
      return state === false ? { next: true } : undefined;
    case 'release':
      if (op.outcome === 'refused') return state === false ? { next: false } : undefined;
      return state === true ? { next: false } : undefined;
  }
}

interface Entry {
  /** index into ops; -1 for the list head */
  id: number;
  call: boolean;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** Checks one key's ops from `initial`. `budget` bounds the search (steps). */
export function checkKey(key: string, allOps: Op[], initial: State, budget = 2_000_000): KeyResult {
  const ops = allOps.filter((o) => o.outcome !== 'failed');
  const n = ops.length;
  // the list: calls and returns sorted by time; at equal times calls first (the ops count as concurrent)
  const events: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    const c: Entry = { id: i, call: true, time: o.call, match: null, prev: null, next: null };
    const r: Entry = { id: i, call: false, time: o.outcome === 'unknown' ? Infinity : Math.max(o.ret, o.call), match: null, prev: null, next: null };
    c.match = r;
    events.push(c, r);
  }
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.id - b.id : a.call ? -1 : 1));
  const head: Entry = { id: -1, call: false, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const words = Math.ceil(n / 32) || 1;
  const linearized = new Uint32Array(words);
  const seen = new Set<string>();
  const stack: { entry: Entry; state: State }[] = [];
  let state: State = initial;
  let steps = 0;
  let deepest = 0;
  let stuckAt: Op | undefined;

  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const stateKey = (s: State): string => (s === null ? 'N' : s === true ? 'T' : s === false ? 'F' : `S${s}`);

  let entry: Entry | null = head.next;
  for (;;) {
    // success: nothing left but the +inf completions of unknown ops (those left out never took effect)
    if (entry === null || (!entry.call && entry.time === Infinity)) {
      if (entry === null || allFinitesDone(head)) {
        const order = stack.map((s) => ops[s.entry.id]!);
        return { key, ok: true, steps, ops: n, order };
      }
    }
    if (++steps > budget) return { key, ok: false, undecided: true, steps, ops: n };
    if (entry === null) {
      // only reachable when a finite return is still in the list behind unknown calls: backtrack
      const top = stack.pop();
      if (!top) return { key, ok: false, steps, ops: n, stuckAt };
      state = top.state;
      linearized[top.entry.id >>> 5]! &= ~(1 << (top.entry.id & 31));
      unlift(top.entry);
      entry = top.entry.next;
      continue;
    }
    if (entry.call) {
      const op = ops[entry.id]!;
      const r = step(state, op);
      if (r) {
        linearized[entry.id >>> 5]! |= 1 << (entry.id & 31);
        const k = `${Array.from(linearized).join(',')}|${stateKey(r.next)}`;
        if (!seen.has(k)) {
          seen.add(k);
          stack.push({ entry, state });
          state = r.next;
          lift(entry);
          if (stack.length > deepest) deepest = stack.length;
          entry = head.next;
          continue;
        }
        linearized[entry.id >>> 5]! &= ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      // a completion whose op is not linearized yet: this branch cannot work
      if (stack.length >= deepest - 1 && (!stuckAt || stack.length === deepest)) stuckAt = ops[entry.id];
      const top = stack.pop();
      if (!top) return { key, ok: false, steps, ops: n, stuckAt: stuckAt ?? ops[entry.id] };
      state = top.state;
      linearized[top.entry.id >>> 5]! &= ~(1 << (top.entry.id & 31));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
}

/** Are all ops with a finite completion linearized (lifted out of the list)? */
function allFinitesDone(head: Entry): boolean {
  for (let e = head.next; e; e = e.next) if (!e.call && e.time !== Infinity) return false;
  return true;
}

/**
 * Checks a whole history: ops grouped by key, each key from its initial state (registers: `initial[key]`, default
 * null; locks: absent unless `initial[key] === true`).
 */
export function checkHistory(ops: Op[], initial: Record<string, State> = {}, budget?: number): CheckResult {
  const byKey = new Map<string, Op[]>();
  for (const o of ops) {
    let l = byKey.get(o.key);
    if (!l) byKey.set(o.key, (l = []));
    l.push(o);
  }
  const keys: KeyResult[] = [];
  for (const [key, l] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const lock = l.some(isLockOp);
    if (lock && l.some((o) => !isLockOp(o))) throw new Error(`key ${key} used both as a lock and as a register`);
    const init = initial[key] ?? (lock ? false : null);
    keys.push(checkKey(key, l, init, budget));
  }
  return { ok: keys.every((k) => k.ok), keys };
}

/** One line describing an op, for reports. */
export function describeOp(o: Op): string {
  const what =
    o.kind === 'read'
      ? `read -> ${JSON.stringify(o.value)}`
      : o.kind === 'write'
        ? `write ${JSON.stringify(o.value)}`
        : o.kind === 'cas'
          ? `cas ${JSON.stringify(o.from)} -> ${JSON.stringify(o.to)}`
          : o.kind;
  const end = o.outcome === 'unknown' ? '?' : String(o.ret);
  return `${o.client ?? '?'} ${o.key} ${what} [${o.call}, ${end}] ${o.outcome}`;
}
