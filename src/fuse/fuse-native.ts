// The fallback backend: fuse-native (libfuse 2, high-level, path based, its own threads). Paths are resolved to
// inodes through FsOps.lookup; handle-based calls use the handle, so an unlinked open file keeps working.
import { createRequire } from 'node:module';
import { E, FsError } from '../errors.js';
import { ROOT_INO, type Attr, type Backend, type Caller, type FsOps, type MountOptions, type Result, type SetAttr } from './backend.js';

const require = createRequire(import.meta.url);

type Cb = (err: number, ...rest: unknown[]) => void;
interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
type FuseCtor = new (mnt: string, ops: Record<string, unknown>, opts: Record<string, unknown>) => FuseInstance;

/** fuse-native hands no caller identity to JS; the kernel already enforced permissions (default_permissions). */
const NOBODY: Caller = { uid: 0, gid: 0, pid: 0 };

function errnoOf(err: unknown): number {
  if (err instanceof FsError) return -err.errno;
  return -E.EIO;
}

/** Reports a handler's error (MountOptions.onHandlerError) and gives its errno. */
type Fail = (op: string, err: unknown) => number;

/** read and write answer with the byte count in the errno's place. */
function settleCount(fail: Fail, op: string, cb: Cb, run: () => Result<number>): void {
  settle(fail, op, (err, n) => cb(err === 0 ? (n as number) : err), run, (n) => [n]);
}

/** Runs a handler that may answer now or later and calls back fuse-native style (negative errno). */
function settle<T>(fail: Fail, op: string, cb: Cb, run: () => Result<T>, ok: (v: T) => unknown[]): void {
  let r: Result<T>;
  try {
    r = run();
  } catch (err) {
    cb(fail(op, err));
    return;
  }
  if (r instanceof Promise) r.then((v) => cb(0, ...ok(v)), (err) => cb(fail(op, err)));
  else cb(0, ...ok(r));
}

export class FuseNativeBackend implements Backend {
  readonly name = 'fuse-native';
  private fuse: FuseInstance | null = null;

  async mount(fs: FsOps, opts: MountOptions): Promise<void> {
    const Fuse = require('fuse-native') as FuseCtor;
    const report = opts.onHandlerError;
    const fail: Fail = (op, err) => {
      report?.(op, err);
      return errnoOf(err);
    };
    const split = (path: string): [string, string] => {
      const i = path.lastIndexOf('/');
      return [path.slice(0, i) || '/', path.slice(i + 1)];
    };
    const sync = <T>(r: Result<T>): T => {
      if (r instanceof Promise) throw new FsError(E.EIO, 'lookup must answer synchronously');
      return r;
    };
    const ino = (path: string): number => {
      let cur = ROOT_INO;
      for (const part of path.split('/')) if (part) cur = sync(fs.lookup(cur, part, NOBODY)).attr.ino;
      return cur;
    };
    const parentOf = (path: string): [number, string] => {
      const [dir, name] = split(path);
      return [ino(dir), name];
    };
    const stat = (a: { mode: number; uid: number; gid: number; size: number; nlink: number; ino: number; mtime: number; atime: number; ctime: number }) => ({
      ...a,
      mtime: a.mtime * 1000,
      atime: a.atime * 1000,
      ctime: a.ctime * 1000,
      blksize: 4096,
      blocks: Math.ceil(a.size / 512),
    });

    // libfuse 2 asks getattr after every setattr; a utime that released a lock removed the entry, so that one
    // getattr is answered with the attributes the setattr returned.
    let lastSet: { path: string; attr: Attr } | null = null;
    const setattr = (path: string, ch: SetAttr, fh: number | undefined, cb: Cb) =>
      settle(fail, 'setattr', cb, () => {
        const r = fs.setattr(ino(path), ch, fh, NOBODY);
        const keep = (attr: Attr) => void (lastSet = { path, attr });
        return r instanceof Promise ? r.then(keep) : keep(r);
      }, () => []);
    const getattr = (path: string, cb: Cb) => {
      const last = lastSet;
      lastSet = null;
      settle(fail, 'getattr', cb, () => {
        try {
          return fs.getattr(ino(path), NOBODY);
        } catch (err) {
          if (last?.path === path && err instanceof FsError && err.errno === E.ENOENT) return last.attr;
          throw err;
        }
      }, (a) => [stat(a)]);
    };

    const ops: Record<string, unknown> = {
      getattr,
      fgetattr: (path: string, _fd: number, cb: Cb) => getattr(path, cb),
      readlink: (path: string, cb: Cb) => settle(fail, 'readlink', cb, () => fs.readlink(ino(path), NOBODY), (t) => [t]),
      chmod: (path: string, mode: number, cb: Cb) => setattr(path, { mode }, undefined, cb),
      chown: (path: string, uid: number, gid: number, cb: Cb) => setattr(path, { uid: uid >>> 0, gid: gid >>> 0 }, undefined, cb),
      truncate: (path: string, size: number, cb: Cb) => setattr(path, { size }, undefined, cb),
      ftruncate: (path: string, fd: number, size: number, cb: Cb) => setattr(path, { size }, fd, cb),
      // fuse-native passes atime for both times (its own bug); utime(0,0) and touch set both alike
      utimens: (path: string, atime: number, _mtime: number, cb: Cb) => setattr(path, { mtime: Math.floor(atime / 1000) }, undefined, cb),
      mknod: (path: string, mode: number, _dev: number, cb: Cb) =>
        settle(fail, 'mknod', cb, () => { const [p, n] = parentOf(path); return fs.mknod(p, n, mode, NOBODY); }, () => []),
      mkdir: (path: string, mode: number, cb: Cb) =>
        settle(fail, 'mkdir', cb, () => { const [p, n] = parentOf(path); return fs.mkdir(p, n, mode, NOBODY); }, () => []),
      unlink: (path: string, cb: Cb) => settle(fail, 'unlink', cb, () => { const [p, n] = parentOf(path); return fs.unlink(p, n, NOBODY); }, () => []),
      rmdir: (path: string, cb: Cb) => settle(fail, 'rmdir', cb, () => { const [p, n] = parentOf(path); return fs.rmdir(p, n, NOBODY); }, () => []),
      symlink: (target: string, path: string, cb: Cb) =>
        settle(fail, 'symlink', cb, () => { const [p, n] = parentOf(path); return fs.symlink(target, p, n, NOBODY); }, () => []),
      link: (src: string, dest: string, cb: Cb) =>
        settle(fail, 'link', cb, () => { const [p, n] = parentOf(dest); return fs.link(ino(src), p, n, NOBODY); }, () => []),
      rename: (src: string, dest: string, cb: Cb) =>
        settle(fail, 'rename', cb, () => {
          const [p, n] = parentOf(src);
          const [np, nn] = parentOf(dest);
          return fs.rename(p, n, np, nn, 0, NOBODY);
        }, () => []),
      open: (path: string, flags: number, cb: Cb) => settle(fail, 'open', cb, () => fs.open(ino(path), flags, NOBODY), (o) => [o.fh]),
      // No `create`: fuse-native's drops the open flags (O_APPEND, O_RDWR...). Without it libfuse answers ENOSYS and
      // the kernel creates with mknod (the empty file is stored at once) and then opens with the caller's flags.
      read: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
        settleCount(fail, 'read', cb, () => {
          const r = fs.read(0, fd, len, pos, NOBODY);
          const copy = (data: Buffer) => data.copy(buf);
          return r instanceof Promise ? r.then(copy) : copy(r);
        }),
      write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
        settleCount(fail, 'write', cb, () => fs.write(0, fd, buf.subarray(0, len), pos, NOBODY)),
      flush: (_path: string, fd: number, cb: Cb) => settle(fail, 'flush', cb, () => fs.flush(0, fd, NOBODY), () => []),
      fsync: (_path: string, datasync: number, fd: number, cb: Cb) => settle(fail, 'fsync', cb, () => fs.fsync(0, fd, !!datasync, NOBODY), () => []),
      release: (_path: string, fd: number, cb: Cb) => settle(fail, 'release', cb, () => fs.release(0, fd, NOBODY), () => []),
      opendir: (path: string, flags: number, cb: Cb) => settle(fail, 'opendir', cb, () => fs.opendir(ino(path), flags, NOBODY), (fh) => [fh]),
      readdir: (path: string, cb: Cb) => settle(fail, 'readdir', cb, () => fs.readdir(ino(path), 0, NOBODY), (l) => [l.entries.map((e) => e.name)]),
      releasedir: (_path: string, fd: number, cb: Cb) => settle(fail, 'releasedir', cb, () => fs.releasedir(0, fd, NOBODY), () => []),
      statfs: (_path: string, cb: Cb) => settle(fail, 'statfs', cb, () => fs.statfs(ROOT_INO, NOBODY), (s) => [s]),
      getxattr: (_path: string, _name: string, _pos: number, cb: Cb) => cb(-E.ENOTSUP),
      setxattr: (_path: string, _name: string, _value: Buffer, _pos: number, _flags: number, cb: Cb) => cb(-E.ENOTSUP),
      listxattr: (_path: string, cb: Cb) => cb(-E.ENOTSUP),
      removexattr: (_path: string, _name: string, cb: Cb) => cb(-E.ENOTSUP),
    };

    // fuse-native has no switches for these: libfuse 2 reads them from the option list that follows fsname.
    // No kernel caching at all (direct_io, zero timeouts): this backend has no invalidation, and a writer's pages
    // in the page cache would show other readers content that was not committed.
    const fsname = `${opts.fsname},hard_remove,big_writes,atomic_o_trunc,direct_io,attr_timeout=0,entry_timeout=0,negative_timeout=0`;
    const fuse = new Fuse(opts.mountpoint, ops, {
      fsname,
      allowOther: opts.allowOther,
      defaultPermissions: opts.allowOther,
      debug: false,
      timeout: false,
    });
    await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
    this.fuse = fuse;
  }

  async unmount(): Promise<void> {
    const fuse = this.fuse;
    this.fuse = null;
    if (!fuse) return;
    await new Promise<void>((resolve) => fuse.unmount(() => resolve()));
  }
}
