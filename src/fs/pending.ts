// Files created through a handle and not committed yet. A new file written through one handle (open O_CREAT,
// writes, close) is one change, committed at close: one SQLite transaction, and in cluster mode one round trip.
// Until then the file exists on this node only, as an empty file other local processes can see; anything else
// that touches it (another writer, rename, unlink, chmod...) first commits it as an empty file.
//
// The kernel knows such a file by an inode number of its own range; once committed, that number stays an alias of
// the stored entry until the kernel forgets it.
import type { Node } from '../store/tree.js';

/** Far above store inodes (global versions) and the root's virtual entries. */
const PENDING_BASE = 2 ** 41;

export interface PendingFile {
  ino: number;
  dir: Node;
  name: string;
  excl: boolean;
  mtime: number;
  /** set once committed: the stored entry */
  inode: number | null;
}

export class PendingFiles {
  private readonly byIno = new Map<number, PendingFile>();
  private readonly byName = new Map<string, PendingFile>();
  private readonly byInode = new Map<number, number>();
  private next = PENDING_BASE;

  /** Files not committed yet. */
  get size(): number {
    return this.byName.size;
  }

  static isPendingIno(ino: number): boolean {
    return ino >= PENDING_BASE;
  }

  add(dir: Node, name: string, excl: boolean, mtime: number): PendingFile {
    const p: PendingFile = { ino: this.next++, dir, name, excl, mtime, inode: null };
    this.byIno.set(p.ino, p);
    this.byName.set(`${dir.inode}/${name}`, p);
    return p;
  }

  get(ino: number): PendingFile | undefined {
    return this.byIno.get(ino);
  }

  /** A file of `dir` that is still uncommitted. */
  named(dir: Node, name: string): PendingFile | undefined {
    return this.byName.get(`${dir.inode}/${name}`);
  }

  /** The uncommitted file named `name` in the directory with store inode `dirInode`. */
  namedAt(dirInode: number, name: string): PendingFile | undefined {
    return this.byName.size === 0 ? undefined : this.byName.get(`${dirInode}/${name}`);
  }

  /** Uncommitted files of `dir`. */
  *inDir(dir: Node): IterableIterator<PendingFile> {
    for (const p of this.byName.values()) if (p.dir === dir) yield p;
  }

  /** Committed as `inode`: the name is the store's from now on; the number stays an alias. */
  committed(p: PendingFile, inode: number): void {
    this.byName.delete(`${p.dir.inode}/${p.name}`);
    p.inode = inode;
    // The kernel may use the number until it sends FORGET (a rename moves it to the target's name), so a committed
    // file's alias lives until then. Backends without FORGET keep it: a few bytes per file created.
    if (this.live(p) && !this.byInode.has(inode)) this.byInode.set(inode, p.ino);
  }

  /** Not abandoned, and its number not forgotten. */
  live(p: PendingFile): boolean {
    return this.byIno.get(p.ino) === p;
  }

  /** The commit was refused: the file never existed. */
  abandon(p: PendingFile): void {
    this.byName.delete(`${p.dir.inode}/${p.name}`);
    this.byIno.delete(p.ino);
  }

  /** The kernel forgot the number. */
  forget(ino: number): void {
    const p = this.byIno.get(ino);
    if (p && p.inode !== null) {
      this.byIno.delete(ino);
      if (this.byInode.get(p.inode) === ino) this.byInode.delete(p.inode);
    }
  }

  /** The number the kernel may still use for a stored entry (to drop its caches too). */
  aliasOf(inode: number): number | undefined {
    return this.byInode.get(inode);
  }
}
