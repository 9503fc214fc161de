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
// Pure bookkeeping: members are "nodeid:pid" keys; votes come from the caller.

export interface Votes {
  /** votes needed for quorum (votequorum) */
  needed(): number;
  /** votes of the distinct nodes among these members */
  of(keys: Iterable<string>): number;
}

interface Entry {
  /** the writer's last op sequence number in the message */
  last: number;
  holders: Set<string>;
  settle: (held: boolean) => void;
}

export class Confirmations {
  /** applied here, not yet known to be held by a quorum; in sequence order */
  private entries: Entry[] = [];

  constructor(
    private readonly self: () => string,
    private readonly votes: Votes,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** A message of this member, ops up to `last`, was applied here: `settle(true)` once a quorum holds it. */
  hold(last: number, settle: (held: boolean) => void): void {
    const e: Entry = { last, holders: new Set([this.self()]), settle };
    if (this.enough(e)) settle(true);
    else this.entries.push(e);
  }

  /** `member` applied this member's ops up to `upto`. */
  acked(member: string, upto: number): void {
    let i = 0;
    for (; i < this.entries.length && this.entries[i]!.last <= upto; i++) this.entries[i]!.holders.add(member);
    this.settleHeld(i);
  }

  /** The configuration changed; `survivors` were members before and are members now (this member included). */
  membershipChanged(survivors: Iterable<string>): void {
    const s = [...survivors];
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

  /** Votes needed changed (expected votes set, nodelist changed): some may be enough now. */
  recheck(): void {
    const keep: Entry[] = [];
    const done: Entry[] = [];
    for (const e of this.entries) (this.enough(e) ? done : keep).push(e);
    this.entries = keep;
    for (const e of done) e.settle(true);
  }

  /** This member leaves the group (corosync gone, shutdown): nothing can be confirmed any more. */
  failAll(): void {
    const all = this.entries;
    this.entries = [];
    for (const e of all) e.settle(false);
  }

  private enough(e: Entry): boolean {
    return this.votes.of(e.holders) >= Math.max(1, this.votes.needed());
  }

  /** Settles the entries among the first `n` that a quorum holds (acks cover a prefix, so they are a prefix). */
  private settleHeld(n: number): void {
    let k = 0;
    while (k < n && this.enough(this.entries[k]!)) k++;
    if (k === 0) return;
    const done = this.entries.splice(0, k);
    for (const e of done) e.settle(true);
  }

  /** After a configuration change or an exchange, every entry is decided: held by a quorum, or unknown. */
  private decideAll(): void {
    const all = this.entries;
    this.entries = [];
    for (const e of all) e.settle(this.enough(e));
  }
}
