// Counts the requests the kernel sends to one FUSE mount, from the fuse_request_send tracepoint, in a tracing
// instance of its own (its own buffer and switches: other tracing on the machine is left alone).
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const TRACING = '/sys/kernel/tracing';

/** Mounts tracefs unless it is there; returns the undo (a no-op when it was there already). */
function mountTracing(): () => void {
  if (existsSync(join(TRACING, 'instances'))) return () => undefined;
  spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACING], { stdio: 'ignore' });
  return () => void spawnSync('umount', [TRACING], { stdio: 'ignore' });
}

/** Whether tracefs can be used here (left as it was found). */
export function tracingAvailable(): boolean {
  const undo = mountTracing();
  const ok = existsSync(join(TRACING, 'instances'));
  undo();
  return ok;
}

/** The kernel's number for the FUSE connection of `mnt` (its anonymous device: major 0). */
function connectionOf(mnt: string): number {
  const dev = statSync(mnt).dev;
  return (dev & 0xff) | ((dev >>> 12) & ~0xff);
}

/** Runs `fn` and counts the requests sent to `mnt` meanwhile, by name (LOOKUP, CREATE, ...). */
export async function countRequests(mnt: string, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const unmount = mountTracing();
  const inst = join(TRACING, 'instances', `pmxt-${process.pid}`);
  mkdirSync(inst);
  try {
    const ev = join(inst, 'events', 'fuse', 'fuse_request_send');
    writeFileSync(join(ev, 'filter'), `connection == ${connectionOf(mnt)}`);
    writeFileSync(join(ev, 'enable'), '1');
    try {
      await fn();
    } finally {
      writeFileSync(join(ev, 'enable'), '0');
    }
    const counts: Record<string, number> = {};
    for (const m of readFileSync(join(inst, 'trace'), 'utf8').matchAll(/\(FUSE_([A-Z_]+)\)/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
    return counts;
  } finally {
    rmdirSync(inst);
    unmount();
  }
}
