// Three nodes, one tree: changes made through any node's /etc/pve are seen on every node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PveCluster } from '../helpers/cluster.js';
import { cleanupAll, sh } from '../helpers/daemon.js';

describe('a 3-node cluster', () => {
  let c: PveCluster;

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startAll();
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('a file written on node 1 is readable on node 3 once close() returned', async () => {
    const r = await sh(`printf 'hello\\n' > ${c.mount(1)}/storage.cfg`);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(c.mount(3), 'storage.cfg'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(c.mount(2), 'storage.cfg'), 'utf8')).toBe('hello\n');
  });

  it('every node shows the cluster in .members', () => {
    const m = c.members(2);
    expect(m.cluster).toMatchObject({ quorate: 1, nodes: 3 });
    expect(Object.keys(m.nodelist!).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(m.nodelist!.n1).toMatchObject({ id: 1, online: 1, ip: '10.99.0.1' });
  });

  it('every node has its own directory', () => {
    for (const id of [1, 2, 3]) {
      for (const n of ['n1', 'n2', 'n3']) expect(readFileSync(join(c.mount(id), '.members'), 'utf8')).toContain(n);
    }
  });
});
