// A state exchange that stalls (its leader's `end` never comes: a failed send, members that disagree on the leader)
// must not hold the cluster for good: every member still in it after a while without progress asks for a new one.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DELIVERY, PveCluster } from '../helpers/cluster.js';
import { cleanupAll, sh } from '../helpers/daemon.js';
import { CpgRpc } from '../helpers/cpg-rpc.js';
import { CPG_GROUP } from '../../src/cluster/cluster.js';

describe('a stalled state exchange (three nodes)', () => {
  let c: PveCluster;

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('an exchange whose leader never sends its end is asked for again, and the nodes sync and write', async () => {
    const env = { PMXCFS_SYNC_TIMEOUT_MS: '1000' };
    // node 1 leads the exchanges (lowest node id, same history) and drops its first `end` once stall.trigger exists
    await c.startDaemon(1, { ...env, PMXCFS_FAILPOINTS: 'drop-end:stall.trigger' });
    await c.startDaemon(2, env);
    await c.startDaemon(3, env);
    await c.waitSynced([1, 2, 3]);
    expect((await sh(`echo x > ${c.mount(1)}/stall.trigger`, { timeout: 15_000 })).code).toBe(0);
    // node 3's daemon goes: the exchange of nodes 1 and 2 that follows, led by node 1, stalls; nothing else happens
    await c.killDaemon(3);
    await c.waitSynced([1, 2], 60_000);
    expect(c.daemon(1).log()).toMatch(/failpoint drop-end/);
    // whichever member's watch fires first asks again (the other's then finds a new exchange running)
    expect(`${c.daemon(1).log()}\n${c.daemon(2).log()}`).toMatch(/the state exchange made no progress/);
    await c.startDaemon(3, env);
    await c.waitSynced([1, 2, 3], 60_000);
    expect((await sh(`echo after > ${c.mount(2)}/after-stall.cfg`, { timeout: 15_000 })).code).toBe(0);
    await vi.waitFor(() => expect(readFileSync(join(c.mount(3), 'after-stall.cfg'), 'utf8')).toBe('after\n'), DELIVERY);
  }, 90_000);

  it('a stray group member that is the lowest (and never speaks) does not hold the exchange', async () => {
    // without node 1's daemon, a test CPG member on node 1 is the lowest member: it would start and watch exchanges
    await c.stopDaemon(1);
    await c.waitSynced([2, 3]);
    const stray = await CpgRpc.start(c.net, 1, { group: CPG_GROUP });
    try {
      await c.waitSynced([2, 3], 60_000);
      expect((await sh(`echo stray > ${c.mount(3)}/with-stray.cfg`, { timeout: 15_000 })).code).toBe(0);
      await vi.waitFor(() => expect(readFileSync(join(c.mount(2), 'with-stray.cfg'), 'utf8')).toBe('stray\n'), DELIVERY);
      expect(`${c.daemon(2).log()}\n${c.daemon(3).log()}`).toMatch(/members did not answer the state exchange/);
    } finally {
      await stray.call('exit', {}, 2000).catch(() => stray.kill());
    }
    await c.startDaemon(1, { PMXCFS_SYNC_TIMEOUT_MS: '1000' });
    await c.waitSynced([1, 2, 3], 60_000);
  }, 120_000);
});
