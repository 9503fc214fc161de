// Mount table helpers. Never stat a possibly dead FUSE mount synchronously: read /proc instead.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';

const run = promisify(execFile);

/** Mount points as listed in /proc/self/mountinfo (octal escapes decoded). */
export async function mountPoints(): Promise<{ point: string; fstype: string }[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const dash = f.indexOf('-');
      const point = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      return { point, fstype: f[dash + 1] ?? '' };
    });
}

/** A daemon killed with SIGKILL leaves "Transport endpoint is not connected" behind: lazily unmount it. */
export async function clearStaleMount(point: string, log: Logger): Promise<void> {
  const mounts = await mountPoints();
  if (!mounts.some((m) => m.point === point && m.fstype.startsWith('fuse'))) return;
  // a live filesystem answers statfs (never cached by the kernel); a dead one says ENOTCONN. Asked from a child
  // process, never from here.
  const alive = await run('stat', ['-f', '-c', '%t', point], { timeout: 3000 }).then(() => true, () => false);
  if (alive) throw new Error(`${point} is already mounted by a running filesystem`);
  log.warn({ mount: point }, 'clearing a stale mount left by an earlier daemon');
  for (const cmd of [['fusermount3', '-uz', point], ['umount', '-l', point]]) {
    try {
      await run(cmd[0]!, cmd.slice(1));
      return;
    } catch {
      // try the next way
    }
  }
  throw new Error(`${point} is still mounted and cannot be unmounted`);
}
