// On which CPU the kernel wakes this daemon's thread when a process sends it a FUSE request. The daemon answers every
// request on one thread; woken where it last ran (the kernel's default), each request of a client running on the
// other CPU crosses CPUs twice, which on these VMs costs a round trip of ~18 us instead of ~4. Some kernels offer a
// fuse module parameter, `wake_here`, that wakes the thread on the requesting CPU instead (not stock Debian or
// Proxmox kernels). It is machine-wide, so the daemon does not change it: the package turns it on at boot
// (scripts/pmxcfs-ts.tmpfiles, docs/FILESYSTEM.md); the daemon only reads it, to say so in its log.
import { readFileSync } from 'node:fs';

export const WAKE_HERE_PARAM = '/sys/module/fuse/parameters/wake_here';

/** true / false as the parameter says, null where the kernel has none (or it cannot be read). */
export function wakeHere(file = WAKE_HERE_PARAM): boolean | null {
  let v: string;
  try {
    v = readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  if (v === 'Y' || v === '1') return true;
  if (v === 'N' || v === '0') return false;
  return null;
}
