// Every node changes the tree at once; all end with the same tree, and locks have one winner per round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PveCluster } from '../helpers/cluster.js';
import { cleanupAll, sh } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';

describe('concurrent writers on three nodes', () => {
  let c: PveCluster;

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    await c.startAll();
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('random creates, writes, renames, unlinks and mkdir/rmdir from every node end in identical trees', async () => {
    await sh(`mkdir -p ${c.mount(1)}/shared`);
    // each node runs its own seeded sequence over a small set of shared names, so the nodes collide
    const script = (seed: number, mnt: string) => `
import os, random, errno
r = random.Random(${seed})
base = '${mnt}/shared'
names = ['a', 'b', 'c', 'd', 'e', 'f']
for i in range(120):
    n = r.choice(names); m = r.choice(names); k = r.randrange(7)
    p = f'{base}/{n}'
    try:
        if k == 0:
            with open(p, 'w') as f: f.write(f'{${seed}}-{i}\\n' * r.randrange(1, 50))
        elif k == 1:
            with open(p + '.tmp', 'w') as f: f.write(f'tmp {${seed}} {i}\\n')
            os.rename(p + '.tmp', f'{base}/{m}')
        elif k == 2: os.unlink(p)
        elif k == 3: os.mkdir(f'{base}/d{n}')
        elif k == 4: os.rmdir(f'{base}/d{n}')
        elif k == 5: os.rename(p, f'{base}/{m}')
        else:
            with open(p, 'a') as f: f.write('more\\n')
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR): raise
`;
    const runs = await Promise.all([1, 2, 3].map((id) => sh(`python3 - <<'PY'\n${script(id, c.mount(id))}\nPY`, { timeout: 120_000 })));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const lists = [1, 2, 3].map((id) => treeListing(c.mount(id)));
    expect(lists[0]!.length).toBeGreaterThan(5);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
  });

  it('exactly one of three nodes locking at once wins, every round', async () => {
    for (let round = 0; round < 10; round++) {
      const lock = `priv/lock/round-${round}`;
      const results = await Promise.all([1, 2, 3].map((id) => sh(`mkdir ${c.mount(id)}/${lock}`)));
      const winners = results.filter((r) => r.code === 0).length;
      expect(winners, results.map((r) => r.stderr).join('|')).toBe(1);
      for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toMatch(/File exists/);
    }
  });

  it('an O_EXCL create of one name on three nodes at once succeeds once', async () => {
    for (let round = 0; round < 5; round++) {
      const path = `excl-${round}`;
      const results = await Promise.all(
        [1, 2, 3].map((id) => sh(`python3 -c "import os; os.close(os.open('${c.mount(id)}/${path}', os.O_CREAT|os.O_EXCL|os.O_WRONLY))"`)),
      );
      expect(results.filter((r) => r.code === 0).length).toBe(1);
    }
  });

  it('one VMID cannot be created on two nodes at once', async () => {
    const results = await Promise.all([1, 2, 3].map((id) => sh(`printf 'name: vm\\n' > ${c.mount(id)}/nodes/n${id}/qemu-server/300.conf`)));
    expect(results.filter((r) => r.code === 0).length).toBe(1);
    const lists = [1, 2, 3].map((id) => treeListing(c.mount(id)).filter((l) => l.includes('300.conf')));
    expect(lists[0]).toHaveLength(1);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
  });
});
