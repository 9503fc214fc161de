// Once around the whole suite: daemons started by tests mount fusectl (/sys/fs/fuse/connections) for their mount
// guard and for clearing stale mounts. Where it was not mounted before the suite, it is unmounted after, once no
// FUSE connection is left: the machine ends as it began.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const FUSECTL = '/sys/fs/fuse/connections';
const fusectlMounted = (): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.includes(' - fusectl '));

export default function setup(): () => void {
  const before = fusectlMounted();
  return () => {
    if (before || !fusectlMounted()) return;
    try {
      if (readdirSync(FUSECTL).length === 0) execFileSync('umount', [FUSECTL], { stdio: 'ignore' });
    } catch {
      /* still in use, or not ours to unmount: leave it */
    }
  };
}
