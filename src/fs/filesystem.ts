// The filesystem as the kernel sees it: FUSE operations mapped to reads of the store and to Ops handed to the
// Committer. Modes, ownership, the symlinks and generated files of the root, locks and write buffering live here;
// the rules about what a change may do live in ops/apply.
import { constants as C, existsSync } from 'node:fs';
import type { Committer } from '../cluster/committer.js';
import { E, FsError, fail } from '../errors.js';
import type {
  Attr, Caller, CreateReply, DirListing, Entry, FsOps, Invalidation, OpenReply, Result, SetAttr, StatFs,
} from '../fuse/backend.js';
import { isFuseHidden, nameErrno, vmidErrno } from '../ops/apply.js';
import type { ApplyResult, Op } from '../ops/op.js';
import type { CommitInfo, Store } from '../store/store.js';
import { DT_DIR, joinPath, ROOT_INODE, type Node } from '../store/tree.js';
import type { Status } from '../status/status.js';
import { HandleTable, type Handle } from './handles.js';
import { LockTable } from './locks.js';
import { PendingFiles, type PendingFile } from './pending.js';
import { VirtualEntries, WWW_DATA_GID, type Virtual } from './virtual.js';

/** FUSE inode numbers: store inode + 1 (the kernel's root is 1, the store's is 0). */
const toIno = (inode: number): number => inode + 1;
const toInode = (ino: number): number => ino - 1;

const S_IFDIR = C.S_IFDIR;
const S_IFREG = C.S_IFREG;
const S_IFLNK = C.S_IFLNK;
const O_ACCMODE = 3;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

/**
 * Cache lifetimes handed to the kernel (seconds); every change the kernel did not make itself is invalidated
 * explicitly, so they bound only what nothing reports: the write bits dropped when quorum goes. A node that can be
 * in a cluster therefore uses 1 s (FilesystemOptions.cacheSeconds), local mode 10 s.
 */
const DEFAULT_CACHE_SECONDS = 10;

export interface FilesystemOptions {
  store: Store;
  committer: Committer;
  status: Status;
  lockExpiryMs: number;
  /** kernel entry/attribute cache lifetime (default 10 s) */
  cacheSeconds?: number;
  /** called when `.debug` switches debug logging */
  setDebug?: (on: boolean) => void;
}

const now = (): number => Math.floor(Date.now() / 1000);

/**
 * FUSE reports the calling thread; threads of one process share its descriptors. 0 means unknown: assume same.
 * Two threads belong to one process when one is listed among the other's tasks: one stat of /proc (never our own
 * mount), no file read. A thread that is gone can no longer tell: assume same, as before.
 */
function sameProcess(a: number, b: number): boolean {
  if (a === b || a === 0 || b === 0) return true;
  return existsSync(`/proc/${a}/task/${b}`) || !existsSync(`/proc/${a}`);
}

/** `then()` once the invalidation `w` (if any) is done. */
function afterInval<T>(w: void | Promise<void>, then: () => Result<T>): Result<T> {
  return w ? w.then(then) : then();
}

export class Filesystem implements FsOps {
  /** what getattr answers may be cached for (generated files excepted, see FsOps.attrTimeout) */
  readonly attrTimeout: number;
  private readonly entryTimeout: number;
  private readonly store: Store;
  private readonly committer: Committer;
  private readonly status: Status;
  private readonly handles = new HandleTable();
  private readonly pending = new PendingFiles();
  readonly locks: LockTable;
  private readonly virtuals: VirtualEntries;
  private invalidate: ((inv: Invalidation) => void | Promise<void>) | null = null;

  constructor(private readonly opts: FilesystemOptions) {
    this.store = opts.store;
    this.committer = opts.committer;
    this.attrTimeout = this.entryTimeout = opts.cacheSeconds ?? DEFAULT_CACHE_SECONDS;
    this.status = opts.status;
    this.locks = new LockTable(this.store.tree, opts.lockExpiryMs);
    this.virtuals = new VirtualEntries(opts.status);
    this.store.onCommit((info) => this.afterCommit(info));
  }

  /** Creates the node's own directories and the lock directory where they are missing (first start, first sync). */
  async ensureLayout(): Promise<void> {
    const node = this.status.nodename;
    for (const path of ['nodes', `nodes/${node}`, `nodes/${node}/qemu-server`, `nodes/${node}/lxc`, `nodes/${node}/priv`, 'priv', 'priv/lock']) {
      if (!this.store.tree.resolve(path)) {
        const r = await this.committer.commit({ kind: 'mkdir', path, mtime: now() });
        if (r.errno && r.errno !== E.EEXIST) throw new FsError(r.errno, `cannot create /${path}`);
      }
    }
  }

  onInvalidate(cb: ((inv: Invalidation) => void | Promise<void>) | null): void {
    this.invalidate = cb;
  }

  // ---- attributes ----

  private isPrivate(node: Node): boolean {
    const tree = this.store.tree;
    // walk up to the top: priv/... or nodes/<n>/priv/...
    const chain: Node[] = [];
    for (let n: Node | undefined = node; n && n.inode !== ROOT_INODE; n = tree.get(n.parent)) chain.push(n);
    chain.reverse();
    if (chain[0]?.name === 'priv') return true;
    return chain[0]?.name === 'nodes' && chain[2]?.name === 'priv';
  }

  /** An entry this node made that a later change removed before its maker was answered: what the maker made. */
  private removedNode(inode: number, dir: Node, name: string, mtime: number, type: Node['type']): Node {
    const isDir = type === DT_DIR;
    return { inode, parent: dir.inode, version: inode, writer: 0, mtime, type, name, data: isDir ? null : Buffer.alloc(0), children: isDir ? new Map() : null, gen: 0 };
  }

  private attrOf(node: Node): Attr {
    const priv = this.isPrivate(node);
    const ro = this.committer.quorate() ? 0 : 0o222;
    let mode: number;
    let size: number;
    if (node.children) {
      mode = S_IFDIR | ((priv ? 0o700 : 0o755) & ~ro);
      size = 0;
    } else {
      mode = S_IFREG | ((priv ? 0o600 : 0o640) & ~ro);
      // the committed size: pending writes of an open handle are nobody's business until they commit
      size = node.data!.length;
    }
    const t = node.inode === ROOT_INODE ? this.status.starttime : node.mtime;
    return { ino: toIno(node.inode), mode, nlink: node.children ? 2 : 1, uid: 0, gid: WWW_DATA_GID, size, mtime: t, atime: t, ctime: t };
  }

  private virtualAttr(v: Virtual): Attr {
    return this.virtuals.attr(v, this.committer.quorate());
  }

  private entry(attr: Attr, generated = false): Entry {
    return { attr, entryTimeout: this.entryTimeout, attrTimeout: generated ? 0 : this.attrTimeout };
  }

  /** A create's reply, built in one literal (a spread of entry() costs a generic object copy per create). */
  private created(attr: Attr, open: OpenReply, generated = false): CreateReply {
    return { attr, entryTimeout: this.entryTimeout, attrTimeout: generated ? 0 : this.attrTimeout, open };
  }

  private node(ino: number): Node {
    if (PendingFiles.isPendingIno(ino)) {
      const p = this.pending.get(ino);
      const n = p?.inode !== null && p?.inode !== undefined ? this.store.tree.get(p.inode) : undefined;
      if (!n) fail(E.ENOENT);
      return n;
    }
    const n = this.store.tree.get(toInode(ino));
    if (!n) fail(E.ENOENT);
    return n;
  }

  /** An uncommitted file created through the kernel, by its inode number. */
  private uncommitted(ino: number): PendingFile | undefined {
    if (!PendingFiles.isPendingIno(ino)) return undefined;
    const p = this.pending.get(ino);
    return p && p.inode === null ? p : undefined;
  }

  /** An uncommitted file is empty, with the modes of its directory's files. */
  private pendingAttr(p: PendingFile): Attr {
    const ro = this.committer.quorate() ? 0 : 0o222;
    const mode = S_IFREG | ((this.isPrivate(p.dir) ? 0o600 : 0o640) & ~ro);
    return { ino: p.ino, mode, nlink: 1, uid: 0, gid: WWW_DATA_GID, size: 0, mtime: p.mtime, atime: p.mtime, ctime: p.mtime };
  }

  /**
   * Commits an uncommitted file as an empty file, for anything but its creator's own writes (another writer, rename,
   * unlink, utime...): from then on it is an ordinary stored file; the creator's writes follow at its close.
   */
  private materialize<T>(p: PendingFile, then: () => Result<T>): Result<T> {
    const op: Op = { kind: 'create', path: this.pathIn(p.dir, p.name), mtime: p.mtime, excl: p.excl };
    const r = this.commit(op, (res) => {
      this.pending.committed(p, res.inode!);
      p.dir.gen++;
    });
    const fin = (): Result<T> => then();
    const onErr = (e: unknown): Promise<never> => afterInval(this.abandon(p), () => Promise.reject(e));
    if (r instanceof Promise) return r.then(fin, onErr);
    return fin();
  }

  /** Drops an uncommitted file; settles once the kernel forgot its name (the caller answers after that). */
  private abandon(p: PendingFile): void | Promise<void> {
    if (p.inode !== null) return;
    this.pending.abandon(p);
    p.dir.gen++;
    return this.forgetEntry(toIno(p.dir.inode), p.name);
  }

  /** Commits the uncommitted file named `name` in `dir` (if there is one) before `then` acts on the name. */
  private settleName<T>(dir: Node, name: string, then: () => Result<T>): Result<T> {
    const p = this.pending.named(dir, name);
    return p ? this.materialize(p, then) : then();
  }

  private dir(ino: number): Node {
    const n = this.node(ino);
    if (!n.children) fail(E.ENOTDIR);
    return n;
  }

  private pathIn(dir: Node, name: string): string {
    return joinPath(this.store.tree.pathOf(dir), name);
  }

  // ---- committing ----

  /** Sends an op through the committer; resolves (synchronously in local mode) with the result or an FsError. */
  private commit<T>(op: Op, then: (r: ApplyResult) => Result<T>): Result<T> {
    if (!this.committer.quorate()) fail(E.EACCES, 'no quorum');
    const r = this.committer.commit(op, true);
    const done = (res: ApplyResult): Result<T> => {
      if (res.errno) throw new FsError(res.errno);
      return then(res);
    };
    return r instanceof Promise ? r.then(done) : done(r);
  }

  private afterCommit(info: CommitInfo): void {
    const tree = this.store.tree;
    for (const c of info.changes) {
      if (c.put?.type === DT_DIR) {
        const n = tree.get(c.put.inode);
        if (n && this.locks.isLock(n)) this.locks.touch(n.inode);
      }
      if (c.del) this.locks.forget(c.del.inode);
    }
    // Changes the kernel did not ask for (replicated ones, the daemon's own) must be invalidated in its caches; it
    // learns of its own requests' changes from their replies (also when a cluster commit is applied on delivery).
    if (!info.kernel && this.invalidate) {
      for (const c of info.changes) {
        const place = c.put ?? c.del;
        if (!place) continue;
        const ino = toIno(place.inode);
        this.invalidate({ kind: 'inode', ino, background: true });
        const alias = this.pending.aliasOf(place.inode);
        if (alias !== undefined) this.invalidate({ kind: 'inode', ino: alias, background: true });
        // The kernel's dentry of the name can only point to this inode, unless the kernel knows the entry by its
        // alias or an uncommitted file of ours has the name: then the backend must not reason from `ino`. (A name
        // that pointed to another inode before shows up as that inode's own del or was.)
        this.invalidate({
          kind: 'entry', parent: toIno(place.parent), name: place.name, background: true,
          ino: alias === undefined && !this.pending.namedAt(place.parent, place.name) ? ino : undefined,
        });
        if (c.was) {
          this.invalidate({
            kind: 'entry', parent: toIno(c.was.parent), name: c.was.name, background: true,
            ino: alias === undefined && !this.pending.namedAt(c.was.parent, c.was.name) ? ino : undefined,
          });
        }
      }
    }
  }

  /**
   * Invalidate what an op of ours changed behind the kernel's back (e.g. a lock released by utime). The backend
   * waits for what a handler reports while it runs; a handler's continuation after an asynchronous commit (cluster
   * mode) awaits the returned Promise itself before it settles.
   */
  private forgetEntry(parentIno: number, name: string): void | Promise<void> {
    return this.invalidate?.({ kind: 'entry', parent: parentIno, name });
  }

  // ---- FsOps ----

  lookup(parent: number, name: string, _caller: Caller): Result<Entry> {
    if (parent === toIno(ROOT_INODE)) {
      const v = this.virtuals.named(name);
      if (v) return this.entry(this.virtualAttr(v), v.kind === 'generated');
    }
    const dir = this.dir(parent);
    const child = dir.children!.get(name);
    if (!child) {
      const p = this.pending.named(dir, name);
      if (p) return this.entry(this.pendingAttr(p));
      fail(E.ENOENT);
    }
    const attr = this.attrOf(child);
    // A file created through the kernel is known there by its pending number until FORGET: answer with that
    // number, or the kernel would drop its dentry as stale and look the name up a second time (a rename onto
    // it, an expired entry).
    const alias = this.pending.aliasOf(child.inode);
    return this.entry(alias === undefined ? attr : { ...attr, ino: alias });
  }

  getattr(ino: number, _caller: Caller): Result<Attr> {
    const v = this.virtuals.get(ino);
    if (v) return this.virtualAttr(v);
    const p = this.uncommitted(ino);
    if (p) return this.pendingAttr(p);
    const attr = this.attrOf(this.node(ino));
    return PendingFiles.isPendingIno(ino) ? { ...attr, ino } : attr;
  }

  forget(ino: number, _nlookup: number): void {
    if (PendingFiles.isPendingIno(ino)) this.pending.forget(ino);
  }

  setattr(ino: number, ch: SetAttr, fh: number | undefined, caller: Caller): Result<Attr> {
    const p = this.uncommitted(ino);
    if (p) {
      const h = fh !== undefined ? this.handles.get(fh) : undefined;
      const onlySize = ch.mode === undefined && ch.uid === undefined && ch.gid === undefined && ch.mtime === undefined;
      if (h?.pending === p && h.writable && onlySize && ch.size !== undefined) {
        if (ch.size > this.store.limits.maxFileSize) fail(E.EFBIG);
        if (!this.committer.quorate()) fail(E.EACCES);
        this.handles.begin(h, Buffer.alloc(0));
        this.handles.truncate(h, ch.size);
        return { ...this.pendingAttr(p), size: 0 };
      }
      return this.materialize(p, () => this.setattr(ino, ch, fh, caller));
    }
    const v = this.virtuals.get(ino);
    const node = v ? null : this.node(ino);
    const current = v ? this.virtualAttr(v) : this.attrOf(node!);
    // chmod only to the mode it has, chown only to root:www-data (the original's rules)
    if (ch.mode !== undefined && (ch.mode & 0o7777) !== (current.mode & 0o7777)) fail(E.EPERM);
    if (ch.uid !== undefined && ch.uid !== 0 && ch.uid !== 0xffffffff && ch.uid !== -1) fail(E.EPERM);
    if (ch.gid !== undefined && ch.gid !== WWW_DATA_GID && ch.gid !== 0xffffffff && ch.gid !== -1) fail(E.EPERM);
    if (v) {
      if (ch.size !== undefined && v.writable) return current; // `echo 1 > .debug` truncates first
      if (ch.size !== undefined || ch.mtime !== undefined) fail(E.EACCES);
      return current;
    }
    const n = node!;
    if (ch.size !== undefined) {
      if (n.children) fail(E.EISDIR);
      if (ch.size > this.store.limits.maxFileSize) fail(E.EFBIG);
      const h = fh !== undefined ? this.handles.get(fh) : undefined;
      if (h && this.handleNode(h) === n && h.writable) {
        // ftruncate is part of the handle's one change
        if (!this.committer.quorate()) fail(E.EACCES);
        this.handles.begin(h, n.data!);
        this.handles.truncate(h, ch.size);
      } else if (ch.size !== n.data!.length) {
        const data = Buffer.alloc(ch.size);
        n.data!.copy(data, 0, 0, Math.min(ch.size, n.data!.length));
        const r = this.commit({ kind: 'write', path: this.store.tree.pathOf(n), data, mtime: now() }, () => undefined);
        if (r instanceof Promise) return r.then(() => this.finishSetattr(n, ch));
      }
    }
    return this.finishSetattr(n, ch);
  }

  private finishSetattr(n: Node, ch: SetAttr): Result<Attr> {
    if (ch.mtime === undefined) return this.attrOf(n);
    const mtime = ch.mtime === 'now' ? now() : Math.floor(ch.mtime);
    const path = this.store.tree.pathOf(n);
    if (this.locks.isLock(n)) {
      if (mtime === 0) {
        // a request to release the lock: granted only once it expired
        if (!this.locks.expired(n)) fail(E.EACCES);
        const parent = toIno(n.parent);
        return this.commit({ kind: 'unlock', path, mtime: now() }, () => {
          const attr = this.attrOf(n);
          return afterInval(this.forgetEntry(parent, n.name), () => attr);
        });
      }
    }
    return this.commit({ kind: 'mtime', path, mtime }, () => this.attrOf(n));
  }

  readlink(ino: number, _caller: Caller): Result<string> {
    const v = this.virtuals.get(ino);
    if (!v || v.kind !== 'symlink') fail(E.EINVAL);
    return v.target!;
  }

  /** Names at the root that belong to the symlinks and generated files. */
  private virtualName(parent: number, name: string): Virtual | undefined {
    return parent === toIno(ROOT_INODE) ? this.virtuals.named(name) : undefined;
  }

  private checkName(name: string): void {
    const errno = nameErrno(this.store, name);
    if (errno) fail(errno);
  }

  mknod(parent: number, name: string, mode: number, caller: Caller): Result<Entry> {
    if ((mode & C.S_IFMT) !== S_IFREG) fail(E.ENOSYS);
    if (this.virtualName(parent, name)) fail(E.EEXIST);
    const r = this.createNow(parent, name, C.O_EXCL | C.O_WRONLY, caller);
    const close = (c: CreateReply): Entry => {
      this.handles.close(c.open.fh);
      return { attr: c.attr, entryTimeout: c.entryTimeout, attrTimeout: c.attrTimeout };
    };
    return r instanceof Promise ? r.then(close) : close(r);
  }

  mkdir(parent: number, name: string, _mode: number, _caller: Caller): Result<Entry> {
    if (this.virtualName(parent, name)) fail(E.EEXIST);
    const dir = this.dir(parent);
    if (dir.children!.has(name) || this.pending.named(dir, name)) fail(E.EEXIST);
    this.checkName(name);
    const mtime = now();
    return this.commit({ kind: 'mkdir', path: this.pathIn(dir, name), mtime }, (r) => {
      // In cluster mode the reply waits until the other members applied the mkdir; a change ordered after it (another
      // node's rmdir) may have removed the directory by then. The mkdir still succeeded: answer with what it made.
      const made = this.store.tree.get(r.inode!) ?? this.removedNode(r.inode!, dir, name, mtime, DT_DIR);
      return this.entry(this.attrOf(made));
    });
  }

  unlink(parent: number, name: string, _caller: Caller): Result<void> {
    if (this.virtualName(parent, name)) fail(E.EACCES);
    const dir = this.dir(parent);
    return this.settleName(dir, name, () => this.commit({ kind: 'unlink', path: this.pathIn(dir, name), mtime: now() }, () => undefined));
  }

  /** A directory holding a file not committed yet is not empty. */
  private holdsPending(dir: Node, name: string): boolean {
    const d = dir.children!.get(name);
    if (!d?.children) return false;
    for (const _ of this.pending.inDir(d)) return true;
    return false;
  }

  rmdir(parent: number, name: string, _caller: Caller): Result<void> {
    if (this.virtualName(parent, name)) fail(E.EACCES);
    const dir = this.dir(parent);
    if (this.holdsPending(dir, name)) fail(E.ENOTEMPTY);
    return this.commit({ kind: 'rmdir', path: this.pathIn(dir, name), mtime: now() }, () => undefined);
  }

  symlink(_target: string, _parent: number, _name: string, _caller: Caller): Result<Entry> {
    fail(E.ENOSYS);
  }

  link(_ino: number, _newParent: number, _newName: string, _caller: Caller): Result<Entry> {
    fail(E.EPERM);
  }

  rename(parent: number, name: string, newParent: number, newName: string, flags: number, _caller: Caller): Result<void> {
    if (flags & RENAME_EXCHANGE) fail(E.EINVAL);
    if (this.virtualName(parent, name) || this.virtualName(newParent, newName)) fail(E.EACCES);
    const dir = this.dir(parent);
    const toDir = this.dir(newParent);
    if (this.pending.named(dir, name) || this.pending.named(toDir, newName)) {
      return this.settleName(dir, name, () => this.settleName(toDir, newName, () => this.rename(parent, name, newParent, newName, flags, _caller)));
    }
    const src = dir.children!.get(name);
    if (!src) fail(E.ENOENT);
    if (this.holdsPending(dir, name) || this.holdsPending(toDir, newName)) fail(E.ENOTEMPTY);
    const from = this.pathIn(dir, name);
    const to = this.pathIn(toDir, newName);
    if (this.locks.isLock(src) || this.locks.isLockPath(to)) fail(E.EACCES);
    if (flags & RENAME_NOREPLACE && toDir.children!.has(newName)) fail(E.EEXIST);
    // libfuse without hard_remove hides an unlinked open file under .fuse_hidden*: such names are never stored
    if (isFuseHidden(newName)) return this.commit({ kind: src.children ? 'rmdir' : 'unlink', path: from, mtime: now() }, () => undefined);
    this.checkName(newName);
    return this.commit({ kind: 'rename', from, to, mtime: now() }, () => undefined);
  }

  open(ino: number, flags: number, caller: Caller): Result<OpenReply> {
    const writable = (flags & O_ACCMODE) !== C.O_RDONLY;
    const v = this.virtuals.get(ino);
    if (v) {
      if (v.kind !== 'generated') fail(E.ELOOP);
      if (writable && !v.writable) fail(E.EACCES);
      const h = this.handles.open({ node: null, generated: v.name, base: v.content!(), pid: caller.pid, writable, append: false });
      return { fh: h.fh, directIo: true, keepCache: false };
    }
    const p = this.uncommitted(ino);
    if (p) {
      // another reader sees the empty file; another writer needs it stored first
      if (writable) return this.materialize(p, () => this.open(ino, flags, caller));
      const h = this.handles.open({ node: null, pending: p, generated: null, base: Buffer.alloc(0), pid: caller.pid, writable, append: false });
      return { fh: h.fh, directIo: true, keepCache: false };
    }
    const node = this.node(ino);
    if (node.children) fail(E.EISDIR);
    if (writable && !this.committer.quorate()) fail(E.EACCES);
    const alias = PendingFiles.isPendingIno(ino) ? this.pending.get(ino) : undefined;
    const h = this.handles.open({ node, pending: alias, generated: null, base: node.data!, pid: caller.pid, writable, append: (flags & C.O_APPEND) !== 0 });
    if (writable && flags & C.O_TRUNC) {
      // truncation at open is part of the handle's one change (atomic_o_trunc)
      this.handles.begin(h, Buffer.alloc(0));
    }
    return { fh: h.fh, directIo: false, keepCache: true };
  }

  create(parent: number, name: string, _mode: number, flags: number, caller: Caller): Result<CreateReply> {
    const v = this.virtualName(parent, name);
    if (v) {
      if (flags & C.O_EXCL) fail(E.EEXIST);
      const open = this.open(v.ino, flags, caller) as OpenReply;
      return this.created(this.virtualAttr(v), open, true);
    }
    const dir = this.dir(parent);
    const existing = dir.children!.get(name);
    const p = this.pending.named(dir, name);
    if (p) {
      if (flags & C.O_EXCL) fail(E.EEXIST);
      const open = this.open(p.ino, flags, caller);
      const entry = (o: OpenReply): CreateReply => this.created(p.inode === null ? this.pendingAttr(p) : { ...this.attrOf(this.node(p.ino)), ino: p.ino }, o);
      return open instanceof Promise ? open.then(entry) : entry(open);
    }
    if (existing) {
      // the kernel's cache was behind: open what is there, O_TRUNC included
      if (flags & C.O_EXCL) fail(E.EEXIST);
      if (existing.children) fail(E.EISDIR);
      const open = this.open(toIno(existing.inode), flags, caller) as OpenReply;
      return this.created(this.attrOf(existing), open);
    }
    this.checkName(name);
    const path = this.pathIn(dir, name);
    const vmid = vmidErrno(this.store, path);
    if (vmid) fail(vmid);
    if (this.store.tree.count + this.pending.size + 1 > this.store.limits.maxEntries) fail(E.ENOSPC);
    if (!this.committer.quorate()) fail(E.EACCES, 'no quorum');
    // Not stored yet: the file is committed with what its creator wrote, in one change at close.
    const pf = this.pending.add(dir, name, (flags & C.O_EXCL) !== 0, now());
    dir.gen++;
    const h = this.handles.open({ node: null, pending: pf, creator: true, generated: null, base: Buffer.alloc(0), pid: caller.pid, writable: (flags & O_ACCMODE) !== C.O_RDONLY, append: (flags & C.O_APPEND) !== 0 });
    return this.created(this.pendingAttr(pf), { fh: h.fh, directIo: false, keepCache: false });
  }

  /** A file created without a handle (mknod): stored at once. */
  private createNow(parent: number, name: string, flags: number, caller: Caller): Result<CreateReply> {
    const dir = this.dir(parent);
    if (dir.children!.has(name) || this.pending.named(dir, name)) fail(E.EEXIST);
    this.checkName(name);
    const path = this.pathIn(dir, name);
    return this.commit({ kind: 'create', path, mtime: now(), excl: (flags & C.O_EXCL) !== 0 }, (r) => {
      // removed by a later change before the reply (cluster mode): the kernel learns of that at its next request
      const node = this.store.tree.get(r.inode!);
      if (!node) fail(E.ENOENT);
      const open = this.open(toIno(node.inode), flags & ~C.O_TRUNC, caller) as OpenReply;
      return this.created(this.attrOf(node), open);
    });
  }

  /** The stored entry behind a handle (a handle of a file created uncommitted learns it at commit). */
  private handleNode(h: Handle): Node | null {
    if (!h.node && h.pending?.inode) h.node = this.store.tree.get(h.pending.inode) ?? null;
    return h.node;
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) fail(E.EBADF);
    return h;
  }

  read(_ino: number, fh: number, size: number, offset: number, _caller: Caller): Result<Buffer> {
    const h = this.handle(fh);
    if (h.buf) {
      // pending writes live in a Buffer that later writes change: hand out a copy
      if (offset >= h.len) return Buffer.alloc(0);
      return Buffer.from(h.buf.subarray(offset, Math.min(h.len, offset + size)));
    }
    // committed content is never modified in place (a commit stores a new Buffer): a view is safe
    return h.base.subarray(offset, Math.min(h.base.length, offset + size));
  }

  write(_ino: number, fh: number, data: Buffer, offset: number, _caller: Caller): Result<number> {
    const h = this.handle(fh);
    if (!h.writable) fail(E.EBADF);
    if (h.generated) {
      this.handles.begin(h, Buffer.alloc(0));
      this.handles.write(h, data, offset);
      return data.length;
    }
    if (!this.committer.quorate()) fail(E.EACCES);
    const node = this.handleNode(h);
    this.handles.begin(h, node ? node.data! : Buffer.alloc(0));
    const at = h.append ? h.len : offset;
    if (at + data.length > this.store.limits.maxFileSize) {
      // refuse now and at close; nothing of this handle's writes is committed
      h.poisoned = E.EFBIG;
      fail(E.EFBIG);
    }
    this.handles.write(h, data, at);
    return data.length;
  }

  /** Commits the handle's pending writes as one change; the result is the close()/fsync() result. */
  private commitHandle(h: Handle): Result<void> {
    // (an abandoned file, whose commit failed at the creator's flush, is not made again by its release)
    const creating = h.creator === true && h.pending !== undefined && h.pending.inode === null && this.pending.live(h.pending);
    if (!h.buf && !h.poisoned && !creating) return;
    if (h.poisoned) {
      const errno = h.poisoned;
      this.handles.clean(h);
      // the file itself was made (empty); what was written past the limit is not
      if (creating) return this.materialize(h.pending!, () => fail(errno));
      fail(errno);
    }
    if (h.generated) {
      const text = h.buf!.subarray(0, h.len).toString();
      this.handles.clean(h);
      if (text !== '0\n' && text !== '1\n' && text !== '0' && text !== '1') fail(E.EIO);
      this.status.debug = text.startsWith('1');
      this.opts.setDebug?.(this.status.debug);
      return;
    }
    const p = h.pending;
    if (p && p.inode === null) {
      // the creator's close: the new file and its content are one change
      const data = h.buf ? this.handles.pending(h) : Buffer.alloc(0);
      this.handles.clean(h);
      const op: Op = { kind: 'create', path: this.pathIn(p.dir, p.name), mtime: now(), excl: p.excl, data };
      let r: Result<void>;
      try {
        r = this.commit(op, (res) => {
          this.pending.committed(p, res.inode!);
          p.dir.gen++;
          h.node = this.store.tree.get(res.inode!) ?? null;
          if (h.node) h.base = h.node.data!;
          // Nothing to invalidate: the kernel's number for the file stays an alias of the stored inode until FORGET
          // (lookups answer with it; changes to the stored inode invalidate the alias too). An entry invalidation
          // here would also lock the directory in the kernel right when the writer goes on to rename the file there.
        });
      } catch (e) {
        this.abandon(p);
        throw e;
      }
      if (r instanceof Promise) return r.catch((e: unknown) => afterInval(this.abandon(p), () => Promise.reject(e)));
      return r;
    }
    const node = this.handleNode(h);
    if (!node || !this.store.tree.get(node.inode)) {
      // unlinked while open: its content goes nowhere, like a deleted file's on any filesystem
      this.handles.clean(h);
      return;
    }
    const data = this.handles.pending(h);
    this.handles.clean(h);
    return this.commit({ kind: 'write', path: this.store.tree.pathOf(node), data, mtime: now() }, () => {
      h.base = node.data!;
    });
  }

  /**
   * FLUSH comes with every close() of any copy of the descriptor: a shell's close after dup2 (before anything was
   * written), the close-on-exec of a forked child. The opener's close after it wrote commits and reports the
   * commit's error; other closes leave the pending change to a later flush, fsync or release.
   */
  flush(_ino: number, fh: number, caller: Caller): Result<void> {
    const h = this.handle(fh);
    if (!h.poisoned && (!h.wrote || !sameProcess(h.pid, caller.pid))) return;
    return this.commitHandle(h);
  }

  fsync(_ino: number, fh: number, _datasync: boolean, _caller: Caller): Result<void> {
    return this.commitHandle(this.handle(fh));
  }

  release(_ino: number, fh: number, _caller: Caller): Result<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    const finish = () => this.handles.close(fh);
    try {
      const r = this.commitHandle(h);
      if (r instanceof Promise) return r.finally(finish);
    } catch (e) {
      finish();
      throw e;
    }
    finish();
  }

  opendir(ino: number, _flags: number, _caller: Caller): Result<number> {
    this.dir(ino);
    return 0;
  }

  readdir(ino: number, _fh: number, _caller: Caller): Result<DirListing> {
    const dir = this.dir(ino);
    const entries = [
      { name: '.', ino, mode: S_IFDIR },
      { name: '..', ino: toIno(dir.parent), mode: S_IFDIR },
    ];
    if (dir.inode === ROOT_INODE) {
      for (const v of this.virtuals.all()) entries.push({ name: v.name, ino: v.ino, mode: v.kind === 'symlink' ? S_IFLNK : S_IFREG });
    }
    for (const child of dir.children!.values()) {
      if (dir.inode === ROOT_INODE && this.virtuals.named(child.name)) continue; // shadowed by a symlink or generated file
      entries.push({ name: child.name, ino: toIno(child.inode), mode: child.children ? S_IFDIR : S_IFREG });
    }
    for (const p of this.pending.inDir(dir)) entries.push({ name: p.name, ino: p.ino, mode: S_IFREG });
    return { stamp: `${ino}:${dir.gen}`, entries };
  }

  releasedir(_ino: number, _fh: number, _caller: Caller): Result<void> {}

  statfs(_ino: number, _caller: Caller): Result<StatFs> {
    const { limits, tree } = this.store;
    const bsize = 4096;
    const blocks = Math.floor(limits.maxDataBytes / bsize);
    const free = Math.max(0, Math.floor((limits.maxDataBytes - tree.dataBytes) / bsize));
    const ffree = Math.max(0, limits.maxEntries - tree.count);
    return { bsize, frsize: bsize, blocks, bfree: free, bavail: free, files: limits.maxEntries, ffree, favail: ffree, namemax: limits.maxNameLength };
  }

  getxattr(_ino: number, _name: string, _caller: Caller): Result<Buffer> {
    fail(E.ENOTSUP);
  }
}
