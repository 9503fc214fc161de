// The bookkeeping behind "acknowledged means held by a quorum" (src/cluster/confirm.ts), without corosync.
import { describe, expect, it } from 'vitest';
import { Confirmations } from '../../src/cluster/confirm.js';

const votesOf = (votes: Record<number, number>) => (keys: Iterable<string>) =>
  [...new Set([...keys].map((k) => Number(k.split(':')[0])))].reduce((s, id) => s + (votes[id] ?? 1), 0);

/** `others`: the other members (default none: only the quorum matters); waitAllMs 0 unless given */
function setup(needed: number, votes: Record<number, number> = {}, others: string[] = [], waitAllMs = 0) {
  const settled: [number, boolean][] = [];
  const lagging: string[] = [];
  const c = new Confirmations(() => '1:100', { needed: () => needed, votesOf: votesOf(votes), others: () => others }, { waitAllMs, onLagging: (k) => lagging.push(k) });
  const hold = (last: number) => c.hold(last, (held) => settled.push([last, held]));
  return { c, settled, hold, lagging, others };
}

describe('confirmations', () => {
  it('PMXCFS_ACK=own acknowledges a change as soon as this node applied it, as the original does', () => {
    const settled: [number, boolean][] = [];
    const c = new Confirmations(() => '1:100', { needed: () => 2, votesOf: votesOf({}), others: () => ['2:200', '3:300'] }, { waitAllMs: 1000, own: true });
    c.hold(1, (held) => settled.push([1, held]));
    c.hold(3, (held) => settled.push([3, held]));
    expect(settled).toEqual([[1, true], [3, true]]);
    expect(c.size).toBe(0);
    // late acks and membership changes find nothing left to decide
    c.acked('2:200', 3);
    c.membershipChanged(['1:100']);
    expect(settled).toEqual([[1, true], [3, true]]);
  });

  it('a single-vote quorum (one node, expected 1) confirms at once', () => {
    const { settled, hold } = setup(1);
    hold(3);
    expect(settled).toEqual([[3, true]]);
  });

  it('acks confirm every change up to the acknowledged one, in order', () => {
    const { c, settled, hold } = setup(2);
    hold(1);
    hold(4);
    hold(6);
    c.acked('2:200', 4);
    expect(settled).toEqual([[1, true], [4, true]]);
    c.acked('3:300', 6);
    expect(settled).toEqual([[1, true], [4, true], [6, true]]);
    expect(c.size).toBe(0);
  });

  it('two processes of one node count as one node', () => {
    const { c, settled, hold } = setup(3);
    hold(1);
    c.acked('2:200', 1);
    c.acked('2:201', 1);
    expect(settled).toEqual([]);
    c.acked('3:300', 1);
    expect(settled).toEqual([[1, true]]);
  });

  it('a node with more votes counts them', () => {
    const { c, settled, hold } = setup(3, { 2: 2 });
    hold(1);
    c.acked('2:200', 1);
    expect(settled).toEqual([[1, true]]);
  });

  it('a membership change with a quorum of survivors confirms; with fewer it leaves the fate unknown', () => {
    const a = setup(2);
    a.hold(1);
    a.c.membershipChanged(['1:100', '2:200']);
    expect(a.settled).toEqual([[1, true]]);
    const b = setup(2);
    b.hold(1);
    b.hold(2);
    b.c.membershipChanged(['1:100']);
    expect(b.settled).toEqual([[1, false], [2, false]]);
  });

  it('an ack from a node that then left still counts: it holds the change wherever it goes', () => {
    const { c, settled, hold } = setup(3);
    hold(1);
    c.acked('2:200', 1);
    c.membershipChanged(['1:100', '3:300']);
    expect(settled).toEqual([[1, true]]);
  });

  it('after a state exchange, a change the leader held is everywhere; one it did not may be gone', () => {
    const a = setup(2);
    a.hold(1);
    a.c.acked('2:200', 1 - 1); // an ack of an earlier change: nothing
    a.c.exchanged('2:200', ['1:100', '2:200', '3:300']);
    expect(a.settled).toEqual([[1, false]]);
    const b = setup(3);
    b.hold(1);
    b.c.acked('2:200', 1);
    b.c.exchanged('2:200', ['1:100', '2:200', '3:300']);
    expect(b.settled).toEqual([[1, true]]);
  });

  it('lower expected votes confirm what waits; leaving the group fails the rest as unknown', () => {
    const { c, settled, hold } = setup(2);
    let needed = 2;
    const c2 = new Confirmations(() => '1:100', { needed: () => needed, votesOf: (k) => new Set([...k]).size, others: () => [] }, { waitAllMs: 0 });
    const s2: boolean[] = [];
    c2.hold(1, (h) => s2.push(h));
    needed = 1;
    c2.recheck();
    expect(s2).toEqual([true]);
    hold(1);
    c.failAll();
    expect(settled).toEqual([[1, false]]);
  });

  it('past the quorum, the writer waits for every other member, so reads on any node see the change', () => {
    const { c, settled, hold } = setup(2, {}, ['2:200', '3:300'], 60_000);
    hold(1);
    c.acked('2:200', 1);
    expect(settled).toEqual([]);
    c.acked('3:300', 1);
    expect(settled).toEqual([[1, true]]);
  });

  it('a member that does not apply in time is left behind until it caught up, then waited for again', async () => {
    const { c, settled, hold, lagging } = setup(2, {}, ['2:200', '3:300'], 30);
    hold(1);
    c.acked('2:200', 1);
    await new Promise((r) => setTimeout(r, 80));
    expect(settled).toEqual([[1, true]]);
    expect(lagging).toEqual(['3:300']);
    // lagging: not waited for
    hold(2);
    c.acked('2:200', 2);
    expect(settled).toEqual([[1, true], [2, true]]);
    // caught up with everything acknowledged: waited for again
    c.acked('3:300', 2);
    expect(c.laggingMembers).toEqual([]);
    hold(3);
    c.acked('2:200', 3);
    expect(settled.length).toBe(2);
    c.acked('3:300', 3);
    expect(settled).toEqual([[1, true], [2, true], [3, true]]);
  });

  it('a membership change does not wait for the members that joined', () => {
    const { c, settled, hold } = setup(2, {}, ['2:200', '3:300', '4:400'], 60_000);
    hold(1);
    c.membershipChanged(['1:100', '2:200', '3:300']);
    expect(settled).toEqual([[1, true]]);
  });

  it('with no wait past the quorum (PMXCFS_ACK_WAIT_MS=0) a quorum is enough and nobody is called lagging', () => {
    const { c, settled, hold, lagging } = setup(2, {}, ['2:200', '3:300'], 0);
    hold(1);
    c.acked('2:200', 1);
    expect(settled).toEqual([[1, true]]);
    expect(lagging).toEqual([]);
  });
});
