// The native FUSE backend: libfuse3's low-level API served from Node's event loop by native/fuse (pmxfuse.node).
//
// The addon hands each request to `dispatch` on the JS thread; numeric arguments sit in the shared `io` array
// (layout in native/fuse/src/pmxfuse.cc). This file owns all the logic: calling FsOps, answering each request exactly
// once (at once, or when its Promise settles), interrupts, directory encoding, and the kernel cache policy.
//
// Cache policy (the why: native/fuse/README.md):
// - entry/attr timeouts come from FsOps; writeback cache is off (the kernel never holds dirty data).
// - File data: direct_io by default (NativeOptions.pageCache opts in to the page cache for readers, honouring
//   OpenReply.keepCache, except while a writer has the file open). Writers are always direct_io, so data written
//   but not yet committed never enters the page cache.
// - Attributes cached while a written handle was open are dropped before its commit is acknowledged; with the page
//   cache on, the next open after a commit drops it and the inode is invalidated for readers holding it open.
// - FsOps.onInvalidate changes are queued and issued, on the addon's notifier thread, once the inode has no request
//   outstanding here; the callback's Promise settles when the kernel has dropped the cached data, and a request
//   whose handler reported invalidations is answered only after they are done. Invalidations of an inode the kernel
//   holds no lookup of are skipped (it caches nothing of it); an entry whose inode it does not hold needs only the
//   parent's attributes and listing dropped.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FsError,
  type Attr,
  type Backend,
  type Caller,
  type CreateReply,
  type DirListing,
  type Entry,
  type FsOps,
  type Invalidation,
  type MountOptions,
  type OpenReply,
  type SetAttr,
  ROOT_INO,
} from './backend.js';

// Must match enum Op in native/fuse/src/pmxfuse.cc.
const enum OP {
  INIT = 0, LOOKUP, FORGET, GETATTR, SETATTR, READLINK, MKNOD, MKDIR, UNLINK, RMDIR,
  SYMLINK, RENAME, LINK, OPEN, READ, WRITE, FLUSH, RELEASE, FSYNC, OPENDIR,
  READDIR, RELEASEDIR, FSYNCDIR, STATFS, SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR,
  CREATE, INTERRUPT, DISCONNECT, NOTIFIED,
}
/**
 * Requests that may commit a change: once their handler runs, the change goes through (in cluster mode it is already
 * on its way to every node), so an interrupt does not end them with EINTR; the caller gets the change's real
 * result, and the kernel updates its caches from it.
 */
const CHANGES = [OP.SETATTR, OP.MKNOD, OP.MKDIR, OP.UNLINK, OP.RMDIR, OP.SYMLINK, OP.RENAME, OP.LINK, OP.OPEN, OP.WRITE,
  OP.FLUSH, OP.RELEASE, OP.FSYNC, OP.CREATE].reduce((m, op) => m | (1 << op), 0);

/** FsOps method names by OP, for MountOptions.onHandlerError */
const OP_NAMES = [
  'init', 'lookup', 'forget', 'getattr', 'setattr', 'readlink', 'mknod', 'mkdir', 'unlink', 'rmdir',
  'symlink', 'rename', 'link', 'open', 'read', 'write', 'flush', 'release', 'fsync', 'opendir',
  'readdir', 'releasedir', 'fsyncdir', 'statfs', 'setxattr', 'getxattr', 'listxattr', 'removexattr',
  'create', 'interrupt', 'disconnect', 'notified',
];
const IO_A = 6, IO_B = 7, IO_C = 8, IO_D = 9, IO_E = 10, IO_F = 11, IO_G = 12, IO_H = 13, OUT = 16;

const EIO = 5, EINTR = 4, ENOSYS = 38, ENOTSUP = 95, ERANGE = 34, ENODEV = 19;
const O_ACCMODE = 3, O_TRUNC = 0o1000;
const S_IFMT = 0o170000;
// FUSE_SET_ATTR_* (fuse_lowlevel.h)
const SET_MODE = 1, SET_UID = 2, SET_GID = 4, SET_SIZE = 8, SET_ATIME = 16, SET_MTIME = 32, SET_ATIME_NOW = 128,
  SET_MTIME_NOW = 256;
// open reply flags understood by the addon
const F_DIRECT_IO = 1, F_KEEP_CACHE = 2, F_NOFLUSH = 4, F_CACHE_DIR = 16;

/** libfuse reads up to FUSE_MAX_MAX_PAGES (256) pages plus a header page into the receive buffer. */
const RX_SIZE = 256 * 4096 + 4096;

export interface NativeSession {
  mount(mountpoint: string, args: string[], maxWrite: number, wantForget: boolean, wantFlush: boolean): void;
  close(): void;
  replyErr(id: number, errno: number): void;
  replyEntry(id: number): void;
  replyCreate(id: number): void;
  replyAttr(id: number): void;
  replyOpen(id: number): void;
  replyBuf(id: number, data: Uint8Array, offset?: number, length?: number): void;
  replyWrite(id: number, count: number): void;
  replyReadlink(id: number, target: string): void;
  replyStatfs(id: number): void;
  replyXattr(id: number, size: number): void;
  notify(token: number, kind: 0 | 1, ino: number, offOrName: number | string, len?: number): boolean;
  invalAttr(ino: number): number;
  pending(): number;
}

interface Addon {
  Session: new (dispatch: (s1?: string, s2?: string) => void, io: Float64Array, rx: ArrayBuffer) => NativeSession;
}

function packageRoot(): string {
  // src/fuse or dist/src/fuse: the first directory upwards holding package.json
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const ADDON_PATH = join(packageRoot(), 'native', 'fuse', 'build', 'Release', 'pmxfuse.node');

let addon: Addon | null | undefined;
/** The addon, or null when it is not built. */
export function loadAddon(): Addon | null {
  if (addon === undefined) {
    addon = existsSync(ADDON_PATH) ? (createRequire(import.meta.url)(ADDON_PATH) as Addon) : null;
  }
  return addon;
}

export interface NativeOptions {
  /** bytes per WRITE request (conn->max_write); libfuse caps it at 1 MiB */
  maxWrite?: number;
  /**
   * Let readers use the kernel page cache (honouring OpenReply.keepCache) when no writer has the file open (default
   * false: every file handle is direct_io). Off by default because a page-cache reader can see a cut file while a
   * writer opened with O_TRUNC is rewriting it (see native/fuse/README.md); entries and attributes are cached either
   * way.
   */
  pageCache?: boolean;
  /** extra -o mount options */
  mountOptions?: string[];
  /** mount with noatime (default true) */
  noatime?: boolean;
  /** count requests per opcode in `NativeBackend.opCounts` (for benchmarks and tests) */
  countOps?: boolean;
  /**
   * Let the kernel keep directory listings (FOPEN_CACHE_DIR + keep_cache, default true): an unchanged directory is
   * listed without a READDIR. Changes through the mount reset it in the kernel; every entry invalidation from FsOps
   * also drops the directory's cached listing.
   */
  dirCache?: boolean;
  /**
   * Register a FLUSH handler (default true): close() waits for it, so a commit error reaches the writer. Read-only
   * handles are opened with FOPEN_NOFLUSH either way, so readers never pay for it.
   */
  flush?: boolean;
}

interface DirSnap {
  fh: number;
  enc: Encoded | null;
}
interface Encoded {
  stamp: string;
  buf: Buffer;
  /** ends[i] = end offset in buf of record i; the kernel's offset for record i is i + 1 */
  ends: Uint32Array;
}
interface Queued {
  inv: Invalidation;
  key: string;
  done: Promise<void>;
  resolve: () => void;
  issued: boolean;
  /** when it was reported (see answer()); several numbers when several handlers reported the same invalidation */
  seqs: number[];
}

/** A reply sender: the request id, the handler's result, and two request values it needs (inode, flags, fh). */
type Send<T> = (id: number, v: T, a: number, b: number) => void;

function errnoOf(e: unknown): number {
  if (e instanceof FsError && e.errno > 0) return e.errno;
  const code = (e as { errno?: unknown } | null)?.errno;
  // Node system errors carry a negative errno
  if (typeof code === 'number' && code !== 0) return Math.abs(code);
  return EIO;
}

/** The inode whose kernel locks an invalidation needs: the inode itself, or the directory of the entry. */
function target(inv: Invalidation): number {
  return inv.kind === 'inode' ? inv.ino : inv.parent;
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** Encode the kernel's struct fuse_dirent records: ino u64, off u64, namelen u32, type u32, name, pad to 8. */
export function encodeDir(listing: DirListing): Encoded {
  const names = listing.entries.map((e) => Buffer.from(e.name));
  let total = 0;
  for (const n of names) total += (24 + n.length + 7) & ~7;
  const buf = Buffer.alloc(total);
  const ends = new Uint32Array(names.length);
  let p = 0;
  listing.entries.forEach((e, i) => {
    const n = names[i]!;
    buf.writeBigUInt64LE(BigInt(e.ino), p);
    buf.writeBigUInt64LE(BigInt(i + 1), p + 8);
    buf.writeUInt32LE(n.length, p + 16);
    buf.writeUInt32LE((e.mode & S_IFMT) >>> 12, p + 20);
    n.copy(buf, p + 24);
    p += (24 + n.length + 7) & ~7;
    ends[i] = p;
  });
  return { stamp: listing.stamp, buf, ends };
}

export class NativeBackend implements Backend {
  readonly name = 'native';
  /** Called once when the kernel side went away (external unmount, abort) with an errno; the mount is cleaned up. */
  onDisconnect: ((errno: number) => void) | null = null;

  private session: NativeSession | null = null;
  /** MountOptions.onHandlerError */
  private onHandlerError: ((op: string, err: unknown) => void) | null = null;
  private ops: FsOps | null = null;
  private readonly io = new Float64Array(48);
  private readonly rxAb = new ArrayBuffer(RX_SIZE);
  private readonly rx = Buffer.from(this.rxAb);
  /** request id held here (deferred handler, or a reply waiting for invalidations) -> inodes whose kernel locks it
   *  holds [ino, second inode or -1] (for interrupts and the invalidation gate) */
  private readonly deferred = new Map<number, [number, number]>();
  /** deferred requests that may commit a change: not ended by an interrupt (CHANGES) */
  private readonly lasting = new Set<number>();
  /** inode -> number of deferred requests on it */
  private readonly busy = new Map<number, number>();
  private readonly dirs = new Map<number, DirSnap>();
  private readonly dirCache = new Map<number, Encoded>();
  private nextDirFh = 1;
  /** handles (FsOps fh) written through since their last commit */
  private readonly written = new Set<number>();
  /** inodes committed through the kernel whose page cache must not be kept at the next open */
  private readonly dropCache = new Set<number>();
  private readonly queue = new Map<string, Queued>();
  private readonly issued = new Map<number, Queued>();
  private nextToken = 1;
  /** number of invalidations reported so far */
  private invSeq = 0;
  private flushScheduled = false;
  private initDone: ((maxWrite: number) => void) | null = null;
  /** requests received per opcode (OP numbering of the addon), when NativeOptions.countOps */
  readonly opCounts: Uint32Array | null;
  /** inodes announced with attrTimeout 0 (generated files): their GETATTR replies are not cached either */
  private readonly uncached = new Set<number>();
  /** inodes whose attributes we sent since the kernel last dropped them itself (it does at each WRITE) */
  private readonly attrSent = new Set<number>();
  /** writable handles (FsOps fh -> inode) and the number of them open per inode */
  private readonly writerFh = new Map<number, number>();
  private readonly writers = new Map<number, number>();
  /** inodes whose data may sit in the page cache (opened without direct_io) */
  private readonly pageCached = new Set<number>();
  /**
   * inode -> lookups the kernel holds (every reply carrying an entry counts one, FORGET gives them back; the root is
   * always held). The kernel caches nothing of an inode it holds no lookup of, and no dentry points to it, so its
   * invalidations are skipped. Replies that never reached the kernel only overcount, which is safe.
   */
  private readonly known = new Map<number, number>();
  /** what the kernel agreed to at INIT */
  maxWrite = 0;

  constructor(private readonly nopts: NativeOptions = {}) {
    this.opCounts = nopts.countOps ? new Uint32Array(40) : null;
  }

  static available(): boolean {
    return loadAddon() !== null;
  }

  async mount(ops: FsOps, opts: MountOptions): Promise<void> {
    if (this.session) throw new Error('already mounted');
    const a = loadAddon();
    if (!a) throw new Error(`native FUSE addon not built (${ADDON_PATH}): run node scripts/build-native.mjs fuse`);
    if (!opts.mountpoint.startsWith('/')) throw new Error('mountpoint must be absolute');
    this.ops = ops;
    this.onHandlerError = opts.onHandlerError ?? null;
    // libfuse splits -o at commas: escape them in the name
    const o = [`fsname=${opts.fsname.replace(/[\\,]/g, (c) => `\\${c}`)}`];
    if (opts.allowOther) o.push('allow_other', 'default_permissions');
    // The store keeps no atime (it is the mtime): without noatime every read would mark the cached attributes stale
    // and make the next stat a GETATTR round trip.
    if (this.nopts.noatime ?? true) o.push('noatime');
    o.push(...(this.nopts.mountOptions ?? []));
    const args = ['-o', o.join(',')];
    if (opts.debug) args.push('-d');
    const session = new a.Session(this.dispatch, this.io, this.rxAb);
    const ready = new Promise<number>((resolve) => (this.initDone = resolve));
    // FORGET always reaches JS: the per-inode bookkeeping here is dropped with it.
    session.mount(opts.mountpoint, args, this.nopts.maxWrite ?? 1 << 20, true, this.nopts.flush ?? true);
    this.session = session;
    // A process exiting without unmount() would leave "Transport endpoint is not connected" behind.
    process.on('exit', this.onExit);
    ops.onInvalidate(this.invalidate);
    if (ops.attrTimeout !== undefined) this.attrTimeout = ops.attrTimeout;
    this.maxWrite = await ready;
  }

  private readonly onExit = (): void => {
    this.session?.close();
  };

  async unmount(): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = null;
    process.off('exit', this.onExit);
    this.ops?.onInvalidate(null);
    s.close();
    this.deferred.clear();
    this.lasting.clear();
    this.busy.clear();
    this.writerFh.clear();
    this.writers.clear();
    this.dirs.clear();
    this.dirCache.clear();
    this.known.clear();
    // Nobody caches anything of an unmounted filesystem.
    for (const q of this.queue.values()) q.resolve();
    for (const q of this.issued.values()) q.resolve();
    this.queue.clear();
    this.issued.clear();
  }

  /** Number of requests received and not yet answered (deferred). */
  get outstanding(): number {
    return this.deferred.size;
  }

  // ---- request dispatch ----

  private readonly dispatch = (s1?: string, s2?: string): void => {
    const io = this.io;
    const op = io[0]!;
    const id = io[1]!;
    const ino = io[2]!;
    const ops = this.ops!;
    const s = this.session;
    if (!s) return;
    if (this.opCounts) this.opCounts[op]!++;
    switch (op) {
      // The hot requests call their handler inline (no closure per request) and reply through done().
      case OP.LOOKUP: {
        const since = this.invSeq;
        let r: ReturnType<FsOps['lookup']>;
        try {
          r = ops.lookup(ino, s1!, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendEntry, 0, 0);
      }
      case OP.FORGET: {
        const left = (this.known.get(ino) ?? 0) - io[IO_A]!;
        if (left > 0) {
          // a LOOKUP answered after the kernel sent this FORGET: the kernel holds the number again
          this.known.set(ino, left);
          return;
        }
        this.known.delete(ino);
        try {
          ops.forget?.(ino, io[IO_A]!);
        } catch (e) {
          this.onHandlerError?.('forget', e);
          throw e;
        }
        this.pageCached.delete(ino);
        this.dirCache.delete(ino);
        this.attrSent.delete(ino);
        this.uncached.delete(ino);
        return;
      }
      case OP.GETATTR: {
        const since = this.invSeq;
        let r: ReturnType<FsOps['getattr']>;
        try {
          r = ops.getattr(ino, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendAttr, 0, 0);
      }
      case OP.SETATTR: {
        const set = io[IO_A]!;
        const ch: SetAttr = {};
        if (set & SET_MODE) ch.mode = io[IO_B]!;
        if (set & SET_UID) ch.uid = io[IO_C]!;
        if (set & SET_GID) ch.gid = io[IO_D]!;
        if (set & SET_SIZE) ch.size = io[IO_E]!;
        if (set & SET_ATIME_NOW) ch.atime = 'now';
        else if (set & SET_ATIME) ch.atime = io[IO_F]!;
        if (set & SET_MTIME_NOW) ch.mtime = 'now';
        else if (set & SET_MTIME) ch.mtime = io[IO_G]!;
        const fh = io[IO_H]! < 0 ? undefined : io[IO_H]!;
        if (ch.size !== undefined) {
          // A handle's truncate commits with the handle; a path truncate is its own change.
          if (fh !== undefined) this.written.add(fh);
          else this.dropCache.add(ino);
        }
        return this.run(op, id, ino, () => ops.setattr(ino, ch, fh, this.caller()), (rid, attr) => {
          if (ch.size !== undefined && fh === undefined) this.invalidate({ kind: 'inode', ino });
          this.sendAttr(rid, attr);
        });
      }
      case OP.READLINK:
        return this.run(op, id, ino, () => ops.readlink(ino, this.caller()), (rid, t) => s.replyReadlink(rid, t));
      case OP.MKNOD:
        return this.run(op, id, ino, () => ops.mknod(ino, s1!, io[IO_A]!, this.caller()), this.sendEntry);
      case OP.MKDIR:
        return this.run(op, id, ino, () => ops.mkdir(ino, s1!, io[IO_A]!, this.caller()), this.sendEntry);
      case OP.UNLINK:
        return this.run(op, id, ino, () => ops.unlink(ino, s1!, this.caller()), this.sendOk);
      case OP.RMDIR:
        return this.run(op, id, ino, () => ops.rmdir(ino, s1!, this.caller()), this.sendOk);
      case OP.SYMLINK:
        return this.run(op, id, ino, () => ops.symlink(s2!, ino, s1!, this.caller()), this.sendEntry);
      case OP.RENAME:
        return this.run(op, id, ino, () => ops.rename(ino, s1!, io[IO_A]!, s2!, io[IO_B]!, this.caller()), this.sendOk,
          io[IO_A]!);
      case OP.LINK:
        return this.run(op, id, ino, () => ops.link(ino, io[IO_A]!, s1!, this.caller()), this.sendEntry, io[IO_A]!);
      case OP.OPEN: {
        const flags = io[IO_A]!;
        const since = this.invSeq;
        let r: ReturnType<FsOps['open']>;
        try {
          r = ops.open(ino, flags, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendOpen, ino, flags);
      }
      case OP.CREATE: {
        const flags = io[IO_B]!;
        const since = this.invSeq;
        let r: ReturnType<FsOps['create']>;
        try {
          r = ops.create(ino, s1!, io[IO_A]!, flags, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendCreate, flags, 0);
      }
      case OP.READ: {
        const since = this.invSeq;
        let r: ReturnType<FsOps['read']>;
        try {
          r = ops.read(ino, io[IO_A]!, io[IO_B]!, io[IO_C]!, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendData, 0, 0);
      }
      case OP.WRITE: {
        const at = io[IO_D]!;
        const data = this.rx.subarray(at, at + io[IO_B]!);
        this.written.add(io[IO_A]!);
        // the kernel marks the attributes stale itself on every write
        this.attrSent.delete(ino);
        const since = this.invSeq;
        let r: ReturnType<FsOps['write']>;
        try {
          r = ops.write(ino, io[IO_A]!, data, io[IO_C]!, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendWritten, 0, 0);
      }
      case OP.FLUSH: {
        const fh = io[IO_A]!;
        const since = this.invSeq;
        let r: ReturnType<FsOps['flush']>;
        try {
          r = ops.flush(ino, fh, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendCommitted, ino, fh);
      }
      case OP.RELEASE: {
        const w = this.writerFh.get(io[IO_A]!);
        if (w !== undefined) {
          this.writerFh.delete(io[IO_A]!);
          const n = (this.writers.get(w) ?? 1) - 1;
          if (n > 0) this.writers.set(w, n);
          else this.writers.delete(w);
        }
        const fh = io[IO_A]!;
        const since = this.invSeq;
        let r: ReturnType<FsOps['release']>;
        try {
          r = ops.release(ino, fh, this.caller());
        } catch (e) {
          return this.failed(op, id, ino, since, e);
        }
        return this.done(op, id, ino, since, r, this.sendCommitted, ino, fh);
      }
      case OP.FSYNC:
        return this.run(op, id, ino, () => ops.fsync(ino, io[IO_A]!, io[IO_B]! !== 0, this.caller()), (rid) =>
          this.sendCommitted(rid, undefined, ino, io[IO_A]!),
        );
      case OP.OPENDIR:
        return this.run(op, id, ino, () => ops.opendir(ino, io[IO_A]!, this.caller()), (rid, fh) => {
          const mine = this.nextDirFh++;
          this.dirs.set(mine, { fh, enc: null });
          io[OUT + 11] = mine;
          io[OUT + 12] = this.nopts.dirCache === false ? 0 : F_CACHE_DIR | F_KEEP_CACHE;
          s.replyOpen(rid);
        });
      case OP.READDIR:
        return this.readdir(id, ino, io[IO_A]!, io[IO_B]!, io[IO_C]!);
      case OP.RELEASEDIR: {
        const d = this.dirs.get(io[IO_A]!);
        this.dirs.delete(io[IO_A]!);
        if (!d) return s.replyErr(id, 0);
        return this.run(op, id, ino, () => ops.releasedir(ino, d.fh, this.caller()), this.sendOk);
      }
      case OP.FSYNCDIR:
        return s.replyErr(id, 0);
      case OP.STATFS:
        return this.run(op, id, ino, () => ops.statfs(ino, this.caller()), (rid, st) => {
          io[OUT] = st.bsize;
          io[OUT + 1] = st.frsize;
          io[OUT + 2] = st.blocks;
          io[OUT + 3] = st.bfree;
          io[OUT + 4] = st.bavail;
          io[OUT + 5] = st.files;
          io[OUT + 6] = st.ffree;
          io[OUT + 7] = st.favail;
          io[OUT + 8] = st.namemax;
          s.replyStatfs(rid);
        });
      case OP.GETXATTR: {
        const size = io[IO_A]!;
        let r: ReturnType<FsOps['getxattr']>;
        try {
          r = ops.getxattr(ino, s1!, this.caller());
        } catch (e) {
          // ENOSYS makes the kernel stop asking (it answers EOPNOTSUPP itself): no more security.capability
          // lookups on every write.
          const no = this.handlerErrno(op, e);
          return s.replyErr(id, no === ENOTSUP ? ENOSYS : no);
        }
        return this.settle(op, id, ino, r, (rid, v) => {
          if (size === 0) s.replyXattr(rid, v.length);
          else if (v.length > size) s.replyErr(rid, ERANGE);
          else s.replyBuf(rid, v);
        });
      }
      case OP.SETXATTR:
      case OP.LISTXATTR:
      case OP.REMOVEXATTR:
        // not part of FsOps: xattrs are unsupported (ENOSYS: the kernel answers EOPNOTSUPP from now on)
        return s.replyErr(id, ENOSYS);
      case OP.INTERRUPT:
        return this.interrupt(id);
      case OP.INIT:
        this.initDone?.(io[IO_A]!);
        this.initDone = null;
        return;
      case OP.DISCONNECT: {
        const why = io[IO_A]! || ENODEV;
        // Not from inside the addon's poll callback: close() tears down the poll handle.
        setImmediate(() => {
          if (!this.session) return;
          void this.unmount().then(() => this.onDisconnect?.(why));
        });
        return;
      }
      case OP.NOTIFIED: {
        const q = this.issued.get(io[IO_A]!);
        if (q) {
          this.issued.delete(io[IO_A]!);
          q.resolve();
        }
        return;
      }
      default:
        return s.replyErr(id, ENOSYS);
    }
  };

  private caller(): Caller {
    const io = this.io;
    return { uid: io[3]!, gid: io[4]!, pid: io[5]! };
  }

  /**
   * Call a handler; answer at once when it returns a value, later when it returns a Promise; EIO if it throws.
   * `ino2`: a second inode whose kernel lock the request holds (RENAME's and LINK's new parent), or -1.
   */
  private run<T>(
    op: number, id: number, ino: number, fn: () => T | Promise<T>, send: (id: number, v: T) => void, ino2 = -1,
  ): void {
    const since = this.invSeq;
    let r: T | Promise<T>;
    try {
      r = fn();
    } catch (e) {
      const no = this.handlerErrno(op, e);
      return this.answer(id, ino, ino2, since, this.invSeq, () => this.session!.replyErr(id, no));
    }
    this.settle(op, id, ino, r, send, ino2, since);
  }

  private settle<T>(
    op: number,
    id: number,
    ino: number,
    r: T | Promise<T>,
    send: (id: number, v: T) => void,
    ino2 = -1,
    since = this.invSeq,
  ): void {
    // what the handler reported before it returned; a Promise's continuation awaits its own invalidations itself
    const upto = this.invSeq;
    if (!isPromise<T>(r)) return this.answer(id, ino, ino2, since, upto, () => this.trySend(id, r, send));
    this.hold(id, ino, ino2);
    if (CHANGES & (1 << op)) this.lasting.add(id);
    r.then(
      (v) => {
        if (this.release(id)) this.answer(id, ino, ino2, since, upto, () => this.trySend(id, v, send));
      },
      (e: unknown) => {
        const no = this.handlerErrno(op, e);
        if (this.release(id)) this.answer(id, ino, ino2, since, upto, () => this.session!.replyErr(id, no));
      },
    );
  }

  /**
   * Reply with a handler's result: at once when it is a value and nothing was invalidated since the request arrived
   * (the common case: no closure, no Promise), else through settle(). `a`, `b`: request values the sender needs.
   */
  private done<T>(
    op: number, id: number, ino: number, since: number, r: T | Promise<T>, send: Send<T>, a: number, b: number,
  ): void {
    if (this.invSeq === since && !isPromise<T>(r)) {
      try {
        send(id, r, a, b);
      } catch (e) {
        this.replyLateErr(id, e);
      }
      return;
    }
    this.settle(op, id, ino, r, (rid, v: T) => send(rid, v, a, b), -1, since);
  }

  /** A handler threw: its errno, once what it invalidated meanwhile is done (see answer()). */
  private failed(op: number, id: number, ino: number, since: number, e: unknown): void {
    const no = this.handlerErrno(op, e);
    if (this.invSeq === since) return this.session!.replyErr(id, no);
    this.answer(id, ino, -1, since, this.invSeq, () => this.session!.replyErr(id, no));
  }

  /** A handler threw or rejected with `e`: reported once (MountOptions.onHandlerError), then its errno. */
  private handlerErrno(op: number, e: unknown): number {
    if (this.onHandlerError) this.onHandlerError(OP_NAMES[op] ?? String(op), e);
    return errnoOf(e);
  }

  private trySend<T>(id: number, v: T, send: (id: number, v: T) => void): void {
    try {
      send(id, v);
    } catch (e) {
      // a malformed result (send threw before answering): the caller gets EIO
      this.replyLateErr(id, e);
    }
  }

  /**
   * Reply, but only once the kernel caches are clean of what this request's handler changed behind the kernel's
   * back (e.g. a lock that expired and vanished during a utime): the invalidations it reported while it ran
   * (numbers since < n <= upto) complete first, except those waiting for a lock this very request holds in the
   * kernel (they follow the reply). Never those of other requests: the notifier issues one at a time, so one stuck
   * on a directory lock held by a request that waited for it would block both for good.
   */
  private answer(id: number, ino: number, ino2: number, since: number, upto: number, reply: () => void): void {
    // fast path: the handler reported nothing
    if (upto === since) return reply();
    const gated = (t: number): boolean => t === ino || t === ino2;
    // Keep the request's inodes busy while it waits, so nothing blocking on them gets issued meanwhile.
    this.hold(id, ino, ino2);
    this.flushQueue();
    const waits: Promise<void>[] = [];
    for (const q of this.issued.values()) {
      if (!gated(target(q.inv)) && q.seqs.some((n) => n > since && n <= upto)) waits.push(q.done);
    }
    if (waits.length === 0) {
      this.release(id);
      return reply();
    }
    void Promise.all(waits).then(() => {
      if (this.release(id)) reply();
    });
  }

  private replyLateErr(id: number, e: unknown): void {
    try {
      this.session?.replyErr(id, errnoOf(e));
    } catch {
      // already answered: the error came after the reply
    }
  }

  private hold(id: number, ino: number, ino2: number): void {
    this.deferred.set(id, [ino, ino2]);
    this.busy.set(ino, (this.busy.get(ino) ?? 0) + 1);
    if (ino2 >= 0) this.busy.set(ino2, (this.busy.get(ino2) ?? 0) + 1);
  }

  /** Bookkeeping when a held request is to be answered; false if it was already answered (interrupt, unmount). */
  private release(id: number): boolean {
    const g = this.deferred.get(id);
    if (!g) return false;
    this.deferred.delete(id);
    this.lasting.delete(id);
    for (const ino of g) {
      if (ino < 0) continue;
      const n = (this.busy.get(ino) ?? 1) - 1;
      if (n > 0) this.busy.set(ino, n);
      else {
        this.busy.delete(ino);
        if (this.queue.size > 0) this.scheduleFlush();
      }
    }
    return this.session !== null;
  }

  private interrupt(id: number): void {
    if (this.lasting.has(id)) return; // a change under way: its result follows
    if (!this.release(id)) return; // answered meanwhile, or never deferred
    // The handler's eventual result is dropped; the caller sees EINTR.
    this.session!.replyErr(id, EINTR);
  }

  // ---- replies ----

  private writeAttr(a: Attr, attrTimeout: number): void {
    const io = this.io;
    if (attrTimeout > 0) this.attrSent.add(a.ino);
    io[OUT] = a.ino;
    io[OUT + 1] = a.mode;
    io[OUT + 2] = a.nlink;
    io[OUT + 3] = a.uid;
    io[OUT + 4] = a.gid;
    io[OUT + 5] = a.size;
    io[OUT + 6] = a.atime;
    io[OUT + 7] = a.mtime;
    io[OUT + 8] = a.ctime;
    io[OUT + 9] = attrTimeout;
  }

  private writeEntry(e: Entry): void {
    // GETATTR replies carry no timeout of their own: remember the inodes that must never be cached (generated files)
    if (e.attrTimeout === 0) this.uncached.add(e.attr.ino);
    // counted before the reply is sent: a reply that fails overcounts, never undercounts
    this.known.set(e.attr.ino, (this.known.get(e.attr.ino) ?? 0) + 1);
    this.writeAttr(e.attr, e.attrTimeout);
    this.io[OUT + 10] = e.entryTimeout;
  }

  private readonly sendEntry = (id: number, e: Entry): void => {
    this.writeEntry(e);
    this.session!.replyEntry(id);
  };

  private readonly sendAttr = (id: number, a: Attr): void => {
    // FsOps.getattr/setattr carry no timeout: FsOps.attrTimeout (or 1 s) for every inode.
    this.writeAttr(a, this.uncached.has(a.ino) ? 0 : this.attrTimeout);
    this.session!.replyAttr(id);
  };

  /** attribute timeout for GETATTR/SETATTR replies, which carry none in the contract (FsOps.attrTimeout if set) */
  attrTimeout = 1;

  private readonly sendOk = (id: number): void => {
    this.session!.replyErr(id, 0);
  };

  private readonly sendData = (id: number, b: Buffer): void => {
    this.session!.replyBuf(id, b);
  };

  private openFlags(ino: number, flags: number, r: OpenReply, created: boolean): number {
    const writing = created || (flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0;
    let f = 0;
    if (writing) {
      this.writerFh.set(r.fh, ino);
      this.writers.set(ino, (this.writers.get(ino) ?? 0) + 1);
    }
    // Written data must not reach the page cache before it is committed: writers bypass it. While a writer is open,
    // readers bypass it too: the kernel moves its own i_size with each uncommitted write (and to 0 at O_TRUNC), and
    // page-cache reads stop at i_size, which would show a reader a cut version; direct reads stop where the daemon
    // says.
    if (r.directIo || writing || !this.nopts.pageCache || this.writers.has(ino)) f |= F_DIRECT_IO;
    else this.pageCached.add(ino);
    if (r.keepCache && !this.dropCache.delete(ino)) f |= F_KEEP_CACHE;
    // Readers commit nothing: spare them the FLUSH round trip at close().
    if (!writing) f |= F_NOFLUSH;
    return f;
  }

  private readonly sendWritten = (id: number, n: number): void => {
    this.session!.replyWrite(id, n);
  };

  private readonly sendCreate = (id: number, r: CreateReply, flags: number): void => {
    this.writeEntry(r);
    this.io[OUT + 11] = r.open.fh;
    this.io[OUT + 12] = this.openFlags(r.attr.ino, flags, r.open, true);
    this.session!.replyCreate(id);
  };

  private readonly sendOpen = (id: number, r: OpenReply, ino: number, flags: number): void => {
    // O_TRUNC (atomic_o_trunc) is part of the handle's change: its commit replaces the content.
    if ((flags & O_TRUNC) !== 0 && (flags & O_ACCMODE) !== 0) this.written.add(r.fh);
    this.io[OUT + 11] = r.fh;
    this.io[OUT + 12] = this.openFlags(ino, flags, r, false);
    this.session!.replyOpen(id);
  };

  /** After a handle's flush/fsync/release succeeded: if it wrote, its commit replaced what the kernel may cache. */
  private readonly sendCommitted = (id: number, _v: void, ino: number, fh: number): void => {
    if (this.written.delete(fh)) {
      // Attributes the kernel cached while the handle was open (a SETATTR or GETATTR reply) may predate the
      // commit: drop them before acknowledging it.
      if (this.attrSent.delete(ino)) this.session!.invalAttr(ino);
      // Only an inode some reader opened through the page cache can hold stale pages (writers are direct_io).
      if (this.pageCached.has(ino)) {
        this.dropCache.add(ino);
        void this.invalidate({ kind: 'inode', ino });
      }
    }
    this.session!.replyErr(id, 0);
  };

  private readdir(id: number, ino: number, fh: number, size: number, off: number): void {
    const s = this.session!;
    const d = this.dirs.get(fh);
    if (!d) return s.replyErr(id, EIO);
    const answer = (enc: Encoded): void => {
      // offsets are record index + 1 into the snapshot taken at the first READDIR of this handle
      const start = off === 0 ? 0 : off <= enc.ends.length ? enc.ends[off - 1]! : enc.buf.length;
      let i = off;
      while (i < enc.ends.length && enc.ends[i]! - start <= size) i++;
      const end = i === off ? start : enc.ends[i - 1]!;
      s.replyBuf(id, enc.buf, start, end - start);
    };
    if (d.enc && off !== 0) return answer(d.enc);
    this.run(OP.READDIR, id, ino, () => this.ops!.readdir(ino, d.fh, this.caller()), (rid, listing) => {
      let enc = this.dirCache.get(ino);
      if (!enc || enc.stamp !== listing.stamp) {
        enc = encodeDir(listing);
        this.dirCache.set(ino, enc);
      }
      d.enc = enc;
      id = rid;
      answer(enc);
    });
  }

  // ---- invalidation ----

  /** FsOps.onInvalidate subscriber: settles once the kernel dropped what it cached (or there is no mount). */
  readonly invalidate = (inv: Invalidation): Promise<void> => {
    if (!this.session) return Promise.resolve();
    if (inv.kind === 'inode') {
      if (inv.ino !== ROOT_INO && !this.known.has(inv.ino)) return Promise.resolve();
    } else if (inv.ino !== undefined && inv.ino !== ROOT_INO && !this.known.has(inv.ino) && !this.busy.has(inv.parent)) {
      // No dentry can point to an inode the kernel does not hold (a lookup miss is answered with ENOENT, so the
      // kernel keeps no valid negative dentry either): only the parent's attributes and cached listing remain.
      // Not while a request on the directory is held: its reply may still carry the entry (computed before this
      // change), and dropping the entry after that reply, as before, is what keeps it fresh.
      this.dirCache.delete(inv.parent);
      return this.invalidate({ kind: 'inode', ino: inv.parent, background: inv.background });
    }
    const key = inv.kind === 'inode' ? `i${inv.ino}` : `e${inv.parent}/${inv.name}`;
    // a background invalidation gets no sequence number: answer() waits only for those a handler reported
    const seq = inv.background ? 0 : ++this.invSeq;
    const have = this.queue.get(key);
    if (have) {
      if (seq) have.seqs.push(seq);
      return have.done;
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.queue.set(key, { inv, key, done, resolve, issued: false, seqs: seq ? [seq] : [] });
    if (inv.kind === 'entry') {
      this.dirCache.delete(inv.parent);
      // the kernel may hold the directory's listing (FOPEN_CACHE_DIR) in its page cache: drop it too, and settle
      // only when both are gone
      if (this.nopts.dirCache !== false) {
        const listing = this.invalidate({ kind: 'inode', ino: inv.parent, background: inv.background });
        this.scheduleFlush();
        return Promise.all([done, listing]).then(() => undefined);
      }
    }
    this.scheduleFlush();
    return done;
  };

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Never from inside a request: at least the current one is outstanding.
    setImmediate(this.flushQueue);
  }

  private readonly flushQueue = (): void => {
    this.flushScheduled = false;
    const s = this.session;
    if (!s) return;
    for (const q of this.queue.values()) {
      const ino = target(q.inv);
      // A READ (inode) or a LOOKUP in the directory (entry) still outstanding here would hold the kernel lock the
      // invalidation waits for: wait until this inode has nothing pending (release() reschedules).
      if (this.busy.has(ino)) continue;
      this.queue.delete(q.key);
      const token = this.nextToken++;
      this.issued.set(token, q);
      const ok =
        q.inv.kind === 'inode' ? s.notify(token, 0, q.inv.ino, 0, 0) : s.notify(token, 1, q.inv.parent, q.inv.name);
      if (!ok) {
        this.issued.delete(token);
        q.resolve();
      }
    }
  };
}
