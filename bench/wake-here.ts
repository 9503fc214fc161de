// The kernel's fuse `wake_here` (src/fuse/wake.ts) for one bench run: machine-wide, so it is set for both daemons
// alike, named in the output, and put back as it was when the run ends.
import { writeFileSync } from 'node:fs';
import { WAKE_HERE_PARAM, wakeHere as readWakeHere } from '../src/fuse/wake.js';

/** 'Y', 'N', or null where the kernel has no such parameter. */
export function wakeHere(): string | null {
  const v = readWakeHere();
  return v === null ? null : v ? 'Y' : 'N';
}

/**
 * Sets the parameter to `value` ('Y' or 'N'; '' leaves it as it is) and returns a function that puts the previous
 * value back (also run at process exit). Throws when asked for a value on a kernel without the parameter.
 */
export function setWakeHere(value: string): () => void {
  const before = wakeHere();
  if (!value || before === value) return () => {};
  if (before === null) throw new Error(`${WAKE_HERE_PARAM} does not exist on this kernel: --wake-here cannot be used`);
  if (value !== 'Y' && value !== 'N') throw new Error(`--wake-here takes Y or N, not ${value}`);
  writeFileSync(WAKE_HERE_PARAM, value);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(WAKE_HERE_PARAM, before);
    } catch {
      /* best effort at exit */
    }
  };
  process.once('exit', restore);
  return restore;
}
