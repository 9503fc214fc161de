// The linearizability checker on hand-made histories: known linearizable ones must pass, known anomalies (stale
// read, lost write, a refused change that took effect, two lock holders, a double compare-and-set) must fail.
import { describe, expect, it } from 'vitest';
import { checkHistory, checkKey, type Op, type Outcome } from '../../bench/lin/checker.js';

const r = (key: string, value: string | null, call: number, ret: number, outcome: Outcome = 'ok'): Op => ({ kind: 'read', key, value, call, ret, outcome });
const w = (key: string, value: string, call: number, ret: number, outcome: Outcome = 'ok'): Op => ({ kind: 'write', key, value, call, ret, outcome });
const cas = (key: string, from: string | null, to: string, call: number, ret: number, outcome: Outcome = 'ok'): Op => ({ kind: 'cas', key, from, to, call, ret, outcome });
const acq = (key: string, call: number, ret: number, outcome: Outcome = 'ok'): Op => ({ kind: 'acquire', key, call, ret, outcome });
const rel = (key: string, call: number, ret: number, outcome: Outcome = 'ok'): Op => ({ kind: 'release', key, call, ret, outcome });

describe('linearizable histories are accepted', () => {
  it('sequential writes and reads', () => {
    expect(checkHistory([w('k', 'a', 0, 1), r('k', 'a', 2, 3), w('k', 'b', 4, 5), r('k', 'b', 6, 7)]).ok).toBe(true);
  });
  it('a read concurrent with a write sees either value', () => {
    for (const v of ['a', 'b']) expect(checkHistory([w('k', 'a', 0, 1), w('k', 'b', 2, 10), r('k', v, 3, 4)]).ok).toBe(true);
  });
  it('reads order concurrent writes: both orders are possible, and reads after them agree on one', () => {
    const h = [w('k', 'a', 0, 10), w('k', 'b', 0, 10), r('k', 'b', 1, 2), r('k', 'a', 3, 4), r('k', 'a', 11, 12)];
    expect(checkHistory(h).ok).toBe(true);
  });
  it('an unknown write may have happened, or not', () => {
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'x', 2, 3, 'unknown'), r('k', 'x', 50, 51)]).ok).toBe(true);
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'x', 2, 3, 'unknown'), r('k', 'a', 50, 51)]).ok).toBe(true);
    // it may take effect long after its call returned with an error
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'x', 2, 3, 'unknown'), r('k', 'a', 50, 51), r('k', 'x', 60, 61)]).ok).toBe(true);
  });
  it('a refused (EACCES) write is left out', () => {
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'x', 2, 3, 'failed'), r('k', 'a', 50, 51)]).ok).toBe(true);
  });
  it('a chain of compare-and-sets from the initial value', () => {
    const h = [cas('k', 'i', 'a', 0, 5), cas('k', 'a', 'b', 6, 9), r('k', 'b', 10, 11)];
    expect(checkHistory(h, { k: 'i' }).ok).toBe(true);
  });
  it('locks: acquire, refused while held, release, acquire again; an absent key reads null', () => {
    const h = [acq('L', 0, 1), acq('L', 2, 3, 'refused'), rel('L', 4, 5), rel('L', 6, 7, 'refused'), acq('L', 8, 9), r('k', null, 0, 1)];
    expect(checkHistory(h).ok).toBe(true);
  });
  it('an unknown acquire leaves the lock held or not', () => {
    expect(checkHistory([acq('L', 0, 1, 'unknown'), acq('L', 5, 6)]).ok).toBe(true);
    expect(checkHistory([acq('L', 0, 1, 'unknown'), acq('L', 5, 6, 'refused')]).ok).toBe(true);
  });
  it('a few hundred concurrent ops of a simulated linearizable register, within the budget', () => {
    // ten clients, each op's effect at a random point inside its interval
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const points: { at: number; op: Op }[] = [];
    for (let c = 0; c < 10; c++) {
      let t = rnd() * 10;
      for (let i = 0; i < 40; i++) {
        const call = t;
        const ret = t + 1 + rnd() * 30;
        const at = call + rnd() * (ret - call);
        const outcome: Outcome = rnd() < 0.03 ? 'unknown' : 'ok';
        points.push({ at, op: rnd() < 0.5 ? r('k', null, call, ret, outcome) : w('k', `c${c}-${i}`, call, ret, outcome) });
        t = ret + rnd() * 5;
      }
    }
    points.sort((a, b) => a.at - b.at);
    let v: string | null = null;
    for (const p of points) {
      if (p.op.outcome === 'unknown' && p.op.kind === 'read') continue;
      if (p.op.kind === 'write') v = p.op.value;
      else if (p.op.kind === 'read') (p.op as { value: string | null }).value = v;
    }
    const res = checkKey('k', points.filter((p) => !(p.op.outcome === 'unknown' && p.op.kind === 'read')).map((p) => p.op), null);
    expect(res.ok, JSON.stringify(res.undecided)).toBe(true);
  });
});

describe('anomalies are rejected', () => {
  it('a stale read: the old value read after a newer write completed', () => {
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'b', 2, 3), r('k', 'a', 4, 5)]).ok).toBe(false);
  });
  it('a value nobody wrote', () => {
    expect(checkHistory([w('k', 'a', 0, 1), r('k', 'zz', 2, 3)]).ok).toBe(false);
  });
  it('a lost acknowledged write: the final read shows the value before it', () => {
    const res = checkHistory([w('k', 'a', 0, 1), w('k', 'b', 2, 3), r('k', 'a', 100, 101)]);
    expect(res.ok).toBe(false);
    expect(res.keys[0]!.stuckAt?.kind).toBe('read');
  });
  it('a refused (EACCES) write that took effect anyway', () => {
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'x', 2, 3, 'failed'), r('k', 'x', 50, 51)]).ok).toBe(false);
  });
  it('reads that go back: an unknown write seen, then the value before it', () => {
    expect(checkHistory([w('k', 'a', 0, 1), w('k', 'x', 2, 3, 'unknown'), r('k', 'x', 10, 11), r('k', 'a', 20, 21)]).ok).toBe(false);
  });
  it('two clients read different orders of the same two writes', () => {
    const h = [w('k', 'a', 0, 10), w('k', 'b', 0, 10), r('k', 'a', 1, 2), r('k', 'b', 3, 4), r('k', 'b', 1, 2.5), r('k', 'a', 3.5, 4.5)];
    expect(checkHistory(h).ok).toBe(false);
  });
  it('two compare-and-sets from the same value both succeed', () => {
    expect(checkHistory([cas('k', 'i', 'a', 0, 10), cas('k', 'i', 'b', 0, 10)], { k: 'i' }).ok).toBe(false);
  });
  it('two holders of one lock', () => {
    expect(checkHistory([acq('L', 0, 1), acq('L', 2, 3)]).ok).toBe(false);
    expect(checkHistory([acq('L', 0, 10), acq('L', 0, 10)]).ok).toBe(false);
  });
  it('a lock refused (EEXIST) while nobody held it, and a release of a lock nobody held', () => {
    expect(checkHistory([acq('L', 0, 1), rel('L', 2, 3), acq('L', 4, 5, 'refused')]).ok).toBe(false);
    expect(checkHistory([rel('L', 0, 1)]).ok).toBe(false);
  });
  it('one bad key fails the whole history, the others pass', () => {
    const res = checkHistory([w('a', '1', 0, 1), r('a', '1', 2, 3), w('b', '1', 0, 1), r('b', null, 2, 3)]);
    expect(res.ok).toBe(false);
    expect(res.keys.map((k) => [k.key, k.ok])).toEqual([['a', true], ['b', false]]);
  });
});
