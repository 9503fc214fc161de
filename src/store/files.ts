// Modes of what the daemon keeps on disk. The database holds priv/ (corosync authkey, private keys, tokens): it,
// its WAL and SHM files, the lock file, the pid file and the logs must be unreadable to other users. New files get
// that from the umask (027, as the original) and an explicit mode; files left wider by an older version, a restore
// or an admin's copy are narrowed at start, and the log says which.
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';

/** The original runs with umask 027: nothing it creates is readable by "other". */
export const DAEMON_UMASK = 0o027;

export const PRIVATE_FILE_MODE = 0o600;

/** The files SQLite keeps next to the database (it creates -wal and -shm with the database file's mode). */
export function databaseFiles(db: string): string[] {
  return [db, `${db}-wal`, `${db}-shm`, `${db}-journal`];
}

/**
 * Narrows every existing file in `files` to 0600 (logging each fix once); creates `createIfMissing` empty with
 * 0600 first, so that SQLite, which copies the database's mode to its WAL and SHM files, makes those 0600 too.
 * Returns the files whose mode was changed.
 */
export function securePrivateFiles(files: string[], log: Logger, createIfMissing?: string): string[] {
  if (createIfMissing && !existsSync(createIfMissing)) closeSync(openSync(createIfMissing, 'a', PRIVATE_FILE_MODE));
  const fixed: string[] = [];
  for (const f of files) {
    let mode: number;
    try {
      mode = statSync(f).mode & 0o7777;
    } catch {
      continue; // not there (yet)
    }
    if ((mode & 0o077) === 0 && (mode & 0o7000) === 0) continue;
    chmodSync(f, PRIVATE_FILE_MODE);
    fixed.push(f);
    log.warn({ file: f, was: `0${mode.toString(8)}`, now: '0600' }, `${f} was readable by other users (mode 0${mode.toString(8)}): changed to 0600`);
  }
  return fixed;
}

/** Sets the daemon's umask and secures the database files and whatever the run dir holds from earlier runs. */
export function secureStateFiles(o: { db: string; runDir: string }, log: Logger): void {
  process.umask(DAEMON_UMASK);
  securePrivateFiles(
    [...databaseFiles(o.db), join(dirname(o.db), '.pmxcfs.lockfile'), join(o.runDir, 'pmxcfs.pid'), join(o.runDir, 'pmxcfs.log')],
    log,
    o.db,
  );
}
