// What a failed database write means for the caller, and how it is logged: SQLite's error codes (and, where SQLite
// only says "I/O error", the state of the database's filesystem) mapped to the errno the filesystem answers with;
// one log line when an outage starts and one when it ends, not one per refused request.
import { accessSync, constants as FC, statSync, statfsSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { E } from '../errors.js';
import type { Logger } from '../log.js';

/** Causes of a refused write, each with its errno (see docs/RELIABILITY.md, "Storage faults"). */
export type StorageFault = 'disk-full' | 'read-only' | 'busy' | 'replaced' | 'removed' | 'io';

export const FAULT_ERRNO: Record<StorageFault, number> = {
  // "No space left on device": vim and the Proxmox tools say what is wrong
  'disk-full': E.ENOSPC,
  // the database's filesystem went read-only (ext4 errors=remount-ro) or the file was made immutable
  'read-only': E.EROFS,
  // an admin's sqlite3 holds the write lock longer than the busy timeout; trying again later works
  busy: E.EBUSY,
  // the file at the database's path is not the one this daemon has open: writes would go to a file that the next
  // start does not read
  replaced: E.EIO,
  removed: E.EIO,
  io: E.EIO,
};

/** How long a write waits for a lock held by another connection (an admin's sqlite3) before it is refused. */
export const BUSY_TIMEOUT_MS = 250;

const FULL_MARGIN_BYTES = 64 * 1024;

function sqliteCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

function osCode(f: () => void): string {
  try {
    f();
    return '';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'E?';
  }
}

/** Is the filesystem holding `file` (almost) full? */
export function diskFull(file: string): boolean {
  try {
    const s = statfsSync(dirname(file));
    return s.bavail * s.bsize < FULL_MARGIN_BYTES;
  } catch {
    return false;
  }
}

/** The cause of a failed write of database `file`. */
export function classify(err: unknown, file: string): StorageFault {
  const code = sqliteCode(err);
  if (code === 'SQLITE_FULL') return 'disk-full';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code.startsWith('SQLITE_READONLY')) return 'read-only';
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_CORRUPT' || code === '') {
    // SQLite's I/O error hides the OS's errno: ask the filesystem what is wrong with it
    if (diskFull(file)) return 'disk-full';
    // the database or its WAL (where a commit writes) made immutable, or their filesystem read-only
    for (const f of [file, `${file}-wal`]) {
      const w = osCode(() => accessSync(f, FC.W_OK));
      if (w === 'EROFS' || w === 'EPERM' || w === 'EACCES') return 'read-only';
      if (w === 'ENOENT' && f === file) return 'removed';
    }
  }
  return 'io';
}

/** The device and inode of the file at `file` ([dev, ino]), or null when there is none. */
function identity(file: string): [number, number] | null {
  try {
    const s = statSync(file, { throwIfNoEntry: false });
    return s === undefined ? null : [s.dev, s.ino];
  } catch {
    return null;
  }
}

/**
 * Watches one database for a daemon: `check()` before a write (is the file at the path still the one open?),
 * `failed(err)` when a write threw, `succeeded()` after a write went through. Logs once per outage.
 */
export class StorageHealth {
  private readonly ident: [number, number] | null;
  private outage: StorageFault | null = null;
  private refused = 0;
  private since = 0;

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {
    this.ident = identity(file);
  }

  /** 0 when the database may be written; else the errno to answer (and the outage is logged once). */
  check(): number {
    if (this.ident === null) return 0;
    let now: Stats | undefined;
    try {
      // no exception for a missing file, and numbers compared instead of a string built per check
      now = statSync(this.file, { throwIfNoEntry: false });
    } catch {
      now = undefined;
    }
    if (now !== undefined && now.ino === this.ident[1] && now.dev === this.ident[0]) return 0;
    return this.refuse(now === undefined ? 'removed' : 'replaced');
  }

  /** A write threw `err` (SQLite rolled back, RAM untouched): the errno for the caller. */
  failed(err: unknown): number {
    return this.refuse(classify(err, this.file), err);
  }

  succeeded(): void {
    if (this.outage === null) return;
    this.log.warn(
      { db: this.file, fault: this.outage, refused: this.refused, seconds: Math.round((Date.now() - this.since) / 1000) },
      `database ${this.file} is writable again (after ${this.outage}); changes are accepted`,
    );
    this.outage = null;
    this.refused = 0;
  }

  /** the current outage, if any */
  get fault(): StorageFault | null {
    return this.outage;
  }

  private refuse(fault: StorageFault, err?: unknown): number {
    this.refused++;
    if (this.outage !== fault) {
      this.outage = fault;
      this.since = Date.now();
      this.log.error({ db: this.file, fault, errno: FAULT_ERRNO[fault], err }, `database ${this.file}: ${describe(fault)}; changes are refused until this is fixed (reads go on)`);
    }
    return FAULT_ERRNO[fault];
  }
}

function describe(fault: StorageFault): string {
  switch (fault) {
    case 'disk-full': return 'its filesystem is full (ENOSPC)';
    case 'read-only': return 'it cannot be written: read-only filesystem or immutable file (EROFS)';
    case 'busy': return `another process holds its write lock for more than ${BUSY_TIMEOUT_MS} ms (EBUSY)`;
    case 'replaced': return 'the file at this path is no longer the database this daemon opened (it was replaced); put the original back, or restart pmxcfs to serve the new file (EIO)';
    case 'removed': return 'the file was removed while the daemon runs; put it back (or restore a backup and restart pmxcfs) (EIO)';
    case 'io': return 'an I/O error (EIO)';
  }
}
