// `pmxcfs --discarded`: what catch-ups took away from this node (its own changes made while it was separated from
// the cluster's history), read from the database without disturbing a running daemon.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';

interface Row {
  id: number;
  time: number;
  node: string;
  path: string;
  version: number;
  mtime: number;
  type: number;
  data: Buffer | null;
  reason: string;
}

/** Prints every kept entry with its content; returns the exit code. */
export function printDiscarded(dbFile: string): number {
  if (!existsSync(dbFile)) {
    process.stderr.write(`pmxcfs: no database at ${dbFile}\n`);
    return 1;
  }
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'pmxcfs_discarded'`).get();
    const rows = has ? (db.prepare(`SELECT * FROM pmxcfs_discarded ORDER BY id`).all() as Row[]) : [];
    if (rows.length === 0) {
      process.stdout.write('no discarded changes\n');
      return 0;
    }
    for (const r of rows) {
      const when = new Date(r.time * 1000).toISOString();
      const kind = r.type === 4 ? 'directory' : `${r.data?.length ?? 0} bytes`;
      process.stdout.write(`#${r.id} ${when} node ${r.node}: /${r.path} (version ${r.version}, ${kind}) ${r.reason}\n`);
      if (r.type !== 4 && r.data?.length) process.stdout.write(r.data.toString('utf8').replace(/^/gm, '    ') + (r.data.toString().endsWith('\n') ? '' : '\n'));
    }
    return 0;
  } finally {
    db.close();
  }
}
