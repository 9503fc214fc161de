// The store: the tree in RAM and its SQLite copy, changed only through `commit`, which writes the database first
// and touches RAM only after the transaction committed (so a failed commit leaves both as they were).
import { checkRows, DamagedDatabaseError } from './check.js';
import { TreeDb, type DiscardedEntry, type RowChange, type TreeDbOptions } from './db.js';
import { checkDatabaseFile } from './integrity.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { ROOT_INODE, rowOf, Tree, type Row } from './tree.js';

export interface CommitInfo {
  version: number;
  changes: RowChange[];
  /** made for a request of this node's kernel, which knows the change from its reply */
  kernel?: boolean;
}

/** What RAM held before one change of a batch: restored when the batch's transaction fails. */
interface Undo {
  inode: number;
  before: Row | null;
}

export class Store {
  readonly tree = new Tree();
  private readonly listeners: ((info: CommitInfo) => void)[] = [];
  /** set while a batch runs: RAM changes to undo on failure, and notifications held until it committed */
  private batchState: { undo: Undo[]; infos: CommitInfo[]; version: number } | null = null;
  private kernel = false;

  private constructor(
    private readonly db: TreeDb,
    readonly limits: Limits,
  ) {}

  /** Opens (or creates) the database, checks it and loads the whole tree. Throws DamagedDatabaseError. */
  static open(file: string, limits: Limits = DEFAULT_LIMITS, dbOpts: TreeDbOptions = {}): Store {
    checkDatabaseFile(file);
    const db = new TreeDb(file, dbOpts);
    let ok = false;
    try {
      const store = new Store(db, limits);
      store.load(db.loadRows(), file);
      ok = true;
      return store;
    } finally {
      if (!ok) db.close();
    }
  }

  private load(rows: Row[], file: string): void {
    const problems = checkRows(rows);
    if (problems.length) throw new DamagedDatabaseError(file, problems);
    const children = new Map<number, Row[]>();
    for (const r of rows) {
      if (r.inode === ROOT_INODE) {
        this.tree.version = r.version;
        this.tree.root.version = r.version;
        this.tree.root.mtime = r.mtime;
        continue;
      }
      let list = children.get(r.parent);
      if (!list) children.set(r.parent, (list = []));
      list.push(r);
    }
    // parents before children
    const queue = [ROOT_INODE];
    while (queue.length) {
      const inode = queue.pop()!;
      for (const r of children.get(inode) ?? []) {
        this.tree.put(r);
        queue.push(r.inode);
      }
    }
  }

  /** Called after every committed change (in commit order). */
  onCommit(cb: (info: CommitInfo) => void): void {
    this.listeners.push(cb);
  }

  /** Writes `changes` and the new global `version` in one transaction, then applies them to RAM. */
  commit(changes: RowChange[], version: number, writer: number, mtime: number): void {
    this.db.commit(changes, version, writer, mtime);
    const b = this.batchState;
    for (const c of changes) {
      if (b) {
        const inode = (c.del ?? c.put)!.inode;
        const old = this.tree.get(inode);
        b.undo.push({ inode, before: old ? rowOf(old) : null });
      }
      if (c.del) this.tree.remove(c.del.inode);
      if (c.put) this.tree.put(c.put);
    }
    this.tree.version = version;
    this.tree.root.version = version;
    this.tree.root.mtime = mtime;
    const info: CommitInfo = this.kernel ? { version, changes, kernel: true } : { version, changes };
    if (b) b.infos.push(info);
    else this.notify(info);
  }

  /** Runs `fn` with its commits marked as made for a request of this node's kernel (when `kernel`). */
  asKernel<T>(kernel: boolean, fn: () => T): T {
    if (!kernel) return fn();
    this.kernel = true;
    try {
      return fn();
    } finally {
      this.kernel = false;
    }
  }

  /**
   * Group commit: every commit() made by `fn` goes into one SQLite transaction. RAM follows each change at once (the
   * next change is checked against it); if the transaction fails, RAM is put back as it was and the error thrown.
   * Listeners hear of the changes only once the transaction committed.
   */
  batch<T>(fn: () => T): T {
    if (this.batchState) return fn();
    const b = (this.batchState = { undo: [] as Undo[], infos: [] as CommitInfo[], version: this.tree.version });
    let result: T;
    try {
      result = this.db.transaction(fn);
    } catch (err) {
      for (let i = b.undo.length - 1; i >= 0; i--) {
        const u = b.undo[i]!;
        if (u.before) this.tree.put(u.before);
        else this.tree.remove(u.inode);
      }
      this.tree.version = b.version;
      this.tree.root.version = b.version;
      throw err;
    } finally {
      this.batchState = null;
    }
    for (const info of b.infos) this.notify(info);
    return result;
  }

  /**
   * A catch-up: makes the tree hold `puts` (whole rows, replacing entries with the same inode) and lose the entries
   * `dels`, with the global version `version`, in one transaction. RAM is touched only after it committed, so a
   * reader never sees a half-synced tree.
   */
  replace(puts: Row[], dels: number[], version: number, writer: number, mtime: number): CommitInfo {
    const tree = this.tree;
    const gone = new Set(dels);
    // an inode that changes type (only after two histories diverged) is removed first, then created anew
    for (const r of puts) {
      const old = tree.get(r.inode);
      if (old && old.type !== r.type) gone.add(r.inode);
    }
    const changes: RowChange[] = [];
    for (const inode of gone) {
      const n = tree.get(inode);
      if (n && inode !== ROOT_INODE) changes.push({ del: { inode, parent: n.parent, name: n.name } });
    }
    // parents before children, so every put finds its directory
    const byInode = new Map(puts.map((r) => [r.inode, r]));
    const done = new Set<number>();
    const order = (r: Row, depth: number): void => {
      if (done.has(r.inode) || depth > puts.length) return;
      const parent = byInode.get(r.parent);
      if (parent) order(parent, depth + 1);
      done.add(r.inode);
      const old = gone.has(r.inode) ? undefined : tree.get(r.inode);
      const moved = old && (old.parent !== r.parent || old.name !== r.name);
      changes.push(moved ? { put: r, was: { parent: old.parent, name: old.name } } : { put: r });
    };
    for (const r of puts) order(r, 0);
    this.db.commit(changes, version, writer, mtime);
    for (const c of changes) {
      if (c.del) tree.remove(c.del.inode);
      if (c.put) tree.put(c.put);
    }
    tree.version = version;
    tree.root.version = version;
    tree.root.mtime = mtime;
    const info = { version, changes };
    this.notify(info);
    return info;
  }

  private notify(info: CommitInfo): void {
    for (const l of this.listeners) l(info);
  }

  getMeta(key: string): string | undefined {
    return this.db.getMeta(key);
  }

  setMeta(key: string, value: string): void {
    this.db.setMeta(key, value);
  }

  /** Keeps what a catch-up took away from this node. */
  recordDiscarded(entries: DiscardedEntry[]): void {
    if (entries.length) this.db.transaction(() => entries.forEach((e) => this.db.addDiscarded(e)));
  }

  close(): void {
    this.db.close();
  }
}
