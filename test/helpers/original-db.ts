// Databases in the original's schema, as the C pmxcfs writes them (no vitest here: benches use it too).
import Database from 'better-sqlite3';

/** Create a database in the original's schema (as the C pmxcfs writes it). */
export function createOriginalDb(dbPath: string, rows: TreeRowInput[]): void {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS tree (
      inode INTEGER PRIMARY KEY NOT NULL,
      parent INTEGER NOT NULL CHECK(typeof(parent)=='integer'),
      version INTEGER NOT NULL CHECK(typeof(version)=='integer'),
      writer INTEGER NOT NULL CHECK(typeof(writer)=='integer'),
      mtime INTEGER NOT NULL CHECK(typeof(mtime)=='integer'),
      type INTEGER NOT NULL CHECK(typeof(type)=='integer'),
      name TEXT NOT NULL,
      data BLOB);`);
    const ins = db.prepare(
      'INSERT INTO tree (inode, parent, version, writer, mtime, type, name, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    db.transaction(() => {
      for (const r of rows) {
        ins.run(r.inode, r.parent, r.version, r.writer ?? 0, r.mtime, r.type, r.name, r.data ?? null);
      }
    })();
  } finally {
    db.close();
  }
}

export interface TreeRowInput {
  inode: number;
  parent: number;
  version: number;
  writer?: number;
  mtime: number;
  type: number;
  name: string;
  data?: Buffer | null;
}

export const DT_DIR = 4;
export const DT_REG = 8;

/**
 * A consistent tree in the original's schema: `__version__` + nodes/NAME/{qemu-server,lxc,priv} + priv/lock and
 * the given extra files (path -> content), inode numbers = versions, ascending.
 */
export function originalTree(nodename: string, files: Record<string, string> = {}, mtime = 1_700_000_000): TreeRowInput[] {
  const rows: TreeRowInput[] = [];
  const dirs = new Map<string, number>([['', 0]]);
  let v = 0;
  const add = (path: string, type: number, data?: string): number => {
    const idx = path.lastIndexOf('/');
    const parentPath = idx < 0 ? '' : path.slice(0, idx);
    const name = idx < 0 ? path : path.slice(idx + 1);
    if (!dirs.has(parentPath)) ensureDir(parentPath);
    const ino = ++v;
    rows.push({ inode: ino, parent: dirs.get(parentPath)!, version: ino, writer: 0, mtime, type, name, data: data === undefined ? null : Buffer.from(data) });
    if (type === DT_DIR) dirs.set(path, ino);
    return ino;
  };
  const ensureDir = (path: string): void => {
    if (dirs.has(path)) return;
    const idx = path.lastIndexOf('/');
    if (idx >= 0) ensureDir(path.slice(0, idx));
    add(path, DT_DIR);
  };
  for (const d of [`nodes/${nodename}/qemu-server`, `nodes/${nodename}/lxc`, `nodes/${nodename}/priv`, 'priv/lock']) ensureDir(d);
  for (const [p, content] of Object.entries(files)) {
    const idx = p.lastIndexOf('/');
    if (idx >= 0) ensureDir(p.slice(0, idx));
    add(p, DT_REG, content);
  }
  rows.unshift({ inode: 0, parent: 0, version: v, writer: 0, mtime, type: DT_REG, name: '__version__', data: null });
  return rows;
}
