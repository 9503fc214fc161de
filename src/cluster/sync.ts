// The state exchange's decisions, as pure functions of the members' states and the local tree, so every member
// reaches the same ones: who leads, what the leader sends, what each member changes, and what it loses.
import type { DiscardedEntry } from '../store/db.js';
import type { Row, Tree } from '../store/tree.js';
import { entryDigest } from './digest.js';

export interface MemberState {
  /** `${nodeid}:${pid}` */
  key: string;
  nodeid: number;
  pid: number;
  /** bumped by every exchange that ended while its leader was quorate: the newer history wins over a longer one */
  gen: number;
  version: number;
  mtime: number;
  /** false: this member knows its tree is suspect (verification mismatch) and must not lead */
  lead: boolean;
  inodes: number[];
  digests: Buffer;
}

/** Members willing to lead first, then the newest history (gen), the highest version, the newest mtime, the lowest id. */
export function chooseLeader(states: MemberState[]): MemberState {
  const sorted = [...states].sort(
    (a, b) =>
      Number(b.lead) - Number(a.lead) || b.gen - a.gen || b.version - a.version || b.mtime - a.mtime || a.nodeid - b.nodeid || a.pid - b.pid,
  );
  return sorted[0]!;
}

function digestMap(s: MemberState): Map<number, string> {
  const m = new Map<number, string>();
  s.inodes.forEach((inode, i) => m.set(inode, s.digests.toString('hex', 8 * i, 8 * i + 8)));
  return m;
}

/** The leader's entries that at least one other member lacks or holds differently. */
export function entriesToSend(leader: MemberState, states: MemberState[]): number[] {
  const others = states.filter((s) => s.key !== leader.key).map(digestMap);
  if (others.length === 0) return [];
  const out: number[] = [];
  leader.inodes.forEach((inode, i) => {
    const d = leader.digests.toString('hex', 8 * i, 8 * i + 8);
    if (others.some((m) => m.get(inode) !== d)) out.push(inode);
  });
  return out;
}

export interface CatchUp {
  puts: Row[];
  dels: number[];
  /** local entries changed since this node last agreed with the leader, which the catch-up overwrites or removes */
  discarded: DiscardedEntry[];
}

/**
 * What this node changes to hold the leader's tree: entries whose digest differs take the leader's row (from
 * `updates`), entries the leader lacks go. `since` is this node's version when it last agreed with the leader:
 * what it changed after that is its own history, which the catch-up discards, so it is returned to be kept.
 */
export function planCatchUp(tree: Tree, leader: MemberState, updates: Map<number, Row>, since: number, node: string, now: number): CatchUp {
  const wanted = digestMap(leader);
  const puts: Row[] = [];
  const dels: number[] = [];
  const discarded: DiscardedEntry[] = [];
  const lose = (inode: number, reason: string): void => {
    const n = tree.get(inode);
    if (!n || n.version <= since) return;
    discarded.push({ time: now, node, path: tree.pathOf(n), version: n.version, mtime: n.mtime, type: n.type, data: n.data, reason });
  };
  for (const [inode, digest] of wanted) {
    const local = tree.get(inode);
    if (local && entryDigest(local).toString('hex') === digest) continue;
    const row = updates.get(inode);
    if (!row) throw new Error(`catch-up incomplete: the leader did not send inode ${inode}`);
    if (local) lose(inode, 'overwritten by the cluster');
    puts.push(row);
  }
  for (const n of tree.byInode.values()) {
    if (n.inode === 0 || wanted.has(n.inode)) continue;
    lose(n.inode, 'removed by the cluster');
    dels.push(n.inode);
  }
  return { puts, dels, discarded };
}
