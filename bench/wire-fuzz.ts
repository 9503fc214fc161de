// Fuzzing of the cluster protocol's decoder (src/cluster/wire.ts): valid messages of every kind, built with the
// project's own encoder, then mutated (bit flips, truncation, splices, wrong field types, huge lengths and counts,
// hostile msgpack headers and extensions, deep nesting, other protocol versions, fragments out of order, missing,
// duplicated, with lying totals). Every input must either decode to a message that meets the protocol's spec
// (checked here independently of the decoder's own checks) or be refused with a WireError; nothing else may escape,
// and no input may change how the next one decodes. The generators are shared with the cluster test
// (test/cluster/fuzz.test.ts), which injects the mutated messages into a running cluster.
//
//   node dist/bench/wire-fuzz.js [--count 200000] [--seed 1]
import { pack } from 'msgpackr';
import { arg } from './args.js';
import { MAX_MESSAGE, PROTOCOL, Reassembler, WireError, decode, encode, fragment, type Msg } from '../src/cluster/wire.js';

// ---- seeded randomness ----

export type Rng = () => number;

/** mulberry32: small, fast, reproducible. */
export function rngOf(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const NAMES = ['a', 'b', 'x.cfg', 'nodes', 'priv', 'qemu-server', '100.conf', 'lock', 'corosync.conf', 'storage.cfg', 'user.cfg'];
const word = (r: Rng): string => pick(r, NAMES);
const path = (r: Rng): string => Array.from({ length: 1 + int(r, 3) }, () => word(r)).join('/');
const bytes = (r: Rng, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(r, 256)));
const epoch = (r: Rng): string => `${1 + int(r, 5)}.${int(r, 1 << 22)}.${int(r, 100)}`;

function logEntry(r: Rng) {
  return { uid: int(r, 1000), time: 1_700_000_000 + int(r, 1000), pri: int(r, 8), tag: 'pmxcfs', pid: int(r, 1 << 22), node: pick(r, ['n1', 'n2', 'n3']), user: 'root@pam', msg: `entry ${int(r, 1e6)}` };
}

function op(r: Rng): Record<string, unknown> {
  const mtime = 1_700_000_000 + int(r, 1000);
  switch (int(r, 8)) {
    case 0: return { kind: 'create', path: path(r), mtime, excl: r() < 0.5, ...(r() < 0.5 ? { data: bytes(r, int(r, 40)) } : {}) };
    case 1: return { kind: 'write', path: path(r), data: bytes(r, int(r, 60)), mtime };
    case 2: return { kind: 'mkdir', path: path(r), mtime };
    case 3: return { kind: 'unlink', path: path(r), mtime };
    case 4: return { kind: 'rmdir', path: path(r), mtime };
    case 5: return { kind: 'rename', from: path(r), to: path(r), mtime };
    case 6: return { kind: 'mtime', path: path(r), mtime };
    default: return { kind: 'unlock', path: `priv/lock/${word(r)}`, mtime };
  }
}

export const KINDS = ['ops', 'sync', 'state', 'update', 'end', 'verify', 'checksum', 'confver', 'log'] as const;

/** A valid message of the given kind (random fields). */
export function validMsg(r: Rng, kind: (typeof KINDS)[number] = pick(r, KINDS)): Msg {
  switch (kind) {
    case 'ops': return { t: 'ops', seq: 1 + int(r, 1000), ops: Array.from({ length: 1 + int(r, 4) }, () => op(r)) } as Msg;
    case 'sync': return { t: 'sync', epoch: epoch(r), why: 'membership changed', ...(r() < 0.3 ? { ignore: [`${int(r, 4)}:${int(r, 1e5)}`] } : {}) };
    case 'state': {
      const n = int(r, 6);
      return { t: 'state', epoch: epoch(r), gen: int(r, 50), version: int(r, 1e6), mtime: 1_700_000_000, lead: r() < 0.5, inodes: Array.from({ length: n }, () => int(r, 1e6)), digests: bytes(r, 8 * n), log: Array.from({ length: int(r, 3) }, () => logEntry(r)) };
    }
    case 'update': return { t: 'update', epoch: epoch(r), rows: Array.from({ length: 1 + int(r, 3) }, () => ({ inode: 2 + int(r, 1000), parent: 0, version: int(r, 1000), writer: 1 + int(r, 3), mtime: 1_700_000_000, type: r() < 0.5 ? 8 : 4, name: word(r), data: r() < 0.5 ? bytes(r, int(r, 30)) : null })) } as Msg;
    case 'end': return { t: 'end', epoch: epoch(r), version: int(r, 1e6), gen: int(r, 50), mtime: 1_700_000_000, writer: 1 + int(r, 3), count: int(r, 100) };
    case 'verify': return { t: 'verify', id: epoch(r) };
    case 'checksum': return { t: 'checksum', id: epoch(r), digest: bytes(r, 32), version: int(r, 1e6) };
    case 'confver': return { t: 'confver', version: int(r, 100) };
    case 'log': return { t: 'log', entries: Array.from({ length: 1 + int(r, 3) }, () => logEntry(r)) };
  }
}

// ---- the protocol's spec, written out again: what a decoded message must look like ----

const isU = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isI = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v);
const isS = (v: unknown) => typeof v === 'string';
const isB = (v: unknown) => Buffer.isBuffer(v);
const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
const spec: Record<string, Record<string, (v: unknown) => boolean>> = {
  ops: { seq: isU, ops: (v) => Array.isArray(v) && v.every(opOk) },
  sync: { epoch: isS, why: isS, ignore: (v) => v === undefined || (Array.isArray(v) && v.every(isS)) },
  state: { epoch: isS, gen: isU, version: isU, mtime: isI, lead: (v) => typeof v === 'boolean', inodes: (v) => Array.isArray(v) && v.every(isU), digests: isB, log: (v) => Array.isArray(v) && v.every(logOk) },
  update: { epoch: isS, rows: (v) => Array.isArray(v) && v.every(rowOk) },
  end: { epoch: isS, version: isU, gen: isU, mtime: isI, writer: isU, count: isU },
  verify: { id: isS },
  checksum: { id: isS, digest: isB, version: isU },
  confver: { version: isU },
  log: { entries: (v) => Array.isArray(v) && v.every(logOk) },
};
function opOk(o: unknown): boolean {
  if (!isPlain(o) || !isI(o.mtime)) return false;
  switch (o.kind) {
    case 'create': return isS(o.path) && typeof o.excl === 'boolean' && (o.data === undefined || isB(o.data));
    case 'write': return isS(o.path) && isB(o.data);
    case 'rename': return isS(o.from) && isS(o.to);
    case 'mkdir': case 'unlink': case 'rmdir': case 'mtime': case 'unlock': return isS(o.path);
    default: return false;
  }
}
function rowOk(r: unknown): boolean {
  return isPlain(r) && isU(r.inode) && isU(r.parent) && isU(r.version) && isU(r.writer) && isI(r.mtime) && (r.type === 4 || r.type === 8) && isS(r.name) && (r.data === null || isB(r.data));
}
function logOk(e: unknown): boolean {
  return isPlain(e) && isU(e.uid) && isI(e.time) && isI(e.pri) && isI(e.pid) && isS(e.tag) && isS(e.node) && isS(e.user) && isS(e.msg);
}
/** Why a decoded message breaks the spec (null: it meets it). */
export function specViolation(m: unknown): string | null {
  if (!isPlain(m)) return 'not a plain map';
  const fields = spec[String(m.t)];
  if (!fields) return `unknown type ${String(m.t)}`;
  for (const [k, ok] of Object.entries(fields)) if (!ok(m[k])) return `field ${k} of ${String(m.t)}`;
  return null;
}

// ---- mutations ----

const WRONG: readonly unknown[] = [null, true, -1, 1.5, NaN, 2 ** 60, -(2 ** 60), '', 'x'.repeat(300), [], [1, 2], {}, { t: 'ops' }, Buffer.alloc(3), 0, 2 ** 53];

/** Replaces, removes or adds a field somewhere in the message (nested maps and arrays included). */
function mutateValue(r: Rng, v: unknown, depth = 0): unknown {
  if (Array.isArray(v)) {
    const a = [...v];
    const roll = r();
    if (a.length && roll < 0.6) a[int(r, a.length)] = mutateValue(r, a[int(r, a.length)], depth + 1);
    else if (a.length && roll < 0.8) a.splice(int(r, a.length), 1);
    else a.push(pick(r, WRONG));
    return a;
  }
  if (isPlain(v)) {
    const o: Record<string, unknown> = { ...v };
    const keys = Object.keys(o);
    const roll = r();
    if (keys.length && roll < 0.55) {
      const k = pick(r, keys);
      o[k] = depth < 3 && (Array.isArray(o[k]) || isPlain(o[k])) && r() < 0.6 ? mutateValue(r, o[k], depth + 1) : pick(r, WRONG);
    } else if (keys.length && roll < 0.75) delete o[pick(r, keys)];
    // an own '__proto__' key, as a decoder would meet it on the wire
    else if (roll < 0.85) Object.defineProperty(o, pick(r, ['t', 'kind', '__proto__', 'constructor', 'extra']), { value: pick(r, WRONG), enumerable: true, writable: true, configurable: true });
    else if (roll < 0.92) o.t = pick(r, [...KINDS, 'frag', 'OPS', '']);
    else o[pick(r, keys.length ? keys : ['t'])] = Array.from({ length: 20_000 }, () => 1);
    return o;
  }
  return pick(r, WRONG);
}

/** msgpack headers that promise more than the bytes hold, extensions, deep nesting. */
function hostile(r: Rng): Buffer {
  const head = Buffer.from([0x92, PROTOCOL]); // [1, ...]
  switch (int(r, 10)) {
    case 0: return Buffer.concat([head, Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])]); // array of 4G elements
    case 1: return Buffer.concat([head, Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff]), bytes(r, int(r, 20))]); // map of 2G entries
    case 2: return Buffer.concat([head, Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xf0, 0x61])]); // string of 4G bytes
    case 3: return Buffer.concat([head, Buffer.from([0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00])]); // binary of 2G bytes
    case 4: return Buffer.concat([head, Buffer.from([0xc9, 0x7f, 0xff, 0xff, 0xff, int(r, 256)])]); // ext32 of 2G bytes
    case 5: return Buffer.concat([head, Buffer.from([pick(r, [0xd4, 0xd5, 0xd6, 0xd7, 0xd8]), int(r, 256)]), bytes(r, 16)]); // fixext of any type
    case 6: return Buffer.concat([head, Buffer.alloc(20_000 + int(r, 100_000), 0x91)]); // deeply nested arrays
    case 7: return Buffer.concat([head, Buffer.alloc(20_000, 0x81).map((b, i) => (i % 2 ? 0xa1 : b)), Buffer.from([0x61])]); // nested maps
    case 8: return Buffer.concat([Buffer.from([0x92]), Buffer.from([0xcf]), bytes(r, 8), bytes(r, 10)]); // uint64 protocol
    default: return Buffer.concat([head, Buffer.from([0xc7, int(r, 256), int(r, 256)]), bytes(r, int(r, 300))]); // ext8
  }
}

const VERSIONS: readonly unknown[] = [0, 2, 99, -1, 1.5, 2 ** 32, 2 ** 53, '1', null, true, [1]];

/** One mutated input (and how it was made). */
export function mutant(r: Rng): { how: string; buf: Buffer } {
  const m = validMsg(r);
  const enc = encode(m);
  const roll = int(r, 9);
  switch (roll) {
    case 0: {
      const b = Buffer.from(enc);
      for (let i = 1 + int(r, 8); i > 0; i--) b[int(r, b.length)]! ^= 1 << int(r, 8);
      return { how: `bit flips in ${m.t}`, buf: b };
    }
    case 1: return { how: `${m.t} truncated`, buf: enc.subarray(0, int(r, enc.length)) };
    case 2: {
      const at = int(r, enc.length);
      return { how: `garbage spliced into ${m.t}`, buf: Buffer.concat([enc.subarray(0, at), bytes(r, 1 + int(r, 16)), enc.subarray(at + int(r, 4))]) };
    }
    case 3: case 4: return { how: `wrong field in ${m.t}`, buf: pack([PROTOCOL, mutateValue(r, m)]) };
    case 5: return { how: 'hostile msgpack', buf: hostile(r) };
    case 6: return { how: 'wrong protocol version', buf: pack(r() < 0.7 ? [pick(r, VERSIONS), m] : pick(r, [[PROTOCOL], [PROTOCOL, m, 1], { 0: PROTOCOL, 1: m }, PROTOCOL, m, []])) };
    case 7: return { how: 'random bytes', buf: bytes(r, int(r, 64)) };
    default: return { how: `frag wrapper in ${m.t}`, buf: pack([PROTOCOL, mutateValue(r, { t: 'frag', i: 0, n: 1, part: enc })]) };
  }
}

// ---- fragment sequences ----

/** A valid message large enough for several fragments of `max` bytes, and its fragments. */
export function fragmented(r: Rng, max: number): { whole: Buffer; parts: Buffer[] } {
  const m: Msg = { t: 'ops', seq: 1 + int(r, 100), ops: [{ kind: 'write', path: 'fuzz-nonexistent/x', data: bytes(r, max * (1 + int(r, 4)) + int(r, max)), mtime: 1_700_000_000 }] };
  const whole = encode(m);
  return { whole, parts: fragment(whole, max) };
}

/** A fragment sequence broken one way: reordered, missing, duplicated, lying about its total, oversized. */
export function badFragments(r: Rng, max: number): { how: string; parts: Buffer[] } {
  const { parts } = fragmented(r, max);
  const p = [...parts];
  const frag = (i: number, n: number, part: Buffer) => pack([PROTOCOL, { t: 'frag', i, n, part }]);
  switch (int(r, 8)) {
    case 0: { const i = int(r, p.length - 1); [p[i], p[i + 1]] = [p[i + 1]!, p[i]!]; return { how: 'fragments swapped', parts: p }; }
    case 1: p.splice(1 + int(r, p.length - 1), 1); return { how: 'a fragment missing', parts: p }; // the first stays: a missing first is a tail
    case 2: { const i = int(r, p.length - 1); p.splice(i, 0, p[i]!); return { how: 'a fragment duplicated', parts: p }; }
    case 3: return { how: 'total far over the limit', parts: [frag(0, 1 + Math.ceil((3 * MAX_MESSAGE) / max), Buffer.alloc(max)), ...p.slice(1)] };
    case 4: return { how: 'total changes midway', parts: [p[0]!, frag(1, 2 + int(r, 1000), Buffer.alloc(max)), ...p.slice(2)] };
    case 5: return { how: 'empty fragments', parts: Array.from({ length: 50 }, (_, i) => frag(i, 1 << 30, Buffer.alloc(0))) };
    case 6: return { how: 'the whole is a fragment', parts: fragment(frag(0, 1, bytes(r, 2 * max)), max) };
    default: { const i = int(r, p.length); const b = Buffer.from(p[i]!); b[int(r, b.length)]! ^= 1 << int(r, 8); p[i] = b; return { how: 'bit flip in a fragment', parts: p }; }
  }
}

// ---- the decoder property ----

export interface FuzzReport {
  inputs: number;
  refused: number;
  foreign: number;
  decodedValid: number;
  fragmentSequences: number;
  fragmentsRefused: number;
  /** every input that broke the property: how it was made, and what happened */
  failures: { seed: number; how: string; what: string }[];
  maxMs: number;
}

/** Decodes like the receiver does: a fragment goes through the sender's reassembler. */
export function receive(buf: Buffer, re: Reassembler): { kind: 'msg' | 'foreign' | 'pending' | 'refused'; msg?: unknown; err?: unknown } {
  try {
    const d = decode(buf);
    if ('foreign' in d) return { kind: 'foreign' };
    if ('frag' in d) {
      const whole = re.add(d.frag);
      if (!whole) return { kind: 'pending' };
      const inner = decode(whole);
      if (!('msg' in inner)) return { kind: 'refused' };
      return { kind: 'msg', msg: inner.msg };
    }
    return { kind: 'msg', msg: d.msg };
  } catch (err) {
    return { kind: 'refused', err };
  }
}

/**
 * What a receiver makes of one sender's messages in order: the index of the first it refuses (or finds in another
 * protocol version) and how, or null when it takes them all.
 */
export function firstRefusal(bufs: Buffer[]): { at: number; foreign: boolean } | null {
  const re = new Reassembler();
  for (let i = 0; i < bufs.length; i++) {
    const got = receive(bufs[i]!, re);
    if (got.kind === 'refused' || got.kind === 'foreign') return { at: i, foreign: got.kind === 'foreign' };
  }
  return null;
}

export function fuzzDecoder(o: { seed: number; count: number; fragmentMax?: number }): FuzzReport {
  const rep: FuzzReport = { inputs: 0, refused: 0, foreign: 0, decodedValid: 0, fragmentSequences: 0, fragmentsRefused: 0, failures: [], maxMs: 0 };
  const reference = validMsg(rngOf(o.seed ^ 0x5eed), 'state');
  const refBuf = encode(reference);
  const expectRef = JSON.stringify(decode(refBuf));
  const fail = (seed: number, how: string, what: string) => rep.failures.length < 20 && rep.failures.push({ seed, how, what });
  const judge = (seed: number, how: string, got: ReturnType<typeof receive>): void => {
    if (got.kind === 'refused') {
      if (got.err !== undefined && !(got.err instanceof WireError)) fail(seed, how, `threw ${(got.err as Error)?.constructor?.name}: ${(got.err as Error)?.message}`);
      else rep.refused++;
    } else if (got.kind === 'foreign') rep.foreign++;
    else if (got.kind === 'msg') {
      const v = specViolation(got.msg);
      if (v) fail(seed, how, `decoded but breaks the spec: ${v}`);
      else rep.decodedValid++;
    }
  };
  const fragMax = o.fragmentMax ?? 64;
  for (let k = 0; k < o.count; k++) {
    const seed = o.seed + k;
    const r = rngOf(seed);
    const t0 = performance.now();
    if (k % 10 === 9) {
      // a fragment sequence through one sender's reassembler
      rep.fragmentSequences++;
      const re = new Reassembler();
      const { how, parts } = badFragments(r, fragMax);
      let refusedHere = false;
      for (const p of parts) {
        const got = receive(p, re);
        if (got.kind === 'refused') refusedHere = true;
        judge(seed, how, got);
        if (re.held > MAX_MESSAGE) fail(seed, how, `reassembler holds ${re.held} bytes`);
      }
      if (refusedHere) rep.fragmentsRefused++;
      rep.inputs += parts.length;
    } else {
      const { how, buf } = mutant(r);
      judge(seed, how, receive(buf, new Reassembler()));
      rep.inputs++;
    }
    rep.maxMs = Math.max(rep.maxMs, performance.now() - t0);
    // no input may leave state behind in the decoder
    if (k % 50 === 0 && JSON.stringify(decode(refBuf)) !== expectRef) fail(seed, 'after it', 'a valid message decodes differently');
  }
  // valid fragment sequences still come together
  for (let k = 0; k < 20; k++) {
    const { whole, parts } = fragmented(rngOf(o.seed + k), fragMax);
    const re = new Reassembler();
    let out: Buffer | null = null;
    for (const p of parts) {
      const d = decode(p);
      if ('frag' in d) out = re.add(d.frag) ?? out;
    }
    if (!out?.equals(whole)) fail(o.seed + k, 'valid fragments', 'not put together');
  }
  return rep;
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const count = Number(arg('--count', '200000'));
  const seed = Number(arg('--seed', '1'));
  const t0 = Date.now();
  const rep = fuzzDecoder({ seed, count });
  console.log(JSON.stringify({ seed, count, ...rep, maxMs: Math.round(rep.maxMs), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), seconds: Math.round((Date.now() - t0) / 1000) }, null, 1));
  process.exit(rep.failures.length ? 1 : 0);
}
