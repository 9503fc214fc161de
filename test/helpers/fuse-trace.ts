// The requests the kernel sends to FUSE mounts, from the fuse_request_send/_end tracepoints, in a tracing instance of
// its own (its own buffer and switches: other tracing on the machine is left alone): counted per mount for tests,
// and as timed events (which CPU sent a request, which answered it) for bench/placement.ts.
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

/** Runs `fn` with the given fuse events enabled (each with its filter) and returns the instance's trace text. */
async function traceText(events: Record<string, string>, fn: () => Promise<unknown>): Promise<string> {
  const unmount = mountTracing();
  const inst = join(TRACING, 'instances', `pmxt-${process.pid}`);
  mkdirSync(inst);
  try {
    writeFileSync(join(inst, 'buffer_size_kb'), '8192');
    const dirs = Object.keys(events).map((e) => join(inst, 'events', 'fuse', e));
    Object.values(events).forEach((f, i) => writeFileSync(join(dirs[i]!, 'filter'), f || '0'));
    for (const d of dirs) writeFileSync(join(d, 'enable'), '1');
    try {
      await fn();
    } finally {
      for (const d of dirs) writeFileSync(join(d, 'enable'), '0');
    }
    return readFileSync(join(inst, 'trace'), 'utf8');
  } finally {
    rmdirSync(inst);
    unmount();
  }
}

/** Runs `fn` and counts the requests sent to `mnt` meanwhile, by name (LOOKUP, CREATE, ...). */
export async function countRequests(mnt: string, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const text = await traceText({ fuse_request_send: `connection == ${connectionOf(mnt)}` }, fn);
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/\(FUSE_([A-Z_]+)\)/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  return counts;
}

/** One request's trip: sent by a client thread on one CPU, answered by the daemon on (maybe) another. */
export interface RequestTrip {
  op: string;
  /** command name of the sending thread */
  comm: string;
  sentUs: number;
  sentCpu: number;
  endUs: number;
  /** CPU of the thread whose reply ended the request (the daemon's) */
  endCpu: number;
}

/** Runs `fn` and returns every request of every FUSE mount sent and answered meanwhile, in the order sent. */
export async function traceRequests(fn: () => Promise<unknown>): Promise<RequestTrip[]> {
  const text = await traceText({ fuse_request_send: '', fuse_request_end: '' }, fn);
  const re = /^\s*(.+?)-\d+\s+\[(\d+)\]\s+\S+\s+([\d.]+): fuse_request_(send|end): connection (\d+) req (\d+)(?: opcode \d+ \((\w+)\))?/;
  const open = new Map<string, RequestTrip>();
  const trips: RequestTrip[] = [];
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const [, comm, cpu, secs, kind, conn, unique, op] = m;
    const key = `${conn}/${unique}`;
    const us = Number(secs) * 1e6;
    if (kind === 'send') {
      const t: RequestTrip = { op: (op ?? '?').replace(/^FUSE_/, ''), comm: comm!, sentUs: us, sentCpu: Number(cpu), endUs: NaN, endCpu: -1 };
      open.set(key, t);
      trips.push(t);
    } else {
      const t = open.get(key);
      if (!t) continue;
      open.delete(key);
      t.endUs = us;
      t.endCpu = Number(cpu);
    }
  }
  return trips.filter((t) => t.endCpu >= 0);
}
