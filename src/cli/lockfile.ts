// One daemon per database: a lock file holding the owner's pid. A file left by a dead daemon is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

export interface LockFile {
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a recycled pid belonging to something else does not hold our lock
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pmxcfs');
  } catch {
    return false;
  }
}

export function acquireLockFile(path: string): LockFile {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        release: () => {
          try {
            if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create lock file ${path}: ${(err as Error).message}`);
      let owner = NaN;
      try {
        owner = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // vanished meanwhile: try again
      }
      if (alive(owner)) throw new Error(`another pmxcfs (pid ${owner}) holds the lock file ${path}`);
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it first
      }
    }
  }
  throw new Error(`cannot acquire lock file ${path}`);
}
