// The store: the tree in RAM and its SQLite copy, changed only through `commit`, which writes the database first
// and touches RAM only after the transaction committed (so a failed commit leaves both as they were).
import { checkRows, DamagedDatabaseError } from './check.js';
import { TreeDb, type RowChange } from './db.js';
import { checkDatabaseFile } from './integrity.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { ROOT_INODE, Tree, type Row } from './tree.js';

export interface CommitInfo {
  version: number;
  changes: RowChange[];
}

export class Store {
  readonly tree = new Tree();
  private readonly listeners: ((info: CommitInfo) => void)[] = [];

  private constructor(
    private readonly db: TreeDb,
    readonly limits: Limits,
  ) {}

  /** Opens (or creates) the database, checks it and loads the whole tree. Throws DamagedDatabaseError. */
  static open(file: string, limits: Limits = DEFAULT_LIMITS): Store {
    checkDatabaseFile(file);
    const db = new TreeDb(file);
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
    for (const c of changes) {
      if (c.del) this.tree.remove(c.del.inode);
      if (c.put) this.tree.put(c.put);
    }
    this.tree.version = version;
    this.tree.root.version = version;
    const info = { version, changes };
    for (const l of this.listeners) l(info);
  }

  close(): void {
    this.db.close();
  }
}
