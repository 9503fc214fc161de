// The cluster protocol's decoder against mutated input, in-process (bench/wire-fuzz.ts): every input is either a
// message that meets the protocol's spec or refused with a WireError; nothing else escapes, no input changes how the
// next one decodes, and a reassembler never holds more than the limit. Longer runs:
// `node dist/bench/wire-fuzz.js --count 200000 --seed N` (counts in docs/RELIABILITY.md).
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { fuzzDecoder } from '../../bench/wire-fuzz.js';
import { MAX_FRAGMENTS, PROTOCOL, Reassembler, WireError, decode, encode, fragment } from '../../src/cluster/wire.js';

const seed = Number(process.env.PMXCFS_TEST_SEED ?? Date.now() % 1_000_000);
const count = Number(process.env.PMXCFS_FUZZ_COUNT ?? 5000);

const frag = (i: number, n: number, part: Buffer) => pack([PROTOCOL, { t: 'frag', i, n, part }]);
const fragOf = (b: Buffer) => {
  const d = decode(b);
  if (!('frag' in d)) throw new Error('not a fragment');
  return d.frag;
};

describe('cluster message decoder under mutated input', () => {
  it(`${count} mutated messages of every kind (seed ${seed}): a valid message or a WireError, nothing else`, () => {
    const rep = fuzzDecoder({ seed, count });
    expect(rep.failures).toEqual([]);
    // the mutations reach every outcome
    expect(rep.refused).toBeGreaterThan(count / 4);
    expect(rep.foreign).toBeGreaterThan(0);
    expect(rep.decodedValid).toBeGreaterThan(0);
    expect(rep.fragmentsRefused).toBeGreaterThan(rep.fragmentSequences / 2);
    // a '__proto__' key on the wire reaches no other object
    expect(({} as Record<string, unknown>).t).toBeUndefined();
  });

  it('fragments: a changed total, an empty part, too many parts are refused; the sender starts over cleanly', () => {
    const whole = encode({ t: 'ops', seq: 1, ops: [{ kind: 'write', path: 'x', data: Buffer.alloc(300, 7), mtime: 1 }] });
    const parts = fragment(whole, 100);
    const re = new Reassembler();
    re.add(fragOf(parts[0]!));
    expect(() => re.add(fragOf(frag(1, parts.length + 1, Buffer.alloc(100))))).toThrow(WireError);
    expect(re.held).toBe(0);
    expect(() => decode(frag(0, 3, Buffer.alloc(0)))).toThrow(WireError);
    expect(() => decode(frag(0, MAX_FRAGMENTS + 1, Buffer.alloc(10)))).toThrow(WireError);
    let out: Buffer | null = null;
    for (const p of parts) out = re.add(fragOf(p)) ?? out;
    expect(out?.equals(whole)).toBe(true);
  });
});
