// Loads the native corosync addon and describes its raw surface. The addon only marshals: every method maps to one
// library call, and events arrive as batches (one array per *_dispatch) in the order the library produced them.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** cs_error_t values used by the wrappers (corotypes.h). */
export const CS = {
  OK: 1,
  ERR_LIBRARY: 2,
  ERR_TIMEOUT: 5,
  ERR_TRY_AGAIN: 6,
  ERR_INVALID_PARAM: 7,
  ERR_BAD_HANDLE: 9,
  ERR_BUSY: 10,
  ERR_ACCESS: 11,
  ERR_NOT_EXIST: 12,
  ERR_EXIST: 14,
  ERR_TOO_BIG: 26,
  ERR_NO_SECTIONS: 27,
} as const;

export const CS_TRACK_CURRENT = 1;
export const CS_TRACK_CHANGES = 2;
export const CS_TRACK_CHANGES_ONLY = 4;

export const CMAP_TRACK_ADD = 4;
export const CMAP_TRACK_DELETE = 1;
export const CMAP_TRACK_MODIFY = 2;
export const CMAP_TRACK_PREFIX = 8;

export const VOTEQUORUM_INFO_QUORATE = 2;

/** An error from a corosync library call; `code` is the cs_error_t. */
export class CsError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'CsError';
  }
}

export function csErrorFrom(e: unknown): CsError {
  if (e instanceof CsError) return e;
  const err = e as { message?: unknown; code?: unknown };
  return new CsError(String(err?.message ?? e), typeof err?.code === 'number' ? err.code : CS.ERR_LIBRARY);
}

export interface CpgAddress {
  nodeid: number;
  pid: number;
  /** cpg_reason_t: 1 JOIN, 2 LEAVE, 3 NODEDOWN, 4 NODEUP, 5 PROCDOWN (0 in member lists). */
  reason: number;
}

export interface ErrorEvent {
  type: 'error';
  code: number;
  uvStatus: number;
}

export type RawCpgEvent =
  | { type: 'deliver'; nodeid: number; pid: number; data: Buffer }
  | { type: 'confchg'; group: string; members: CpgAddress[]; left: CpgAddress[]; joined: CpgAddress[] }
  | { type: 'totem'; ringNodeid: number; ringSeq: number; members: number[] }
  | ErrorEvent;

export interface RawCpg {
  join(group: string): number;
  leave(group: string): number;
  mcast(data: Buffer | Buffer[]): number;
  localNodeId(): number;
  maxMessageSize(): number;
  membership(group: string): CpgAddress[];
  flowControlEnabled(): boolean;
  finalize(): void;
}

export interface VotequorumInfo {
  nodeId: number;
  nodeState: number;
  nodeVotes: number;
  nodeExpectedVotes: number;
  highestExpected: number;
  totalVotes: number;
  quorum: number;
  flags: number;
}

export type RawVotequorumEvent =
  | { type: 'quorum'; quorate: boolean; nodes: { nodeid: number; state: number }[] }
  | { type: 'expected'; expectedVotes: number }
  | { type: 'nodelist'; ringNodeid: number; ringSeq: number; nodes: number[] }
  | ErrorEvent;

export interface RawVotequorum {
  getInfo(nodeid?: number): VotequorumInfo;
  setExpected(votes: number): number;
  setVotes(nodeid: number, votes: number): number;
  trackStart(flags?: number): number;
  trackStop(): number;
  finalize(): void;
}

export type CmapValue = number | bigint | string | Buffer;

export interface CmapEntry {
  key: string;
  /** cmap_value_types_t */
  type: number;
  value: CmapValue;
}

export type RawCmapEvent =
  | { type: 'notify'; trackId: number; event: number; key: string; newValue?: CmapValue; oldValue?: CmapValue }
  | ErrorEvent;

export interface RawCmap {
  get(key: string): { type: number; value: CmapValue };
  entries(prefix: string): CmapEntry[];
  trackAdd(key: string, flags: number): number;
  trackDelete(trackId: number): number;
  finalize(): void;
}

export type RawCfgEvent = { type: 'shutdown'; flags: number } | ErrorEvent;

export interface RawCfg {
  reload(): number;
  localNodeId(): number;
  finalize(): void;
}

export interface NativeBinding {
  Cpg: new (onEvents: (events: RawCpgEvent[]) => void) => RawCpg;
  Votequorum: new (onEvents: (events: RawVotequorumEvent[]) => void) => RawVotequorum;
  Cmap: new (onEvents: (events: RawCmapEvent[]) => void) => RawCmap;
  Cfg: new (onEvents: (events: RawCfgEvent[]) => void) => RawCfg;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('corosync binding: package root not found');
}

let cached: NativeBinding | undefined;

/** The addon, loaded once (throws if it was not built: `node scripts/build-native.mjs corosync`). */
export function loadBinding(): NativeBinding {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(join(packageRoot(), 'native', 'corosync', 'build', 'Release', 'corosync.node')) as NativeBinding;
  }
  return cached;
}

/** Wraps a getter that throws a raw addon error into one that throws CsError. */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw csErrorFrom(e);
  }
}
