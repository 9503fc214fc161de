// The database file itself, checked before the tree is loaded: an SQLite header, a `tree` table, and SQLite's own
// `PRAGMA quick_check` (every page and cell readable, in order). A damaged file is refused with its name and what is
// wrong; the rows are then checked as a tree by check.ts.
import Database from 'better-sqlite3';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { DamagedDatabaseError } from './check.js';

const HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const MAX_REPORTED = 20;

/** Throws DamagedDatabaseError when `file` exists, is not empty, and is not a sound SQLite database with a tree. */
export function checkDatabaseFile(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return; // a new database
  }
  if (size === 0) return;
  const head = Buffer.alloc(HEADER.length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.equals(HEADER)) {
    throw new DamagedDatabaseError(file, [`not an SQLite database (${size} bytes; the first bytes are ${JSON.stringify(head.toString('latin1').replace(/[^\x20-\x7e]/g, '.'))})`]);
  }
  const problems: string[] = [];
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 1000 });
    const cols = (db.prepare(`PRAGMA table_info(tree)`).all() as { name: string }[]).map((c) => c.name);
    const want = ['inode', 'parent', 'version', 'writer', 'mtime', 'type', 'name', 'data'];
    const missing = want.filter((c) => !cols.includes(c));
    if (cols.length === 0) problems.push('it has no `tree` table');
    else if (missing.length) problems.push(`its tree table lacks the columns ${missing.join(', ')}`);
    const check = (db.prepare('PRAGMA quick_check').all() as Record<string, string>[]).map((r) => Object.values(r)[0]!);
    if (!(check.length === 1 && check[0] === 'ok')) {
      problems.push(...check.slice(0, MAX_REPORTED).map((m) => `integrity check: ${m}`));
      if (check.length > MAX_REPORTED) problems.push(`integrity check: ... ${check.length - MAX_REPORTED} more`);
    }
    if (cols.length && problems.length) problems.push(...unreadableRows(db));
  } catch (err) {
    problems.push(`SQLite cannot read it: ${(err as Error).message}`);
    if (db) problems.push(...unreadableRows(db));
  } finally {
    try {
      db?.close();
    } catch {
      // closing a damaged file may fail too; the report above says why
    }
  }
  if (problems.length) throw new DamagedDatabaseError(file, problems);
}

/** Which rows of `tree` can be read, and where reading stops (to name the damaged rows). */
function unreadableRows(db: Database.Database): string[] {
  let last: { inode: number; name: string } | null = null;
  let n = 0;
  try {
    for (const r of db.prepare('SELECT inode, name FROM tree ORDER BY inode').iterate() as IterableIterator<{ inode: number; name: string }>) {
      last = r;
      n++;
    }
    return [];
  } catch (err) {
    const where = last ? `after inode ${last.inode} (name ${JSON.stringify(last.name)})` : 'at the first row';
    return [`rows of tree are unreadable ${where}, ${n} rows read: ${(err as Error).message}`];
  }
}
