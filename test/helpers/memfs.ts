// A small in-memory FsOps for testing and benchmarking FUSE backends without the real filesystem logic.
// Map-based inode tree; writes are buffered per handle and committed at flush/fsync/release, like src/fs.
// `change()` modifies a file "inside the daemon" (as a replicated change would) and reports it via onInvalidate.

import {
  FsError,
  ROOT_INO,
  type Attr,
  type Caller,
  type CreateReply,
  type DirListing,
  type Entry,
  type FsOps,
  type Invalidation,
  type OpenReply,
  type Result,
  type SetAttr,
  type StatFs,
} from '../../src/fuse/backend.js';

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000;
const ENOENT = 2, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, ENOTEMPTY = 39, EINVAL = 22, ENOTSUP = 95, EBADF = 9;
const ENODATA = 61, ENOSYS = 38, EPERM = 1;
const O_ACCMODE = 3, O_TRUNC = 0o1000, O_APPEND = 0o2000;

interface Node {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  ctime: number;
  data: Buffer;
  children: Map<string, number> | null;
  target: string;
  version: number;
}

interface Handle {
  ino: number;
  /** pending content (null: nothing written yet) */
  buf: Buffer | null;
  dirty: boolean;
  append: boolean;
  /** the spare-capacity allocation behind buf, which writes may extend in place */
  own: ArrayBufferLike | null;
}

export interface MemFsOptions {
  entryTimeout?: number;
  attrTimeout?: number;
  keepCache?: boolean;
  /** answer every request through a Promise resolved on a later tick */
  deferAll?: boolean;
  /** commits of files larger than this fail with EFBIG (default 1 MiB, as the real filesystem) */
  maxFileSize?: number;
}

export interface OpLog {
  op: string;
  ino: number;
  size?: number;
}

const now = (): number => Math.floor(Date.now() / 1000);

/** FsError without a stack trace: capturing one costs microseconds per negative LOOKUP, which is not the backend's. */
function fail(errno: number, message?: string): FsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new FsError(errno, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export class MemFs implements FsOps {
  private readonly nodes = new Map<number, Node>();
  private readonly handles = new Map<number, Handle>();
  private nextIno = ROOT_INO + 1;
  private nextFh = 1;
  private dirStamp = 0;
  private invalidateCb: ((inv: Invalidation) => void | Promise<void>) | null = null;
  /** test hooks: return a value/Promise to replace the normal answer of a read */
  readHook: ((ino: number, size: number, offset: number) => Result<Buffer> | undefined) | null = null;
  /** test hook: return a value/Promise to replace the normal answer of an open */
  openHook: ((ino: number, flags: number) => Result<OpenReply> | undefined) | null = null;
  /** test hook, called inside setattr before it answers (to change other things "inside the daemon") */
  /** runs first in setattr; a Promise it returns (an invalidation) is awaited before the reply, as FsOps requires */
  setattrHook: ((ino: number, changes: SetAttr) => void | Promise<void>) | null = null;
  /** inodes opened with direct_io (generated files: every read reaches the daemon and can be interrupted) */
  readonly directIo = new Set<number>();
  /** record of calls (only while `recording` is on) */
  readonly log: OpLog[] = [];
  recording = false;
  readonly opts: Required<MemFsOptions>;

  constructor(opts: MemFsOptions = {}) {
    this.opts = { entryTimeout: 1, attrTimeout: 1, keepCache: true, deferAll: false, maxFileSize: 1 << 20, ...opts };
    const t = now();
    this.nodes.set(ROOT_INO, {
      ino: ROOT_INO, mode: S_IFDIR | 0o755, nlink: 2, mtime: t, ctime: t, data: Buffer.alloc(0),
      children: new Map(), target: '', version: 0,
    });
  }

  // ---- test API ----

  /** Resolve a path ('a/b/c', no leading slash needed) to its inode. */
  resolve(path: string): number {
    let ino = ROOT_INO;
    for (const part of path.split('/').filter(Boolean)) {
      const n = this.node(ino);
      const c = n.children?.get(part);
      if (c === undefined) throw fail(ENOENT, path);
      ino = c;
    }
    return ino;
  }

  /** Committed content of a file. */
  content(path: string): Buffer {
    return this.node(this.resolve(path)).data;
  }

  /**
   * Replace a file's content (creating it if needed) "inside the daemon", as a replicated change would, and report
   * it. Resolves when the backend says the kernel caches no longer hold the old content.
   */
  async change(path: string, content: string | Buffer): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    const parent = this.resolve(parts.join('/'));
    const p = this.node(parent);
    let ino = p.children!.get(name);
    const waits: (void | Promise<void>)[] = [];
    if (ino === undefined) {
      ino = this.add(parent, name, S_IFREG | 0o644).ino;
      waits.push(this.invalidateCb?.({ kind: 'entry', parent, name }));
    }
    const n = this.node(ino);
    n.data = Buffer.from(content);
    n.version++;
    // mtime deliberately unchanged: the kernel cannot notice this change by itself (auto_inval_data).
    waits.push(this.invalidateCb?.({ kind: 'inode', ino }));
    await Promise.all(waits);
  }

  /** Remove a name "inside the daemon". */
  async remove(path: string): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    const parent = this.resolve(parts.join('/'));
    this.node(parent).children!.delete(name);
    this.dirStamp++;
    this.rec('remove', parent);
    await this.invalidateCb?.({ kind: 'entry', parent, name });
  }

  // ---- helpers ----

  private node(ino: number): Node {
    const n = this.nodes.get(ino);
    if (!n) throw fail(ENOENT);
    return n;
  }

  private dir(ino: number): Node {
    const n = this.node(ino);
    if (!n.children) throw fail(ENOTDIR);
    return n;
  }

  private add(parent: number, name: string, mode: number, target = ''): Node {
    const p = this.dir(parent);
    if (p.children!.has(name)) throw fail(EEXIST);
    if (name.length > 255) throw fail(36);
    const t = now();
    const isDir = (mode & 0o170000) === S_IFDIR;
    const n: Node = {
      ino: this.nextIno++, mode, nlink: isDir ? 2 : 1, mtime: t, ctime: t, data: Buffer.alloc(0),
      children: isDir ? new Map() : null, target, version: 0,
    };
    this.nodes.set(n.ino, n);
    p.children!.set(name, n.ino);
    if (isDir) p.nlink++;
    p.mtime = t;
    this.dirStamp++;
    return n;
  }

  private attr(n: Node): Attr {
    return {
      ino: n.ino, mode: n.mode, nlink: n.nlink, uid: 0, gid: 0,
      size: n.children ? 4096 : n.target ? Buffer.byteLength(n.target) : n.data.length,
      mtime: n.mtime, atime: n.mtime, ctime: n.ctime,
    };
  }

  private entry(n: Node): Entry {
    return { attr: this.attr(n), entryTimeout: this.opts.entryTimeout, attrTimeout: this.opts.attrTimeout };
  }

  private out<T>(fn: () => T): Result<T> {
    if (this.opts.deferAll) return new Promise<T>((res, rej) => setImmediate(() => {
      try {
        res(fn());
      } catch (e) {
        rej(e);
      }
    }));
    return fn();
  }

  private rec(op: string, ino: number, size?: number): void {
    if (this.recording) this.log.push(size === undefined ? { op, ino } : { op, ino, size });
  }

  private commit(h: Handle): void {
    if (!h.dirty || !h.buf) return;
    if (h.buf.length > this.opts.maxFileSize) {
      // the change is refused as a whole; the handle's pending data is dropped
      h.dirty = false;
      h.buf = null;
      h.own = null;
      throw fail(27); // EFBIG
    }
    const n = this.node(h.ino);
    n.data = h.buf;
    n.mtime = n.ctime = now();
    n.version++;
    h.dirty = false;
    h.buf = null;
    h.own = null;
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw fail(EBADF);
    return h;
  }

  // ---- FsOps ----

  lookup(parent: number, name: string, _c: Caller): Result<Entry> {
    return this.out(() => {
      this.rec('lookup', parent);
      const c = this.dir(parent).children!.get(name);
      if (c === undefined) throw fail(ENOENT);
      return this.entry(this.node(c));
    });
  }

  getattr(ino: number, _c: Caller): Result<Attr> {
    return this.out(() => {
      this.rec('getattr', ino);
      return this.attr(this.node(ino));
    });
  }

  setattr(ino: number, ch: SetAttr, fh: number | undefined, _c: Caller): Result<Attr> {
    return this.out((): Result<Attr> => {
      const hooked = this.setattrHook?.(ino, ch);
      const n = this.node(ino);
      if (ch.size !== undefined) {
        if (n.children) throw fail(EISDIR);
        if (fh !== undefined) {
          const h = this.handle(fh);
          const cur = h.buf ?? n.data;
          h.buf = resize(cur, ch.size);
          h.dirty = true;
        } else {
          n.data = resize(n.data, ch.size);
          n.version++;
        }
      }
      if (ch.mtime !== undefined) n.mtime = ch.mtime === 'now' ? now() : ch.mtime;
      if (ch.mode !== undefined) n.mode = (n.mode & 0o170000) | (ch.mode & 0o7777);
      n.ctime = now();
      const a = this.attr(n);
      if (fh !== undefined) {
        const h = this.handles.get(fh);
        if (h?.buf) a.size = h.buf.length;
      }
      return hooked ? hooked.then(() => a) : a;
    }) as Result<Attr>;
  }

  readlink(ino: number): Result<string> {
    return this.out(() => {
      const n = this.node(ino);
      if (!n.target) throw fail(EINVAL);
      return n.target;
    });
  }

  mknod(parent: number, name: string, mode: number): Result<Entry> {
    return this.out(() => {
      if ((mode & 0o170000) !== S_IFREG) throw fail(ENOSYS);
      return this.entry(this.add(parent, name, mode));
    });
  }

  mkdir(parent: number, name: string, mode: number): Result<Entry> {
    return this.out(() => this.entry(this.add(parent, name, S_IFDIR | (mode & 0o7777))));
  }

  unlink(parent: number, name: string): Result<void> {
    return this.out(() => {
      const p = this.dir(parent);
      const c = p.children!.get(name);
      if (c === undefined) throw fail(ENOENT);
      if (this.node(c).children) throw fail(EISDIR);
      if (name.startsWith('.fuse_hidden')) throw fail(EPERM);
      p.children!.delete(name);
      this.node(c).nlink = 0;
      p.mtime = now();
      this.dirStamp++;
    });
  }

  rmdir(parent: number, name: string): Result<void> {
    return this.out(() => {
      const p = this.dir(parent);
      const c = p.children!.get(name);
      if (c === undefined) throw fail(ENOENT);
      const n = this.dir(c);
      if (n.children!.size) throw fail(ENOTEMPTY);
      p.children!.delete(name);
      p.nlink--;
      this.nodes.delete(c);
      this.dirStamp++;
    });
  }

  symlink(target: string, parent: number, name: string): Result<Entry> {
    return this.out(() => this.entry(this.add(parent, name, S_IFLNK | 0o777, target)));
  }

  rename(parent: number, name: string, newParent: number, newName: string, flags: number): Result<void> {
    return this.out(() => {
      if (flags) throw fail(EINVAL);
      const p = this.dir(parent);
      const q = this.dir(newParent);
      const c = p.children!.get(name);
      if (c === undefined) throw fail(ENOENT);
      const old = q.children!.get(newName);
      if (old !== undefined) {
        const o = this.node(old);
        if (o.children && o.children.size) throw fail(ENOTEMPTY);
        o.nlink = 0;
      }
      this.rec(`rename:${name}:${newName}`, parent);
      p.children!.delete(name);
      q.children!.set(newName, c);
      p.mtime = q.mtime = now();
      this.dirStamp++;
    });
  }

  link(): Result<Entry> {
    throw fail(EPERM);
  }

  open(ino: number, flags: number): Result<OpenReply> {
    const hooked = this.openHook?.(ino, flags);
    if (hooked !== undefined) return hooked;
    return this.out(() => {
      const n = this.node(ino);
      if (n.children) throw fail(EISDIR);
      const fh = this.nextFh++;
      const h: Handle = { ino, buf: null, dirty: false, append: (flags & O_APPEND) !== 0, own: null };
      if (flags & O_TRUNC && (flags & O_ACCMODE) !== 0) {
        h.buf = Buffer.alloc(0);
        h.dirty = true;
      }
      this.handles.set(fh, h);
      this.rec('open', ino);
      return { fh, directIo: this.directIo.has(ino), keepCache: this.opts.keepCache };
    });
  }

  create(parent: number, name: string, mode: number, flags: number): Result<CreateReply> {
    return this.out(() => {
      const n = this.add(parent, name, S_IFREG | (mode & 0o7777));
      const fh = this.nextFh++;
      this.handles.set(fh, { ino: n.ino, buf: Buffer.alloc(0), dirty: true, append: (flags & O_APPEND) !== 0, own: null });
      return { ...this.entry(n), open: { fh, directIo: false, keepCache: this.opts.keepCache } };
    });
  }

  read(ino: number, fh: number, size: number, offset: number): Result<Buffer> {
    this.rec('read', ino, size);
    const hooked = this.readHook?.(ino, size, offset);
    if (hooked !== undefined) return hooked;
    return this.out(() => {
      const h = this.handle(fh);
      const data = h.buf ?? this.node(ino).data;
      return data.subarray(offset, offset + size);
    });
  }

  write(ino: number, fh: number, data: Buffer, offset: number): Result<number> {
    this.rec('write', ino, data.length);
    // copy now: `data` is only valid during this synchronous call
    const h = this.handle(fh);
    const cur = h.buf ?? this.node(ino).data;
    const at = h.append ? cur.length : offset;
    const end = Math.max(cur.length, at + data.length);
    let next: Buffer;
    if (h.buf && h.own === h.buf.buffer && h.buf.byteOffset === 0 && h.own.byteLength >= end) {
      next = Buffer.from(h.own, 0, end);
    } else {
      next = Buffer.alloc(Math.max(end, Math.min(cur.length * 2, 1 << 21)));
      h.own = next.buffer;
      cur.copy(next);
      next = next.subarray(0, end);
    }
    data.copy(next, at);
    h.buf = next;
    h.dirty = true;
    const n = data.length;
    return this.out(() => n);
  }

  flush(_ino: number, fh: number): Result<void> {
    return this.out(() => {
      this.rec('flush', _ino);
      const h = this.handles.get(fh);
      if (h) this.commit(h);
    });
  }

  release(_ino: number, fh: number): Result<void> {
    return this.out(() => {
      this.rec('release', _ino);
      const h = this.handles.get(fh);
      if (h) this.commit(h);
      this.handles.delete(fh);
    });
  }

  fsync(_ino: number, fh: number): Result<void> {
    return this.out(() => {
      const h = this.handles.get(fh);
      if (h) this.commit(h);
    });
  }

  opendir(ino: number): Result<number> {
    return this.out(() => {
      this.dir(ino);
      return this.nextFh++;
    });
  }

  readdir(ino: number): Result<DirListing> {
    return this.out(() => {
      const n = this.dir(ino);
      const entries = [
        { name: '.', ino, mode: S_IFDIR },
        { name: '..', ino: ROOT_INO, mode: S_IFDIR },
      ];
      for (const [name, c] of n.children!) entries.push({ name, ino: c, mode: this.node(c).mode });
      return { stamp: `${ino}:${this.dirStamp}`, entries };
    });
  }

  releasedir(): Result<void> {
    return this.out(() => undefined);
  }

  statfs(): Result<StatFs> {
    return this.out(() => ({
      bsize: 4096, frsize: 4096, blocks: 32768, bfree: 30000, bavail: 30000, files: 262144,
      ffree: 262144 - this.nodes.size, favail: 262144 - this.nodes.size, namemax: 255,
    }));
  }

  getxattr(_ino: number, name: string): Result<Buffer> {
    throw fail(name.startsWith('security.') ? ENODATA : ENOTSUP);
  }

  onInvalidate(cb: ((inv: Invalidation) => void | Promise<void>) | null): void {
    this.invalidateCb = cb;
  }
}

function resize(b: Buffer, size: number): Buffer {
  if (size <= b.length) return Buffer.from(b.subarray(0, size));
  const n = Buffer.alloc(size);
  b.copy(n);
  return n;
}
