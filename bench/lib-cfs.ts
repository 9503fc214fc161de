// The C filesystems of bench/ (ll-null: one constant answer; ll-floor: this daemon's design without anything else),
// mounted on a temp dir for a bench and taken down again.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compileC } from './lib-cclient.js';
import { forceUnmount } from './lib-daemon.js';

export interface CFs {
  child: ChildProcess;
  pid: number;
  mnt: string;
  /** temp dir holding the mountpoint (and ll-floor's database) */
  dir: string;
}

/** bench/NAME.c (built with pkg-config's flags for `libs`) mounted on a new temp dir; `extra` follows the mountpoint. */
export async function startCfs(name: string, pinned: boolean, libs: string[], extra: (dir: string) => string[] = () => []): Promise<CFs> {
  const bin = await compileC(name, libs);
  const dir = mkdtempSync(`/tmp/pmxcfs-${name}-`);
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const argv = [...(pinned ? ['taskset', '-c', '0'] : []), bin, mnt, ...extra(dir)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    child.stdout!.once('data', () => res());
    child.once('exit', (c) => rej(new Error(`${name} exited ${c}`)));
  });
  return { child, pid: child.pid!, mnt, dir };
}

/** ll-floor with its SQLite database (one transaction per change), unpinned unless asked. */
export function startFloor(pinned = false, sqlite = true): Promise<CFs> {
  return startCfs('ll-floor', pinned, ['fuse3', 'sqlite3'], (d) => (sqlite ? [join(d, 'config.db')] : []));
}

export async function stopCfs(c: CFs): Promise<void> {
  if (c.child.exitCode === null) {
    c.child.kill('SIGTERM');
    await new Promise((r) => c.child.once('exit', r));
  }
  forceUnmount(c.mnt);
  rmSync(c.dir, { recursive: true, force: true });
}
