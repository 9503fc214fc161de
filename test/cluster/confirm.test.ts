// A change is acknowledged only once nodes that make a quorum hold it: a node cut off right after it delivered its
// own change (CPG orders before every member has it) must not tell its writer "done" for a change the others may
// never see. The other daemons are frozen (SIGSTOP: their corosync stays in the ring, so the membership does not
// change) to hold the moment between "ordered here" and "held by a quorum" open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PveCluster, waitFor } from '../helpers/cluster.js';
import { cleanupAll, py, sleep } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';

describe('acknowledged means held by a quorum (three nodes)', () => {
  let c: PveCluster;
  const frozen = new Set<number>();
  const freeze = (id: number) => {
    process.kill(c.daemon(id).pid, 'SIGSTOP');
    frozen.add(id);
  };
  const thaw = (id: number) => {
    process.kill(c.daemon(id).pid, 'SIGCONT');
    frozen.delete(id);
  };

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startAll();
  }, 90_000);

  afterAll(async () => {
    for (const id of frozen) thaw(id);
    c?.net.heal();
    await c?.destroy();
    await cleanupAll();
  });

  it('a write waits while no other node has applied it, and completes once one has', async () => {
    freeze(2);
    freeze(3);
    let done = false;
    const w = py(`print(W('${c.mount(1)}/held.cfg', 'held'))`, { timeout: 30_000 }).then((r) => {
      done = true;
      return r;
    });
    // node 1 applied it (its own tree shows it) but does not answer the writer yet
    await waitFor('node 1 applied the change', () => existsSync(join(c.mount(1), 'held.cfg')));
    await sleep(1000);
    expect(done).toBe(false);
    thaw(2);
    expect((await w).stdout.trim()).toBe('OK');
    thaw(3);
    await c.waitSynced([1, 2, 3]);
    for (const id of [2, 3]) expect(readFileSync(join(c.mount(id), 'held.cfg'), 'utf8')).toBe('held');
  });

  it('a write whose node is cut off before a quorum holds it answers EIO (unknown), and all nodes end up the same', async () => {
    freeze(2);
    freeze(3);
    const w = py(`print(W('${c.mount(1)}/cutoff.cfg', 'cut'))`, { timeout: 60_000 });
    await waitFor('node 1 applied the change', () => existsSync(join(c.mount(1), 'cutoff.cfg')));
    c.net.partition([1]);
    // the original would have said OK here already; this node says it cannot know
    expect((await w).stdout.trim()).toMatch(/EIO/);
    thaw(2);
    thaw(3);
    c.net.heal();
    await c.waitSynced([1, 2, 3], 60_000);
    const l1 = treeListing(c.mount(1));
    expect(treeListing(c.mount(2))).toEqual(l1);
    expect(treeListing(c.mount(3))).toEqual(l1);
  });

  it('a mkdir whose directory another node removes before the mkdir is answered still succeeds', async () => {
    // node 3 frozen: node 1's mkdir is held by a quorum (1 and 2) but waits up to 1 s for node 3, and node 2's rmdir
    // is applied on node 1 within that second
    freeze(3);
    const m = py(`print(E(os.mkdir, '${c.mount(1)}/gone-soon'))`, { timeout: 30_000 });
    await waitFor('node 2 has the directory', () => existsSync(join(c.mount(2), 'gone-soon')));
    const r = py(`print(E(os.rmdir, '${c.mount(2)}/gone-soon'))`, { timeout: 30_000 });
    await waitFor('node 1 applied the rmdir', () => !existsSync(join(c.mount(1), 'gone-soon')));
    expect((await m).stdout.trim()).toBe('OK');
    expect((await r).stdout.trim()).toBe('OK');
    thaw(3);
    await c.waitSynced([1, 2, 3]);
    for (const id of [1, 2, 3]) expect(existsSync(join(c.mount(id), 'gone-soon'))).toBe(false);
  });

  it('a new file another node removes before its close is answered: the close succeeds, and the writer can go on', async () => {
    freeze(3);
    // node 1 writes the file and closes it; while its close waits for node 3, node 2 removes the file
    const w = py(`
fd = os.open('${c.mount(1)}/short-lived.cfg', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
os.write(fd, b'soon gone')
print(E(os.close, fd))
print(E(os.stat, '${c.mount(1)}/short-lived.cfg'))
`, { timeout: 30_000 });
    await waitFor('node 2 has the file', () => existsSync(join(c.mount(2), 'short-lived.cfg')));
    const r = py(`print(E(os.unlink, '${c.mount(2)}/short-lived.cfg'))`, { timeout: 30_000 });
    const [wl, rl] = [(await w).stdout.trim().split('\n'), (await r).stdout.trim()];
    expect(wl[0]).toBe('OK');
    expect(wl[1]).toBe('ENOENT');
    expect(rl).toBe('OK');
    thaw(3);
    await c.waitSynced([1, 2, 3]);
    for (const id of [1, 2, 3]) expect(existsSync(join(c.mount(id), 'short-lived.cfg'))).toBe(false);
  });

  it('with the daemons of two nodes stopped, the third is read-only though corosync is quorate, and writes again once they are back', async () => {
    await c.stopDaemon(2);
    await c.stopDaemon(3);
    // corosync on node 1 is still quorate: the nodes are up, only their pmxcfs is not
    await waitFor('node 1 read-only', () => (statSync(join(c.mount(1), 'held.cfg')).mode & 0o777) === 0o440);
    expect(c.members(1).cluster?.quorate).toBe(1);
    expect((await py(`print(W('${c.mount(1)}/alone.cfg', 'x'))`)).stdout.trim()).toBe('open:EACCES');
    await c.startDaemon(2);
    await c.startDaemon(3);
    await c.waitSynced([1, 2, 3]);
    expect((await py(`print(W('${c.mount(1)}/together.cfg', 'x'))`)).stdout.trim()).toBe('OK');
  });
});

// PMXCFS_ACK=own (for measurements, docs/CLUSTER.md) gives the original's promise: the writer hears "done" as soon as
// its own node applied the change, with nobody else holding it yet.
describe("PMXCFS_ACK=own: acknowledged once the writer's node applied it (three nodes)", () => {
  let c: PveCluster;
  const frozen = new Set<number>();

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startDaemon(1, { PMXCFS_ACK: 'own' });
    await c.startDaemon(2);
    await c.startDaemon(3);
    await c.waitSynced();
  }, 90_000);

  afterAll(async () => {
    for (const id of frozen) process.kill(c.daemon(id).pid, 'SIGCONT');
    await c?.destroy();
    await cleanupAll();
  });

  it('a write on node 1 returns while the other daemons are frozen, says so in the log, and reaches them after', async () => {
    expect(c.daemon(1).log()).toContain('PMXCFS_ACK=own');
    for (const id of [2, 3]) {
      process.kill(c.daemon(id).pid, 'SIGSTOP');
      frozen.add(id);
    }
    const w = await py(`print(W('${c.mount(1)}/own.cfg', 'own'))`, { timeout: 30_000 });
    expect(w.stdout.trim()).toBe('OK');
    for (const id of [2, 3]) {
      process.kill(c.daemon(id).pid, 'SIGCONT');
      frozen.delete(id);
    }
    await c.waitSynced([1, 2, 3]);
    for (const id of [2, 3]) expect(readFileSync(join(c.mount(id), 'own.cfg'), 'utf8')).toBe('own');
  });
});
