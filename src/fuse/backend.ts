// The contract between the filesystem logic (src/fs) and a FUSE backend (src/fuse/*).
//
// The filesystem is inode based, like the libfuse low-level API: the native backend maps requests 1:1, the
// fuse-native (path based) backend resolves paths to inodes with `lookup`. Nothing FUSE-specific lives in src/fs.
//
// Every handler either returns its result, returns a Promise of it (a change that must first be committed, or
// later travel through the cluster), or throws/rejects with an FsError carrying a positive errno.

export const ROOT_INO = 1;

export interface Attr {
  ino: number;
  /** full st_mode: type bits | permission bits */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** seconds since the epoch (the store keeps whole seconds, like the original) */
  mtime: number;
  atime: number;
  ctime: number;
}

export interface Entry {
  attr: Attr;
  /** seconds the kernel may cache the name -> inode mapping (0: ask every time) */
  entryTimeout: number;
  /** seconds the kernel may cache the attributes */
  attrTimeout: number;
}

export interface OpenReply {
  fh: number;
  /** bypass the page cache for this handle (generated files whose content changes without a write) */
  directIo: boolean;
  /** keep the page cache from earlier opens (content is invalidated explicitly when it changes) */
  keepCache: boolean;
}

export interface CreateReply extends Entry {
  open: OpenReply;
}

export interface DirEntry {
  name: string;
  ino: number;
  /** st_mode type bits (S_IFDIR, S_IFREG, S_IFLNK) */
  mode: number;
}

export interface DirListing {
  /** Stable while the directory does not change: a backend may cache what it encoded from `entries` under it. */
  stamp: string;
  /** '.' and '..' included */
  entries: DirEntry[];
}

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** seconds; 'now' when the caller asked for UTIME_NOW */
  atime?: number | 'now';
  mtime?: number | 'now';
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

/** Who sent a request, as the kernel reports it. */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
}

/**
 * An inode's cached data or a directory entry changed by another way than the kernel's own request
 * (a replicated change, a lock expiry, a generated file). Backends that let the kernel cache must invalidate.
 */
/**
 * A cache entry to drop. `background`: the change came from elsewhere (another node, a catch-up), not from a request
 * being answered, so no reply waits for it (a reply that did could wait on a kernel lock held by another request).
 */
export type Invalidation =
  | { kind: 'inode'; ino: number; background?: boolean }
  /**
   * `ino`: the only inode the name can point to in the kernel's cache (it is the entry's inode, and no other inode
   * of ours had that name). A backend that knows the kernel holds no lookup of it may skip the entry (no dentry
   * can point to an inode the kernel does not hold) and drop only the parent's attributes and listing.
   */
  | { kind: 'entry'; parent: number; name: string; ino?: number; background?: boolean };

export type Result<T> = T | Promise<T>;

export interface FsOps {
  lookup(parent: number, name: string, caller: Caller): Result<Entry>;
  /** The kernel dropped every lookup of `ino` (backends that count lookups report it once the count is 0). */
  forget?(ino: number, nlookup: number): void;
  getattr(ino: number, caller: Caller): Result<Attr>;
  setattr(ino: number, changes: SetAttr, fh: number | undefined, caller: Caller): Result<Attr>;
  readlink(ino: number, caller: Caller): Result<string>;
  mknod(parent: number, name: string, mode: number, caller: Caller): Result<Entry>;
  mkdir(parent: number, name: string, mode: number, caller: Caller): Result<Entry>;
  unlink(parent: number, name: string, caller: Caller): Result<void>;
  rmdir(parent: number, name: string, caller: Caller): Result<void>;
  symlink(target: string, parent: number, name: string, caller: Caller): Result<Entry>;
  /** flags: RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2) */
  rename(parent: number, name: string, newParent: number, newName: string, flags: number, caller: Caller): Result<void>;
  link(ino: number, newParent: number, newName: string, caller: Caller): Result<Entry>;
  open(ino: number, flags: number, caller: Caller): Result<OpenReply>;
  create(parent: number, name: string, mode: number, flags: number, caller: Caller): Result<CreateReply>;
  /** The returned Buffer may be shorter than size at end of file. */
  read(ino: number, fh: number, size: number, offset: number, caller: Caller): Result<Buffer>;
  /** `data` is only valid during the synchronous part of the call: copy what you keep. Returns bytes written. */
  write(ino: number, fh: number, data: Buffer, offset: number, caller: Caller): Result<number>;
  flush(ino: number, fh: number, caller: Caller): Result<void>;
  release(ino: number, fh: number, caller: Caller): Result<void>;
  fsync(ino: number, fh: number, datasync: boolean, caller: Caller): Result<void>;
  opendir(ino: number, flags: number, caller: Caller): Result<number>;
  readdir(ino: number, fh: number, caller: Caller): Result<DirListing>;
  releasedir(ino: number, fh: number, caller: Caller): Result<void>;
  statfs(ino: number, caller: Caller): Result<StatFs>;
  /** xattrs are not supported: ENOTSUP (getxattr of security.* may answer ENODATA) */
  getxattr(ino: number, name: string, caller: Caller): Result<Buffer>;
  /**
   * Invalidations are reported through this callback; one subscriber (the mounted backend). The callback may return
   * a Promise that settles once the kernel no longer caches the old data: await it before acknowledging a change.
   * The native backend waits by itself for what a handler reports before it returns; what a handler reports later
   * (after an await) it must await itself: the backend cannot tell whose it is. `background` ones are never awaited.
   */
  onInvalidate(cb: ((inv: Invalidation) => void | Promise<void>) | null): void;
  /**
   * Seconds the kernel may cache what getattr/setattr answer (default 1). Inodes whose Entry came with
   * attrTimeout 0 (generated files) stay uncached.
   */
  readonly attrTimeout?: number;
}

export interface MountOptions {
  /** absolute mount point */
  mountpoint: string;
  fsname: string;
  /** allow_other + default_permissions, as the original */
  allowOther: boolean;
  debug: boolean;
  /**
   * Called once for every error a handler threw or rejected with, with the FsOps method's name, before the backend
   * answers the errno (EIO for anything but an FsError). Errno answers are part of the protocol; anything else is a
   * bug worth a log line (src/fs/error-log.ts).
   */
  onHandlerError?: (op: string, err: unknown) => void;
}

export interface Backend {
  readonly name: string;
  mount(ops: FsOps, opts: MountOptions): Promise<void>;
  /** Unmount; pending requests are failed. Safe to call twice. */
  unmount(): Promise<void>;
}

export { FsError } from '../errors.js';
