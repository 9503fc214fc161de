// The FUSE module parameter `wake_here` of this VM's kernel (/sys/module/fuse/parameters/wake_here; not in stock
// kernels): with Y the kernel wakes the thread that reads /dev/fuse on the CPU of the process whose request woke it,
// instead of on the CPU that thread last ran on. A machine-wide setting: the benches set it for a run (for both
// daemons alike), name it in their output, and put the old value back when they end.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const WAKE_HERE = '/sys/module/fuse/parameters/wake_here';

/** 'Y', 'N', or null where the kernel has no such parameter. */
export function wakeHere(): string | null {
  return existsSync(WAKE_HERE) ? readFileSync(WAKE_HERE, 'utf8').trim() : null;
}

/**
 * Sets the parameter to `value` ('Y' or 'N'; '' leaves it as it is) and returns a function that puts the previous
 * value back (also run at process exit). Throws when asked for a value on a kernel without the parameter.
 */
export function setWakeHere(value: string): () => void {
  const before = wakeHere();
  if (!value || before === value) return () => {};
  if (before === null) throw new Error(`${WAKE_HERE} does not exist on this kernel: --wake-here cannot be used`);
  if (value !== 'Y' && value !== 'N') throw new Error(`--wake-here takes Y or N, not ${value}`);
  writeFileSync(WAKE_HERE, value);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(WAKE_HERE, before);
    } catch {
      /* best effort at exit */
    }
  };
  process.once('exit', restore);
  return restore;
}
