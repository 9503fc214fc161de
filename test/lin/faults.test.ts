// Cluster histories under faults (bench/lin/harness.ts), bounded: one cycle of each fault kind on three nodes, with
// clients on every node doing reads, tmp + rename writes and compare-and-set under lock dirs. No acknowledged change
// lost, the trees identical after the heal, no call left hanging (a FUSE request that never gets its answer), every
// history linearizable. The long runs are in docs/RELIABILITY.md
// (`node dist/bench/lin-faults.js`).
import { afterAll, describe, expect, it } from 'vitest';
import { FAULTS, runLin } from '../../bench/lin/harness.js';
import { cleanupAll } from '../helpers/daemon.js';

const SEED = Number(process.env.PMXCFS_TEST_SEED ?? Date.now() % 100_000);

describe('cluster histories under faults', () => {
  afterAll(async () => {
    await cleanupAll();
  });

  it(`one cycle of each fault on three nodes: linearizable, nothing lost, no divergence, no hung call (seed ${SEED})`, async () => {
    const rep = await runLin({ nodes: 3, cycles: FAULTS.length, seed: SEED, maxSeconds: 150 });
    const summary = JSON.stringify({ ...rep, cycleSeconds: undefined }, null, 1);
    expect(rep.cycles, summary).toBeGreaterThan(0);
    expect(rep.hungOps, summary).toBe(0);
    expect(rep.lost, summary).toBe(0);
    expect(rep.divergence, summary).toBe(0);
    expect(rep.ok, summary).toBeGreaterThan(0);
    // every history linearizable (reads may lag by the harness's staleMs), every failure named
    expect(rep.anomalies, summary).toBe(0);
    expect(rep.failures, summary).toEqual([]);
  }, 240_000);
});
