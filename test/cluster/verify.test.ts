// Verification: on demand (`pvecm verify`) every member compares a checksum of its whole tree. A member whose tree
// went its own way says so in its log and the cluster log and resyncs; a row damaged in a stopped node's database is
// put right when the node rejoins.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DELIVERY, PveCluster, waitFor } from '../helpers/cluster.js';
import { cleanupAll, run, sh } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';
import { PVECM_JS } from '../helpers/pvecm-net.js';

describe('verification on three nodes', () => {
  let c: PveCluster;
  const verify = (id: number, ...args: string[]) =>
    run([process.execPath, PVECM_JS, 'verify', ...args], { env: { PVECM_RUN_DIR: c.node(id).state.run }, timeout: 30_000 });

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startDaemon(1);
    await c.startDaemon(2);
    // node 3 acknowledges but silently drops every change to diverged.cfg: a tree gone its own way
    await c.startDaemon(3, { PMXCFS_FAILPOINTS: 'skip-apply:diverged.cfg' });
    await c.waitSynced([1, 2, 3]);
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('pvecm verify on a healthy cluster: every member shows the same checksum', async () => {
    const r = await verify(2);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('All 3 members agree.');
    for (const name of ['n1', 'n2', 'n3']) expect(r.stdout).toMatch(new RegExp(`^\\s+\\d+ ${name}\\s+\\d+  [0-9a-f]{16}$`, 'm'));
    const j = await verify(1, '--output-format', 'json');
    const body = JSON.parse(j.stdout) as { agree: boolean; members: { digest: string }[] };
    expect(body.agree).toBe(true);
    expect(new Set(body.members.map((m) => m.digest)).size).toBe(1);
  });

  it('a member whose tree diverged is named, says so in its log and the cluster log, and resyncs', async () => {
    const w = await sh(`echo 'the cluster has this' > ${c.mount(1)}/diverged.cfg`);
    expect(w.code, w.stderr).toBe(0);
    await vi.waitFor(() => expect(readFileSync(join(c.mount(2), 'diverged.cfg'), 'utf8')).toBe('the cluster has this\n'), DELIVERY);
    expect(existsSync(join(c.mount(3), 'diverged.cfg'))).toBe(false);

    const r = await verify(1);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^\s+3 n3 .*differs: resyncing$/m);
    expect(r.stdout).toContain('Trees differ: node 3 resyncs from the others.');

    await waitFor('node 3 resynced', () => existsSync(join(c.mount(3), 'diverged.cfg')));
    expect(readFileSync(join(c.mount(3), 'diverged.cfg'), 'utf8')).toBe('the cluster has this\n');
    expect(c.daemon(3).log()).toContain("this node's tree differs from the cluster's; resyncing");
    await waitFor('the cluster log tells every node', () =>
      [1, 2, 3].every((id) => readFileSync(join(c.mount(id), '.clusterlog'), 'utf8').includes("verification: this node's tree differs")),
    );
    const again = await verify(3);
    expect(again.code, again.stdout).toBe(0);
    expect(treeListing(c.mount(3))).toEqual(treeListing(c.mount(1)));
  });

  it("a row damaged in a stopped node's database is replaced by the cluster's when the node rejoins", async () => {
    expect((await sh(`echo 'keyboard: en-us' > ${c.mount(1)}/datacenter.cfg`)).code).toBe(0);
    await c.stopDaemon(2);
    const db = new Database(c.node(2).state.db);
    const changed = db.prepare(`UPDATE tree SET data = ? WHERE name = 'datacenter.cfg' AND parent = 0`).run(Buffer.from('keyboard: XX\n')).changes;
    db.close();
    expect(changed).toBe(1);
    await c.startDaemon(2);
    await c.waitSynced([1, 2, 3]);
    expect(readFileSync(join(c.mount(2), 'datacenter.cfg'), 'utf8')).toBe('keyboard: en-us\n');
    expect(c.daemon(2).log()).toMatch(/"caught up"/);
    const r = await verify(2);
    expect(r.code, r.stdout).toBe(0);
  });

  it('the control socket is root-only: www-data cannot ask for anything', async () => {
    const sock = join(c.node(1).state.run, 'pmxcfs.sock');
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const r = await run([process.execPath, PVECM_JS, 'verify'], { env: { PVECM_RUN_DIR: c.node(1).state.run }, user: 'www-data' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach the pmxcfs daemon');
  });

  it('pvecm verify without a daemon names the socket it tried', async () => {
    const r = await run([process.execPath, PVECM_JS, 'verify'], { env: { PVECM_RUN_DIR: '/nonexistent/run' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach the pmxcfs daemon at /nonexistent/run/pmxcfs.sock');
  });
});
