// Persistence in SQLite with the original's `tree` schema, so databases move both ways between the two daemons.
import Database from 'better-sqlite3';
import { Checkpointer } from './checkpointer.js';
import { BUSY_TIMEOUT_MS } from './storage-errors.js';
import { DT_REG, ROOT_INODE, VERSION_ROW_NAME, type Row } from './tree.js';

export interface RowChange {
  /** insert or replace this row */
  put?: Row;
  /** delete the row with this inode (its place is kept so that caches of the name can be dropped) */
  del?: { inode: number; parent: number; name: string };
  /** with `put` of a renamed entry: where it was (for caches of the old name; not stored) */
  was?: { parent: number; name: string };
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS tree (
  inode INTEGER PRIMARY KEY,
  parent INTEGER NOT NULL,
  version INTEGER NOT NULL,
  writer INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  type INTEGER NOT NULL,
  name TEXT NOT NULL,
  data BLOB)`;

const META_SCHEMA = `CREATE TABLE IF NOT EXISTS pmxcfs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`;
const DISCARDED_SCHEMA = `CREATE TABLE IF NOT EXISTS pmxcfs_discarded (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  node TEXT NOT NULL,
  path TEXT NOT NULL,
  version INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  type INTEGER NOT NULL,
  data BLOB,
  reason TEXT NOT NULL)`;

export interface TreeDbOptions {
  /** checkpoint the WAL in a worker thread instead of inside commits (the daemon; see checkpointer.ts) */
  backgroundCheckpoints?: boolean;
  /** the background checkpoint thread died and commits checkpoint again (logged by the caller) */
  onCheckpointFailure?: (message: string) => void;
  /** a background checkpoint failed (logged by the caller; once per stretch) */
  onCheckpointError?: (message: string) => void;
}

/** One entry a catch-up removed or overwrote on this node. */
export interface DiscardedEntry {
  id?: number;
  time: number;
  node: string;
  path: string;
  version: number;
  mtime: number;
  type: number;
  data: Buffer | null;
  reason: string;
}

export class TreeDb {
  private readonly db: Database.Database;
  private readonly putStmt: Database.Statement;
  private readonly delStmt: Database.Statement;
  private readonly versionStmt: Database.Statement;
  private readonly commitTx: (changes: RowChange[], version: number, writer: number, mtime: number) => void;
  /** runs its argument in one transaction: made once (better-sqlite3 builds a wrapper per transaction() call) */
  private readonly runTx: (fn: () => unknown) => unknown;
  private readonly getMetaStmt: Database.Statement;
  private readonly setMetaStmt: Database.Statement;
  private readonly discardStmt: Database.Statement;

  private checkpointer: Checkpointer | null = null;

  constructor(readonly file: string, opts: TreeDbOptions = {}) {
    // a write waits this long for a lock an admin's sqlite3 holds, then fails (EBUSY), instead of stalling the daemon 5 s
    this.db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    // Normal locking (not EXCLUSIVE, which would be a little faster): admins back up the running database with
    // `sqlite3 config.db .dump`.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    // Our own tables beside the original's `tree` (the original ignores them): cluster bookkeeping, and what a
    // catch-up took away from this node, so nothing is discarded silently.
    this.db.exec(META_SCHEMA);
    this.db.exec(DISCARDED_SCHEMA);
    // only a new, empty database gets the version row; an existing one without it is damaged (checked at load)
    const empty = this.db.prepare(`SELECT count(*) AS n FROM tree`).get() as { n: number };
    if (empty.n === 0) this.db
      .prepare(
        `INSERT OR IGNORE INTO tree (inode, parent, version, writer, mtime, type, name, data) VALUES (?, ?, 0, 0, 0, ?, ?, NULL)`,
      )
      .run(ROOT_INODE, ROOT_INODE, DT_REG, VERSION_ROW_NAME);
    // an upsert updates a row in place; INSERT OR REPLACE would delete and re-insert it
    this.putStmt = this.db.prepare(
      `INSERT INTO tree (inode, parent, version, writer, mtime, type, name, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(inode) DO UPDATE SET parent = excluded.parent, version = excluded.version, writer = excluded.writer,
         mtime = excluded.mtime, type = excluded.type, name = excluded.name, data = excluded.data`,
    );
    this.delStmt = this.db.prepare(`DELETE FROM tree WHERE inode = ?`);
    this.versionStmt = this.db.prepare(`UPDATE tree SET version = ?, writer = ?, mtime = ? WHERE inode = ${ROOT_INODE}`);
    this.commitTx = this.db.transaction((changes: RowChange[], version: number, writer: number, mtime: number) => {
      for (const c of changes) {
        if (c.del) this.delStmt.run(c.del.inode);
        if (c.put) {
          const r = c.put;
          // the original stores an empty file as NULL data
          const data = r.data && r.data.length > 0 ? r.data : null;
          this.putStmt.run(r.inode, r.parent, r.version, r.writer, r.mtime, r.type, r.name, data);
        }
      }
      this.versionStmt.run(version, writer, mtime);
    });
    this.runTx = this.db.transaction((fn: () => unknown) => fn());
    if (opts.backgroundCheckpoints) {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new Checkpointer(file, {
        finish: () => this.db.pragma('wal_checkpoint(PASSIVE)'),
        onFailure: (message) => {
          this.checkpointer = null;
          this.db.pragma('wal_autocheckpoint = 1000');
          opts.onCheckpointFailure?.(message);
        },
        onError: opts.onCheckpointError,
      });
    }
    this.getMetaStmt = this.db.prepare(`SELECT value FROM pmxcfs_meta WHERE key = ?`);
    this.setMetaStmt = this.db.prepare(`INSERT INTO pmxcfs_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
    this.discardStmt = this.db.prepare(
      `INSERT INTO pmxcfs_discarded (time, node, path, version, mtime, type, data, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Checkpoints run beside the writes (null: SQLite checkpoints inside commits). */
  get checkpoints(): { thread: number; finish: number } | null {
    return this.checkpointer?.active ? this.checkpointer.counts : null;
  }

  /** Runs `fn` in one transaction (nested calls of commit() become part of it). Throws and rolls back on failure. */
  transaction<T>(fn: () => T): T {
    return this.runTx(fn) as T;
  }

  getMeta(key: string): string | undefined {
    return (this.getMetaStmt.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.setMetaStmt.run(key, value);
  }

  addDiscarded(e: DiscardedEntry): void {
    this.discardStmt.run(e.time, e.node, e.path, e.version, e.mtime, e.type, e.data, e.reason);
  }

  /** Every row, the `__version__` row included. */
  loadRows(): Row[] {
    const rows = this.db.prepare(`SELECT inode, parent, version, writer, mtime, type, name, data FROM tree`).all() as Row[];
    return rows;
  }

  /** One transaction: the changes and the new global version. Throws when SQLite fails; nothing is written then. */
  commit(changes: RowChange[], version: number, writer: number, mtime: number): void {
    this.commitTx(changes, version, writer, mtime);
    if (this.checkpointer) {
      // WAL pages: the changed table leaves and overflow pages, and the version row's leaf
      let pages = 1;
      for (const c of changes) pages += 1 + (c.put?.data ? c.put.data.length >>> 12 : 0);
      this.checkpointer.committed(pages);
    }
  }

  close(): void {
    this.checkpointer?.close();
    this.checkpointer = null;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // a checkpoint is an optimisation; the WAL is replayed at the next open anyway
    }
    this.db.close();
  }
}
