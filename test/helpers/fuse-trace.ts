// Counts the requests the kernel sends to one FUSE mount, from the fuse_request_send tracepoint, in a tracing
// instance of its own (its own buffer and switches: other tracing on the machine is left alone).
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const TRACING = '/sys/kernel/tracing';

/** Whether tracefs is there (mounted now if it was not). */
export function tracingAvailable(): boolean {
  if (!existsSync(join(TRACING, 'instances'))) spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACING], { stdio: 'ignore' });
  return existsSync(join(TRACING, 'instances'));
}

/** The kernel's number for the FUSE connection of `mnt` (its anonymous device: major 0). */
function connectionOf(mnt: string): number {
  const dev = statSync(mnt).dev;
  return (dev & 0xff) | ((dev >>> 12) & ~0xff);
}

/** Runs `fn` and counts the requests sent to `mnt` meanwhile, by name (LOOKUP, CREATE, ...). */
export async function countRequests(mnt: string, fn: () => Promise<unknown>): Promise<Record<string, number>> {
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
  }
}
