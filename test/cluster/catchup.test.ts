// Members that were away catch up: a killed daemon, a node restarted with an old or an empty database, a node whose
// own changes lose against the cluster's history (kept, not discarded silently), a cold start of every node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PveCluster, waitFor } from '../helpers/cluster.js';
import { cleanupAll, DAEMON_JS, py, run, sh, sleep } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';

const same = (c: PveCluster, ids: number[]) => {
  const first = treeListing(c.mount(ids[0]!));
  for (const id of ids.slice(1)) expect(treeListing(c.mount(id)), `node ${id}`).toEqual(first);
  return first;
};

describe('catching up on three nodes', () => {
  let c: PveCluster;

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startAll();
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('a daemon killed during a write load and restarted converges', async () => {
    const load = py(`
import time
for i in range(150):
    print(W('${c.mount(1)}/load-%d.cfg' % i, 'content %d\\n' % i))
`, { timeout: 60_000 });
    await sleep(300);
    await c.killDaemon(2);
    const r = await load;
    expect(r.stdout.split('\n').filter((l) => l === 'OK')).toHaveLength(150);
    await c.startDaemon(2);
    await c.waitSynced([1, 2, 3]);
    const list = same(c, [1, 2, 3]);
    expect(list.filter((l) => l.startsWith('load-'))).toHaveLength(150);
  });

  it('a node restarted with an old database converges', async () => {
    await c.stopDaemon(3);
    await sh(`for i in 1 2 3 4 5; do echo v$i > ${c.mount(1)}/while-away-$i.cfg; done; rm ${c.mount(2)}/load-0.cfg`);
    await c.startDaemon(3);
    await c.waitSynced([1, 2, 3]);
    same(c, [1, 2, 3]);
    expect(readFileSync(join(c.mount(3), 'while-away-5.cfg'), 'utf8')).toBe('v5\n');
  });

  it('a node restarted with an empty database converges', async () => {
    await c.stopDaemon(2);
    const st = c.node(2).state;
    rmSync(st.db, { force: true });
    rmSync(`${st.db}-wal`, { force: true });
    rmSync(`${st.db}-shm`, { force: true });
    await c.startDaemon(2);
    await c.waitSynced([1, 2, 3]);
    same(c, [1, 2, 3]);
  });

  it('what a separated node wrote while forced writable is kept and listed after the heal', async () => {
    c.net.partition([3]);
    await waitFor('node 3 not quorate', () => c.members(3).cluster?.quorate === 0);
    // the admin forces the lone node writable (pvecm expected 1)
    const e = await c.net.exec(3, 'corosync-quorumtool', ['-e', '1']);
    expect(e.code, e.stderr).toBe(0);
    await waitFor('node 3 writable', async () => (await sh(`echo mine > ${c.mount(3)}/separated.cfg`)).code === 0);
    for (let i = 0; i < 3; i++) expect((await sh(`echo theirs-${i} > ${c.mount(1)}/majority-${i}.cfg`)).code).toBe(0);
    c.net.heal();
    await c.waitSynced([1, 2, 3]);
    const list = same(c, [1, 2, 3]);
    expect(list.some((l) => l.startsWith('separated.cfg '))).toBe(false);
    expect(list.some((l) => l.startsWith('majority-2.cfg '))).toBe(true);
    const d = await run([process.execPath, DAEMON_JS, '--discarded', '--db', c.node(3).state.db]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/node n3: \/separated\.cfg .*(removed|overwritten) by the cluster/);
    expect(d.stdout).toContain('    mine');
    const log = readFileSync(join(c.mount(1), '.clusterlog'), 'utf8');
    expect(log).toMatch(/discarded by the catch-up/);
  });

  it('after every node was killed, nodes started in any order come back identical, read-only until quorate', async () => {
    const before = same(c, [1, 2, 3]);
    for (const id of [1, 2, 3]) await c.killDaemon(id);
    for (const id of [1, 2, 3]) await c.net.kill(id);
    c.net.start([3]);
    await c.startDaemon(3);
    await waitFor('node 3 up, not quorate', () => c.members(3).cluster?.quorate === 0);
    expect((await py(`print(W('${c.mount(3)}/alone.cfg', 'x'))`)).stdout.trim()).toBe('open:EACCES');
    c.net.start([1]);
    await c.startDaemon(1);
    c.net.start([2]);
    await c.startDaemon(2);
    await c.waitSynced([1, 2, 3]);
    expect(same(c, [1, 2, 3])).toEqual(before);
  });
});
