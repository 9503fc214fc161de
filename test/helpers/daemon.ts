// Test helper: run pmxcfs (local mode) as a separate process on a temp dir and act on its mount from child
// processes (bash, python3), as root or as www-data. The logic lives in bench/lib-daemon.ts (shared with the
// benchmark); this module adds the vitest wiring.
//
// Every test file does:
//   describe.each(BACKENDS)('... (%s)', (backend) => { ... startDaemon({ backend }) ... });
//   afterEach(cleanupAll) / afterAll(cleanupAll)  — registered here by `autoCleanup()`.

import { afterAll, afterEach } from 'vitest';
import Database from 'better-sqlite3';
import { availableBackends, cleanupAll } from '../../bench/lib-daemon.js';

export {
  availableBackends,
  cleanupAll,
  DAEMON_JS,
  forceUnmount,
  isMounted,
  makeStateDir,
  mountAnswers,
  pidsMentioning,
  py,
  PY_PRELUDE,
  PYTHON,
  ROOT,
  run,
  sh,
  sleep,
  spawnDaemon,
  startDaemon,
  statePaths,
  within,
} from '../../bench/lib-daemon.js';
export type { Daemon, DaemonOptions, DaemonProcess, RunOptions, RunResult, StateDir } from '../../bench/lib-daemon.js';

/** Backends every suite runs against. */
export const BACKENDS: string[] = availableBackends();

/** Register cleanups: after each test (and after all) stop every daemon, clear mounts, remove temp dirs. */
export function autoCleanup(when: 'each' | 'all' = 'each'): void {
  if (when === 'each') afterEach(cleanupAll);
  afterAll(cleanupAll);
}

export interface TreeRow {
  inode: number;
  parent: number;
  version: number;
  writer: number;
  mtime: number;
  type: number;
  name: string;
  data: Buffer | null;
}

/** Read the `tree` table of a (stopped daemon's) database. */
export function readTree(dbPath: string): TreeRow[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT inode, parent, version, writer, mtime, type, name, data FROM tree ORDER BY inode').all() as TreeRow[];
  } finally {
    db.close();
  }
}

/** Path of each row (by walking parents; rows with parent 0 are at the root). */
export function rowPaths<T extends { inode: number; parent: number; name: string }>(rows: T[]): Map<string, T> {
  const byIno = new Map(rows.map((r) => [r.inode, r]));
  const out = new Map<string, T>();
  for (const r of rows) {
    if (r.inode === 0) continue;
    const parts: string[] = [];
    let cur: T | undefined = r;
    let guard = 0;
    while (cur && cur.inode !== 0 && guard++ < 1000) {
      parts.unshift(cur.name);
      cur = cur.parent === 0 ? undefined : byIno.get(cur.parent);
    }
    out.set(parts.join('/'), r);
  }
  return out;
}

export { createOriginalDb, originalTree, DT_DIR, DT_REG, type TreeRowInput } from './original-db.js';
