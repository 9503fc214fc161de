// When a change may be acknowledged to its writer.
//
// CPG delivers in agreed order, not in safe order: a member delivers its own message as soon as it is ordered,
// possibly before any other member received it. If the member is cut off right then, the others never see the
// change, go on without it, and the catch-up after the heal discards it: an acknowledged change lost. So a writer's
// node answers only once the change is known to be held by members whose votes make a quorum:
//   - members tell it so: every member acknowledges the changes it applied (`acks` in its next message, or an `ack`
//     message of its own), and
//   - a membership change tells it so: by extended virtual synchrony every member that moves on with this node into
//     the next configuration delivered the same messages of the old one, so the survivors hold the change.
// A quorum of holders means every future quorate partition has one of them, and it brings the change along. A
// membership change that leaves fewer holders makes the change's fate unknown: the writer gets EIO (it may or may
// not survive), never a success that a catch-up takes back.
//
// Beyond the quorum, the writer waits for every other member (up to `waitAllMs`), so that once a write returned,
// a read on any node sees it (reads are answered from the node's own tree). A member that has not applied a change
// `waitAllMs` after a quorum did is "lagging": nobody waits for it until it has caught up.
//
// `own` (PMXCFS_ACK=own, for measurements): the original's promise, acknowledged as soon as this node applied the
// change; a node cut off right then may have answered "done" for a change the others never see.
//
// Bookkeeping only: members are "nodeid:pid" keys; votes and members come from the caller.

export interface Group {
  /** votes needed for quorum (votequorum) */
  needed(): number;
  /** votes of the distinct nodes among these members */
  votesOf(keys: Iterable<string>): number;
  /** the other members of the group now */
  others(): Iterable<string>;
}

export interface ConfirmOptions {
  /** how long past a quorum to wait for the other members (ms); 0: do not wait past the quorum */
  waitAllMs: number;
  /** acknowledge once this member applied a change, like the original (no quorum, no wait for the others) */
  own?: boolean;
  /** a member did not apply a change within waitAllMs past the quorum (it is waited for again once caught up) */
  onLagging?: (member: string) => void;
}

interface Entry {
  /** the writer's last op sequence number in the message */
  last: number;
  holders: Set<string>;
  settle: (held: boolean) => void;
  /** when a quorum first held it (ms, performance.now) */
  quorumAt?: number;
}

export class Confirmations {
  /** applied here, not yet acknowledged to the writer; in sequence order */
  private entries: Entry[] = [];
  private readonly lagging = new Set<string>();
  /** the last sequence number acknowledged to a writer */
  private lastSettled = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly self: () => string,
    private readonly group: Group,
    private readonly opts: ConfirmOptions,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** Members not waited for now. */
  get laggingMembers(): string[] {
    return [...this.lagging];
  }

  /** A message of this member, ops up to `last`, was applied here: `settle(true)` once it may be acknowledged. */
  hold(last: number, settle: (held: boolean) => void): void {
    if (this.opts.own) {
      this.lastSettled = last;
      settle(true);
      return;
    }
    this.entries.push({ last, holders: new Set([this.self()]), settle });
    this.advance();
  }

  /** `member` applied this member's ops up to `upto`. */
  acked(member: string, upto: number): void {
    for (let i = 0; i < this.entries.length && this.entries[i]!.last <= upto; i++) this.entries[i]!.holders.add(member);
    if (this.lagging.has(member) && upto >= this.lastSettled) this.lagging.delete(member);
    this.advance();
  }

  /** The configuration changed; `survivors` were members before and are members now (this member included). */
  membershipChanged(survivors: Iterable<string>): void {
    const s = [...survivors];
    const now = new Set(this.group.others());
    for (const k of this.lagging) if (!now.has(k)) this.lagging.delete(k);
    for (const e of this.entries) for (const k of s) e.holders.add(k);
    this.decideAll();
  }

  /**
   * A state exchange ended: every live member now has the leader's tree. A change the leader held is everywhere;
   * one it did not hold may be gone (the leader acknowledged what it applied before its state, so not holding means
   * not applied).
   */
  exchanged(leader: string, live: Iterable<string>): void {
    const l = [...live];
    for (const e of this.entries) {
      if (e.holders.has(leader)) for (const k of l) e.holders.add(k);
      else e.holders.clear();
    }
    this.decideAll();
  }

  /** Votes needed or the members changed (expected votes set, nodelist changed): some may be enough now. */
  recheck(): void {
    this.advance();
  }

  /** This member leaves the group (corosync gone, shutdown) or lost quorum: the fate of every change is unknown. */
  failAll(): void {
    const all = this.entries;
    this.entries = [];
    this.clearTimer();
    for (const e of all) e.settle(false);
  }

  private quorum(e: Entry): boolean {
    return this.group.votesOf(e.holders) >= Math.max(1, this.group.needed());
  }

  private missing(e: Entry, others: string[]): string[] {
    return others.filter((k) => !e.holders.has(k) && !this.lagging.has(k));
  }

  /**
   * Settles, in order, what a quorum holds and every other member has applied (or has had waitAllMs to). A later
   * entry never has a holder an earlier one lacks (acks cover a prefix), so the first one that waits stops the walk.
   */
  private advance(): void {
    let n = 0;
    const now = performance.now();
    // waitAllMs 0 (PMXCFS_ACK_WAIT_MS=0): a quorum is enough
    const others = this.opts.waitAllMs > 0 ? [...this.group.others()] : [];
    for (; n < this.entries.length; n++) {
      const e = this.entries[n]!;
      if (!this.quorum(e)) break;
      const missing = this.missing(e, others);
      if (missing.length === 0) continue;
      e.quorumAt ??= now;
      const left = e.quorumAt + this.opts.waitAllMs - now;
      if (left > 0) {
        this.armTimer(left);
        break;
      }
      for (const k of missing) {
        this.lagging.add(k);
        this.opts.onLagging?.(k);
      }
    }
    if (n === 0) return;
    const done = this.entries.splice(0, n);
    this.lastSettled = done[done.length - 1]!.last;
    if (this.entries.length === 0) this.clearTimer();
    for (const e of done) e.settle(true);
  }

  /** After a configuration change or an exchange, every entry is decided: held by a quorum, or unknown. */
  private decideAll(): void {
    const all = this.entries;
    this.entries = [];
    this.clearTimer();
    for (const e of all) {
      const held = this.quorum(e);
      if (held) this.lastSettled = e.last;
      e.settle(held);
    }
  }

  private armTimer(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.advance();
    }, Math.ceil(ms));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
