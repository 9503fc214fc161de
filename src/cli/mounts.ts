// Mount table helpers. Never stat a possibly dead FUSE mount synchronously: read /proc instead.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';

const run = promisify(execFile);

export const FUSECTL = '/sys/fs/fuse/connections';

/** Mounts fusectl (the connections' control files) where it is not mounted yet; throws when it cannot. */
export async function ensureFusectl(mounts: { fstype: string }[]): Promise<void> {
  if (!mounts.some((m) => m.fstype === 'fusectl')) await run('mount', ['-t', 'fusectl', 'fusectl', FUSECTL]);
}

/** Mount points as listed in /proc/self/mountinfo (octal escapes decoded), with their device (major:minor). */
export async function mountPoints(): Promise<{ point: string; fstype: string; dev: string }[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const dash = f.indexOf('-');
      const point = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      return { point, fstype: f[dash + 1] ?? '', dev: f[2] ?? '' };
    });
}

/**
 * Fails every request still waiting on a FUSE connection (fusectl's `abort`; the connection's number is the mount's
 * device minor). A killed daemon's connection normally ends with the process, but not when one of its threads is
 * stuck in the kernel: e.g. an invalidation waiting for a directory lock that a caller holds while it waits for an
 * answer only the dead daemon could give. Aborting releases the caller, then the thread, then the process.
 */
async function abortConnection(dev: string, mounts: { fstype: string }[], log: Logger): Promise<void> {
  const conn = dev.split(':')[1];
  if (!conn) return;
  try {
    await ensureFusectl(mounts);
    // a connection that ended with its daemon is gone from fusectl: nothing to abort
    if (!existsSync(`${FUSECTL}/${conn}`)) return;
    await writeFile(`${FUSECTL}/${conn}/abort`, '1');
    log.warn({ connection: conn }, 'aborted the FUSE connection of the stale mount (requests left waiting on it fail)');
  } catch (err) {
    log.warn({ connection: conn, err: (err as Error).message }, 'could not abort the FUSE connection of the stale mount');
  }
}

/** A daemon killed with SIGKILL leaves "Transport endpoint is not connected" behind: lazily unmount it. */
export async function clearStaleMount(point: string, log: Logger): Promise<void> {
  const mounts = await mountPoints();
  const stale = mounts.find((m) => m.point === point && m.fstype.startsWith('fuse'));
  if (!stale) return;
  // a live filesystem answers statfs (never cached by the kernel); a dead one says ENOTCONN. Asked from a child
  // process, never from here.
  const alive = await run('stat', ['-f', '-c', '%t', point], { timeout: 3000 }).then(() => true, () => false);
  if (alive) throw new Error(`${point} is already mounted by a running filesystem`);
  log.warn({ mount: point }, 'clearing a stale mount left by an earlier daemon');
  await abortConnection(stale.dev, mounts, log);
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
