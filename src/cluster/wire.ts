// The cluster protocol's messages and their encoding (msgpack). Every message travels as [PROTOCOL, body]; a body
// is checked field by field when it arrives, so a message that does not decode is refused whole, never half-applied.
// Messages larger than one fragment travel as consecutive `frag` messages of one sender and are put together again
// (CPG keeps each sender's order); the whole message takes its place in the total order at its last fragment.
import { Packr } from 'msgpackr';
import type { Op } from '../ops/op.js';
import type { Row } from '../store/tree.js';
import type { LogEntry } from '../status/clusterlog.js';

/** Bumped on every incompatible change; members speaking another version refuse each other at the state exchange. */
export const PROTOCOL = 2;

/** Identifies one state exchange: the member that started it and its counter. */
export type Epoch = string;

export type Msg =
  /**
   * changes from one member, applied in one transaction everywhere; `seq` numbers the first, the others follow.
   * `acks`: the sender applied these writers' changes (src/cluster/confirm.ts), as triples nodeid, pid, last seq
   */
  | { t: 'ops'; seq: number; ops: Op[]; acks?: number[] }
  /** acknowledgements alone, when the member has no change of its own to carry them */
  | { t: 'ack'; acks: number[] }
  /**
   * starts a state exchange (after a membership change, or asked for: quorum regained, verification mismatch);
   * `ignore` names members (nodeid:pid) that stayed silent in the last one: they are left out until they speak
   */
  | { t: 'sync'; epoch: Epoch; why: string; ignore?: string[] }
  /** a member's state: `inodes[i]` has the 8-byte digest at `digests[8i]`; `lead: false` asks not to be leader */
  | { t: 'state'; epoch: Epoch; gen: number; version: number; mtime: number; lead: boolean; inodes: number[]; digests: Buffer; log: LogEntry[] }
  /** entries the leader sends to those who differ */
  | { t: 'update'; epoch: Epoch; rows: Row[] }
  /** the leader's last word: everybody applies what it collected and takes `version` and `gen` */
  | { t: 'end'; epoch: Epoch; version: number; gen: number; mtime: number; writer: number; count: number }
  /** asks every member for a checksum of its whole tree */
  | { t: 'verify'; id: string }
  | { t: 'checksum'; id: string; digest: Buffer; version: number }
  /** this member's /etc/corosync/corosync.conf now has config_version `version` (reload barrier) */
  | { t: 'confver'; version: number }
  /** cluster log entries, added on every member */
  | { t: 'log'; entries: LogEntry[] };

type Frag = { t: 'frag'; i: number; n: number; part: Buffer };

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export class WireError extends Error {}

export function encode(msg: Msg): Buffer {
  return packr.pack([PROTOCOL, msg]);
}

/** Splits an encoded message into fragments of at most `max` bytes of payload (one message when it fits). */
export function fragment(encoded: Buffer, max: number): Buffer[] {
  if (encoded.length <= max) return [encoded];
  const n = Math.ceil(encoded.length / max);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const frag: Frag = { t: 'frag', i, n, part: encoded.subarray(i * max, Math.min(encoded.length, (i + 1) * max)) };
    out.push(packr.pack([PROTOCOL, frag]));
  }
  return out;
}

export type Decoded = { proto: number; msg: Msg } | { proto: number; frag: Frag } | { proto: number; foreign: true };

/** Decodes one delivered buffer. Throws WireError when it is not a message of any protocol version. */
export function decode(buf: Buffer): Decoded {
  let v: unknown;
  try {
    v = packr.unpack(buf);
  } catch (e) {
    throw new WireError(`undecodable message (${buf.length} bytes): ${(e as Error).message}`);
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number') throw new WireError('not a cluster message');
  const proto = v[0];
  if (proto !== PROTOCOL) return { proto, foreign: true };
  const body = v[1] as Record<string, unknown>;
  if (!isObj(body)) throw new WireError('message body is not a map');
  if (body.t === 'frag') {
    if (!isUint(body.i) || !isUint(body.n) || body.i >= body.n || body.n > MAX_FRAGMENTS) throw new WireError('bad fragment');
    // fragment() never makes an empty part: empty ones would let a sender grow the list of parts for nothing
    if (!Buffer.isBuffer(body.part) || body.part.length === 0) throw new WireError('bad fragment part');
    return { proto, frag: body as unknown as Frag };
  }
  return { proto, msg: checkMsg(body) };
}

/** Puts fragments of one sender together; returns the whole message's bytes at its last fragment. */
/** No legitimate message comes near this (a 1 MiB file, a state of 256k entries): more is an attack or a bug. */
export const MAX_MESSAGE = 64 * 1024 * 1024;
/** MAX_MESSAGE in parts of 16 KiB: far more fragments than a sender with 256 KiB parts ever needs. */
export const MAX_FRAGMENTS = 4096;

export class Reassembler {
  private parts: Buffer[] = [];
  private bytes = 0;
  /** the total the first fragment announced: every later one must say the same */
  private total = 0;

  /** Bytes held for a message not complete yet. */
  get held(): number {
    return this.bytes;
  }

  add(f: Frag): Buffer | null {
    // the tail of a message whose start came before this member joined: not ours to read
    if (this.parts.length === 0 && f.i > 0) return null;
    if (f.i !== this.parts.length) {
      this.reset();
      throw new WireError(`fragment ${f.i} of ${f.n} out of order`);
    }
    if (f.i === 0) this.total = f.n;
    else if (f.n !== this.total) {
      this.reset();
      throw new WireError(`fragment ${f.i} says ${f.n} fragments, the first said ${this.total}`);
    }
    this.bytes += f.part.length;
    if (this.bytes > MAX_MESSAGE || f.n * f.part.length > 2 * MAX_MESSAGE) {
      this.reset();
      throw new WireError(`fragmented message larger than ${MAX_MESSAGE} bytes`);
    }
    this.parts.push(Buffer.from(f.part));
    if (f.i < f.n - 1) return null;
    const whole = Buffer.concat(this.parts);
    this.reset();
    return whole;
  }

  private reset(): void {
    this.parts = [];
    this.bytes = 0;
    this.total = 0;
  }
}

// ---- validation: the message's shape is checked before anything acts on it ----

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** triples nodeid, pid, seq; one per writer, and a group has far fewer than 4096 members */
const isAcks = (v: unknown): boolean => Array.isArray(v) && v.length % 3 === 0 && v.length <= 3 * 4096 && v.every(isUint);

function need(ok: boolean, what: string): void {
  if (!ok) throw new WireError(`bad message: ${what}`);
}

function checkOp(o: unknown): Op {
  need(isObj(o), 'op is not a map');
  const op = o as Record<string, unknown>;
  need(isInt(op.mtime), 'op mtime');
  switch (op.kind) {
    case 'create':
      need(isStr(op.path) && typeof op.excl === 'boolean', 'create');
      need(op.data === undefined || Buffer.isBuffer(op.data), 'create data');
      break;
    case 'write':
      need(isStr(op.path) && Buffer.isBuffer(op.data), 'write');
      break;
    case 'mkdir':
    case 'unlink':
    case 'rmdir':
    case 'mtime':
    case 'unlock':
      need(isStr(op.path), String(op.kind));
      break;
    case 'rename':
      need(isStr(op.from) && isStr(op.to), 'rename');
      break;
    default:
      need(false, `unknown op kind ${String(op.kind)}`);
  }
  return op as unknown as Op;
}

function checkRow(r: unknown): Row {
  need(isObj(r), 'row');
  const row = r as Record<string, unknown>;
  need(isUint(row.inode) && isUint(row.parent) && isUint(row.version) && isUint(row.writer) && isInt(row.mtime), 'row numbers');
  need((row.type === 4 || row.type === 8) && isStr(row.name), 'row type/name');
  need(row.data === null || Buffer.isBuffer(row.data), 'row data');
  return row as unknown as Row;
}

function checkLog(e: unknown): LogEntry {
  need(isObj(e), 'log entry');
  const l = e as Record<string, unknown>;
  need(isUint(l.uid) && isInt(l.time) && isInt(l.pri) && isInt(l.pid), 'log numbers');
  need(isStr(l.tag) && isStr(l.node) && isStr(l.user) && isStr(l.msg), 'log strings');
  return l as unknown as LogEntry;
}

function checkMsg(b: Record<string, unknown>): Msg {
  switch (b.t) {
    case 'ops':
      need(isUint(b.seq) && Array.isArray(b.ops), 'ops');
      (b.ops as unknown[]).forEach(checkOp);
      need(b.acks === undefined || isAcks(b.acks), 'ops acks');
      break;
    case 'ack':
      need(isAcks(b.acks), 'ack');
      break;
    case 'sync':
      need(isStr(b.epoch) && isStr(b.why), 'sync');
      need(b.ignore === undefined || (Array.isArray(b.ignore) && (b.ignore as unknown[]).every(isStr)), 'sync ignore');
      break;
    case 'state':
      need(isStr(b.epoch) && isUint(b.gen) && isUint(b.version) && isInt(b.mtime) && typeof b.lead === 'boolean', 'state');
      need(Array.isArray(b.inodes) && (b.inodes as unknown[]).every(isUint) && Buffer.isBuffer(b.digests), 'state entries');
      need((b.digests as Buffer).length === 8 * (b.inodes as unknown[]).length, 'state digests');
      need(Array.isArray(b.log), 'state log');
      (b.log as unknown[]).forEach(checkLog);
      break;
    case 'update':
      need(isStr(b.epoch) && Array.isArray(b.rows), 'update');
      (b.rows as unknown[]).forEach(checkRow);
      break;
    case 'end':
      need(isStr(b.epoch) && isUint(b.version) && isUint(b.gen) && isInt(b.mtime) && isUint(b.writer) && isUint(b.count), 'end');
      break;
    case 'verify':
      need(isStr(b.id), 'verify');
      break;
    case 'checksum':
      need(isStr(b.id) && Buffer.isBuffer(b.digest) && isUint(b.version), 'checksum');
      break;
    case 'confver':
      need(isUint(b.version), 'confver');
      break;
    case 'log':
      need(Array.isArray(b.entries), 'log');
      (b.entries as unknown[]).forEach(checkLog);
      break;
    default:
      need(false, `unknown message type ${String(b.t)}`);
  }
  return b as unknown as Msg;
}
