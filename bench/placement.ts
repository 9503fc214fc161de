// Where a client's requests are answered: on the CPU the client sent them from, or on another one. On a VM a reply
// that must wake a client on another (halted) CPU costs tens of microseconds of wake-up before the client can send its
// next request, more than the daemon's own work; this splits a client's wall time into the daemon's side (request
// sent -> answered) and the client's side (answered -> next request sent), from the fuse tracepoints.
import { basename } from 'node:path';
import type { RequestTrip } from '../test/helpers/fuse-trace.js';

export interface Placement {
  /** share of the client's synchronous requests answered on the CPU that sent them */
  sameCpu: number;
  /** per iteration: time from a request sent to its answer, summed over the iteration's synchronous requests */
  daemonUs: number;
  /** per iteration: the rest of the wall time (the client's work and its wake-ups) */
  clientUs: number;
  wallUs: number;
}

// Sent without waiting for the answer: they are not part of the client's wall time.
const ASYNC = new Set(['RELEASE', 'RELEASEDIR', 'FORGET', 'BATCH_FORGET', 'INTERRUPT']);

/** The kernel's name for a process started from `path` (its comm, 15 characters at most). */
export function commOf(path: string): string {
  return basename(path).slice(0, 15);
}

/** Splits the requests `comm` sent during `iterations` iterations of its loop. */
export function placement(trips: RequestTrip[], comm: string, iterations: number): Placement {
  const mine = trips.filter((t) => t.comm === comm && !ASYNC.has(t.op));
  if (mine.length === 0 || iterations <= 0) return { sameCpu: NaN, daemonUs: NaN, clientUs: NaN, wallUs: NaN };
  const wall = mine[mine.length - 1]!.endUs - mine[0]!.sentUs;
  const daemon = mine.reduce((s, t) => s + (t.endUs - t.sentUs), 0);
  return {
    sameCpu: mine.filter((t) => t.endCpu === t.sentCpu).length / mine.length,
    daemonUs: daemon / iterations,
    clientUs: (wall - daemon) / iterations,
    wallUs: wall / iterations,
  };
}
