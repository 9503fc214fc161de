// Larger clusters and trees: a 10,000-file tree catches up on two empty nodes; on five nodes a partitioned minority
// of two goes read-only while the majority of three writes on, and the heal converges.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PveCluster, waitFor } from '../helpers/cluster.js';
import { cleanupAll, createOriginalDb, originalTree, py, sh, sleep } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';

describe('a 10,000-file tree', () => {
  let c: PveCluster | undefined;
  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('catches up on two nodes started with empty databases', async () => {
    c = await PveCluster.create({ nodes: 3 });
    const files: Record<string, string> = { 'corosync.conf': readFileSync(c.net.node(1).confPath, 'utf8') };
    const block = 'x'.repeat(4095) + '\n';
    for (let i = 0; i < 10_000; i++) files[`bulk/d${i % 100}/f${i}.cfg`] = `${i}\n${block}`.slice(0, 4096);
    createOriginalDb(c.node(1).state.db, originalTree('n1', files));
    await c.startDaemon(1);
    await c.startDaemon(2);
    await c.startDaemon(3);
    await c.waitSynced([1, 2, 3], 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${[2, 3].map((id) => c!.daemon(id).log().split('\n').slice(-8).join('\n')).join('\n--\n')}`);
    });
    const l1 = treeListing(c.mount(1));
    expect(l1.filter((l) => l.startsWith('bulk/') && !l.endsWith('dir'))).toHaveLength(10_000);
    expect(treeListing(c.mount(2))).toEqual(l1);
    expect(treeListing(c.mount(3))).toEqual(l1);
    // the empty node took the whole tree in one catch-up
    const caught = (id: number) =>
      c!.daemon(id).log().split('\n').filter((l) => l.includes('"caught up"')).map((l) => (JSON.parse(l) as { updated: number }).updated);
    expect(Math.max(...caught(2), ...caught(3))).toBeGreaterThan(10_000);
  }, 180_000);
});

describe('five nodes', () => {
  let c: PveCluster | undefined;
  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('a minority of two goes read-only, the majority of three writes on, the heal converges', async () => {
    c = await PveCluster.create({ nodes: 5 });
    await c.startAll();
    c.net.partition([4, 5]);
    await waitFor('nodes 4 and 5 not quorate', () => c!.members(4).cluster?.quorate === 0 && c!.members(5).cluster?.quorate === 0);
    expect((await py(`print(W('${c.mount(5)}/minority.cfg', 'x'))`)).stdout.trim()).toBe('open:EACCES');
    await waitFor('majority writable', async () => (await sh(`echo majority > ${c!.mount(2)}/majority.cfg`)).code === 0);
    const locks = await Promise.all([1, 2, 3].map((id) => sh(`mkdir ${c!.mount(id)}/priv/lock/five`)));
    expect(locks.filter((r) => r.code === 0)).toHaveLength(1);
    c.net.heal();
    await c.waitSynced([1, 2, 3, 4, 5], 60_000);
    const l1 = treeListing(c.mount(1));
    for (const id of [2, 3, 4, 5]) expect(treeListing(c.mount(id)), `node ${id}`).toEqual(l1);
    expect(readFileSync(join(c.mount(5), 'majority.cfg'), 'utf8')).toBe('majority\n');
  }, 180_000);
});
