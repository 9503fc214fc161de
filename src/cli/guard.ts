// The mount's guard: a small process that outlives the daemon only to abort its FUSE connection when the daemon dies,
// however it dies (SIGKILL, the OOM killer).
//
// Why: a daemon killed while its notifier thread waits in the kernel for a directory lock (an invalidation) that a
// caller holds while it waits for an answer from the daemon never finishes dying: the thread stays in D state, it
// holds /dev/fuse open, so the connection is not aborted and the caller keeps its lock. Aborting the connection
// fails the caller's request, which releases the lock, the thread, then the process. systemd (and any supervisor)
// waits for that process before it starts a new daemon, so this cannot wait for the next start.
//
// The guard gets SIGUSR1 when the daemon's main thread exits (setpriv --pdeathsig) and writes fusectl's `abort` for
// the connection; on a clean stop the connection is already gone and the write fails quietly. SIGTERM (a stop of
// the whole service) just ends it. It holds no file of the daemon's (/dev/fuse is close-on-exec).
import { spawn } from 'node:child_process';
import type { Logger } from '../log.js';
import { ensureFusectl, FUSECTL, mountPoints } from './mounts.js';

const SCRIPT = `conn=$1
trap 'echo 1 > ${FUSECTL}/$conn/abort 2>/dev/null; kill $! 2>/dev/null; exit 0' USR1
trap 'kill $! 2>/dev/null; exit 0' TERM INT
while :; do sleep 86400 & wait $!; done`;

/** Starts the guard of the FUSE mount at `point` (call once it is mounted). Failures are logged, not fatal. */
export async function guardMount(point: string, log: Logger): Promise<void> {
  try {
    const mounts = await mountPoints();
    const m = mounts.find((x) => x.point === point && x.fstype.startsWith('fuse'));
    const conn = m?.dev.split(':')[1];
    if (!conn) throw new Error(`${point} is not in the mount table`);
    await ensureFusectl(mounts);
    const child = spawn('setpriv', ['--pdeathsig', 'USR1', '--', 'sh', '-c', SCRIPT, 'pmxcfs-guard', conn], {
      stdio: 'ignore',
    });
    child.on('error', (err) => log.warn({ err: err.message }, 'the mount guard could not start'));
    child.unref();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no mount guard: a killed daemon may leave callers hanging on the mount');
  }
}
