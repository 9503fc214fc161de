// Model checking through a real mount (bench/model-check.ts): seeded random sequences of operations from three
// processes, each result and then the whole tree compared with the model of docs/FILESYSTEM.md after every step.
// On a mismatch the failure names the seed and the shortest sequence that still fails. Longer runs:
// `node dist/bench/model-check.js --seeds 1000 --ops 300` (counts in docs/RELIABILITY.md).
import { describe, expect, it } from 'vitest';
import { generate, Model, modelCheck } from '../../bench/model-check.js';
import { BACKENDS } from '../helpers/daemon.js';

const seed = Number(process.env.PMXCFS_TEST_SEED ?? Date.now() % 100_000);

describe('filesystem model', () => {
  it('sequences are reproducible from their seed and exercise every kind of operation', () => {
    const a = generate(42, 400, 3);
    expect(generate(42, 400, 3)).toEqual(a);
    const kinds = new Set(a.map((o) => o.k));
    for (const k of ['open', 'pwrite', 'pread', 'close', 'readfile', 'truncate', 'rename', 'unlink', 'mkdir', 'rmdir', 'chmod', 'utime', 'stat']) expect(kinds).toContain(k);
    expect(new Set(a.map((o) => o.w)).size).toBe(3);
    // and the model follows the documented rules, e.g. a directory moves only while empty
    const m = new Model();
    m.apply({ k: 'mkdir', w: 0, p: 'a' });
    m.apply({ k: 'open', w: 0, h: 1, p: 'a/x', creat: true, excl: false, trunc: false, append: false, acc: 'w' });
    expect(m.apply({ k: 'rename', w: 0, a: 'a', b: 'b' }).e).toBe('ENOTEMPTY');
    expect(m.apply({ k: 'chmod', w: 0, p: 'a/x', m: 0o644 }).e).toBe('EPERM');
  });

  for (const backend of BACKENDS) {
    // the fallback backend is several times slower per operation: fewer sequences
    const n = backend === 'native' ? 12 : 5;
    it(`${backend}: ${n} sequences of 150 operations from 3 processes match the model (seeds ${seed}..${seed + n - 1})`, async () => {
      const lines: string[] = [];
      const rep = await modelCheck({ seeds: n, ops: 150, procs: 3, seed, backend, log: (l) => lines.push(l), shrinkBudget: 150 });
      expect(lines.join('\n')).toBe('');
      expect(rep.failures).toEqual([]);
      expect(rep.ops).toBeGreaterThanOrEqual(n * 150);
    }, 180_000);
  }
});
