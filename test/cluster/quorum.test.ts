// Quorum: a partitioned minority turns read-only (EACCES, 0440/0555) and keeps serving reads; the majority keeps
// writing; after the heal every node holds the majority's changes.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DELIVERY, PveCluster, waitFor } from '../helpers/cluster.js';
import { cleanupAll, py, sh, sleep } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';

describe('quorum on three nodes', () => {
  let c: PveCluster;

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startAll();
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('a partitioned node goes read-only, the majority keeps writing, and the heal brings the majority\'s changes', async () => {
    await sh(`echo before > ${c.mount(1)}/before.cfg`);
    c.net.partition([3]);
    await waitFor('node 3 not quorate', () => c.members(3).cluster?.quorate === 0);
    // writes fail with EACCES, modes lose their write bits, reads go on
    const w = await py(`print(W('${c.mount(3)}/minority.cfg', 'x'))`);
    expect(w.stdout.trim()).toBe('open:EACCES');
    expect(statSync(join(c.mount(3), 'before.cfg')).mode & 0o777).toBe(0o440);
    expect(statSync(join(c.mount(3), 'nodes')).mode & 0o777).toBe(0o555);
    expect(statSync(join(c.mount(3), 'priv')).mode & 0o777).toBe(0o500);
    expect(readFileSync(join(c.mount(3), 'before.cfg'), 'utf8')).toBe('before\n');
    const mk = await sh(`mkdir ${c.mount(3)}/priv/lock/minority`);
    expect(mk.stderr).toMatch(/Permission denied/);
    // the majority writes on
    await waitFor('majority writable', async () => (await sh(`echo during > ${c.mount(1)}/during.cfg`)).code === 0);
    await vi.waitFor(() => expect(readFileSync(join(c.mount(2), 'during.cfg'), 'utf8')).toBe('during\n'), DELIVERY);
    c.net.heal();
    await c.waitSynced([1, 2, 3]);
    expect(readFileSync(join(c.mount(3), 'during.cfg'), 'utf8')).toBe('during\n');
    expect(statSync(join(c.mount(3), 'before.cfg')).mode & 0o777).toBe(0o640);
    expect(treeListing(c.mount(3))).toEqual(treeListing(c.mount(1)));
  });

  it('a change in flight when quorum goes is either everywhere, or refused and nowhere, or reported unknown', async () => {
    // the write is issued right as the node is cut off: it was confirmed by a quorum before (then it is everywhere),
    // or refused (EACCES: applied nowhere), or cut off after it was sent and before a quorum confirmed it (EIO: it
    // may or may not have reached the others; every node ends up the same either way)
    c.net.partition([2]);
    const r = await py(`print(W('${c.mount(2)}/inflight.cfg', 'x'))`, { timeout: 30_000 });
    await waitFor('node 2 not quorate', () => c.members(2).cluster?.quorate === 0);
    c.net.heal();
    await c.waitSynced([1, 2, 3]);
    const everywhere = [1, 2, 3].map((id) => treeListing(c.mount(id)).some((l) => l.startsWith('inflight.cfg ')));
    if (r.stdout.trim() === 'OK') expect(everywhere).toEqual([true, true, true]);
    else if (/EIO/.test(r.stdout)) expect(new Set(everywhere).size).toBe(1);
    else {
      expect(r.stdout.trim()).toMatch(/EACCES/);
      expect(everywhere).toEqual([false, false, false]);
    }
  });

  it('a node whose corosync restarts while another node writes converges (its CPG can be back before its quorum)', async () => {
    await sh(`echo x > ${c.mount(1)}/restart.cfg`);
    await vi.waitFor(() => expect(readFileSync(join(c.mount(2), 'restart.cfg'), 'utf8')).toBe('x\n'), DELIVERY);
    await c.net.kill(2);
    await waitFor('node 2 read-only', () => (statSync(join(c.mount(2), 'restart.cfg')).mode & 0o777) === 0o440);
    // node 1 writes on through node 2's return: changes delivered to node 2 before its votequorum says quorate are
    // refused there; node 2 must catch up on them once quorate
    const writer = py(`
import time
end = time.time() + 6
i = 0
while time.time() < end:
    W('${c.mount(1)}/through-%d.cfg' % i, 'x%d' % i)
    i += 1
    time.sleep(0.005)
print(i)
`, { timeout: 30_000 });
    await sleep(500);
    c.net.start([2]);
    await c.net.waitQuorate(2);
    const n = Number((await writer).stdout.trim());
    expect(n).toBeGreaterThan(10);
    await c.waitSynced([1, 2, 3]);
    expect(treeListing(c.mount(2))).toEqual(treeListing(c.mount(1)));
    expect(treeListing(c.mount(3))).toEqual(treeListing(c.mount(1)));
  });

  it('killing corosync under a node makes it read-only; restarting corosync makes it writable again', async () => {
    await c.net.kill(3);
    await waitFor('node 3 read-only', () => (statSync(join(c.mount(3), 'before.cfg')).mode & 0o777) === 0o440);
    expect(readFileSync(join(c.mount(3), 'before.cfg'), 'utf8')).toBe('before\n');
    expect((await py(`print(W('${c.mount(3)}/nocorosync.cfg', 'x'))`)).stdout.trim()).toBe('open:EACCES');
    await sh(`echo meanwhile > ${c.mount(1)}/meanwhile.cfg`);
    c.net.start([3]);
    await c.net.waitQuorate(3);
    await c.waitSynced([1, 2, 3]);
    expect(readFileSync(join(c.mount(3), 'meanwhile.cfg'), 'utf8')).toBe('meanwhile\n');
    expect((await sh(`echo back > ${c.mount(3)}/back.cfg`)).code).toBe(0);
    await vi.waitFor(() => expect(readFileSync(join(c.mount(1), 'back.cfg'), 'utf8')).toBe('back\n'), DELIVERY);
  });

  it('a daemon started while its corosync is down says so in its log, serves its tree read-only, and joins once corosync runs', async () => {
    await c.stopDaemon(3);
    await c.net.kill(3);
    const d = await c.startDaemon(3);
    await waitFor('the log names corosync', () => /cannot reach corosync \(is it running\?\): read-only/.test(d.log()));
    expect(readFileSync(join(c.mount(3), 'before.cfg'), 'utf8')).toBe('before\n');
    expect(statSync(join(c.mount(3), 'before.cfg')).mode & 0o777).toBe(0o440);
    expect((await py(`print(W('${c.mount(3)}/early.cfg', 'x'))`)).stdout.trim()).toBe('open:EACCES');
    c.net.start([3]);
    await c.net.waitQuorate(3);
    await c.waitSynced([1, 2, 3]);
    expect((await sh(`echo joined > ${c.mount(3)}/joined.cfg`)).code).toBe(0);
    await vi.waitFor(() => expect(readFileSync(join(c.mount(1), 'joined.cfg'), 'utf8')).toBe('joined\n'), DELIVERY);
    // said once, not at every retry
    expect(d.log().match(/cannot reach corosync/g)).toHaveLength(1);
  });
});
