// A 3-node corosync cluster in network namespaces, driven through the binding from client processes on the nodes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpgRpc, type ClientEvent } from '../helpers/cpg-rpc.js';
import { Testnet } from '../helpers/testnet.js';

type Addr = { nodeid: number; pid: number; reason: string };
const has = (list: unknown, nodeid: number, pid: number | undefined, reason: string) =>
  (list as Addr[]).some((a) => a.nodeid === nodeid && (pid === undefined || a.pid === pid) && a.reason === reason);

describe('a 3-node cluster', () => {
  let net: Testnet;
  const clients: CpgRpc[] = [];

  beforeAll(async () => {
    net = Testnet.create({ nodes: 3 });
    net.start();
    await net.waitAllQuorate();
    for (const id of [1, 2, 3]) clients.push(await CpgRpc.start(net, id));
  });

  afterAll(async () => {
    await net?.destroy();
  });

  it('delivers the same messages in the same order on every member while all nodes send at once', async () => {
    const before = await Promise.all(clients.map((c) => c.call('info')));
    expect(before.map((i) => i.nodeId)).toEqual([1, 2, 3]);
    const start = Number((await clients[0]!.call('waitDelivered', { count: 0 })).delivered);
    const perSender = 3000;
    await Promise.all(clients.map((c, i) => c.call('sendMany', { count: perSender, size: 200, tag: `s${i + 1}` })));
    await Promise.all(clients.map((c) => c.call('waitDelivered', { count: start + 3 * perSender, timeoutMs: 30_000 })));
    const lists = (await Promise.all(clients.map((c) => c.call('deliveries', { from: start })))).map((r) => r.list as string[]);
    expect(lists[0]).toHaveLength(3 * perSender);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
    // Each sender's own messages keep their send order inside the total order.
    for (const tag of ['s1', 's2', 's3']) {
      const seq = lists[0]!.filter((s) => s.split(':')[2] === tag).map((s) => Number(s.split(':')[3]));
      expect(seq).toEqual(Array.from({ length: perSender }, (_, i) => i));
    }
  });

  it('holds sends back under flow control and still delivers every message once, in order', async () => {
    const start = Number((await clients[1]!.call('waitDelivered', { count: 0 })).delivered);
    // 3000 x 4 KiB at once is more than corosync's IPC queue takes: sends must wait (CS_ERR_TRY_AGAIN).
    const r = await clients[0]!.call('sendMany', { count: 3000, size: 4096, tag: 'big' });
    expect(Number(r.maxQueued)).toBeGreaterThan(0);
    await Promise.all(clients.map((c) => c.call('waitDelivered', { count: start + 3000, timeoutMs: 30_000 })));
    const list = ((await clients[2]!.call('deliveries', { from: start })).list as string[]).map((s) => Number(s.split(':')[3]));
    expect(list).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });

  it('connects at the first attempt and keeps delivering while signals keep arriving (the CPU profiler\'s SIGPROF, 10,000 a second)', async () => {
    // libqb's handshake gives up when a signal interrupts its poll(); the binding holds signals during it
    const dir = mkdtempSync(join(tmpdir(), 'cpg-prof-'));
    try {
      const c = await CpgRpc.start(net, 2, { group: 'profiled', retryMs: 60_000, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100'] });
      expect((await c.call('info')).nodeId).toBe(2);
      // and keeps sending and receiving under them: every message delivered back once, in order
      await c.call('sendMany', { count: 2000, size: 200, tag: 'prof' });
      await c.call('waitDelivered', { count: 2000, timeoutMs: 30_000 });
      const list = ((await c.call('deliveries', { from: 0 })).list as string[]).map((x) => Number(x.split(':')[3]));
      expect(list).toEqual(Array.from({ length: 2000 }, (_, i) => i));
      c.kill();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the nodelist and config_version from cmap', async () => {
    const r = await clients[1]!.call('nodelist');
    expect(r.configVersion).toBe(1);
    expect(r.nodes).toEqual([1, 2, 3].map((id) => ({ nodeid: id, name: `n${id}`, quorumVotes: 1, rings: [`10.99.0.${id}`] })));
    const name = await clients[2]!.call('cmapGet', { key: 'totem.cluster_name' });
    expect(name.value).toBe('test');
  });

  it('reports a member that leaves the group with reason leave', async () => {
    const extra = await CpgRpc.start(net, 2, { group: 'reasons' });
    const watcher = await CpgRpc.start(net, 1, { group: 'reasons' });
    await watcher.waitEvent((e) => e.event === 'membership' && (e.members as Addr[]).length === 2);
    const from = watcher.events.length;
    await extra.call('leave');
    const ev = await watcher.waitEvent((e) => e.event === 'membership' && has(e.left, 2, extra.pid, 'leave'), 10_000, from);
    expect((ev.members as Addr[]).map((m) => m.nodeid)).toEqual([1]);
    extra.kill();
    watcher.kill();
  });

  it('reports a client process that dies with reason procdown', async () => {
    const victim = await CpgRpc.start(net, 3, { group: 'procdown' });
    const watcher = await CpgRpc.start(net, 1, { group: 'procdown' });
    await watcher.waitEvent((e) => e.event === 'membership' && (e.members as Addr[]).length === 2);
    const from = watcher.events.length;
    victim.kill();
    await watcher.waitEvent((e) => e.event === 'membership' && has(e.left, 3, victim.pid, 'procdown'), 10_000, from);
    watcher.kill();
  });

  it('reports a node cut off by the network as nodedown, and as nodeup after the network heals', async () => {
    const [c1, , c3] = clients;
    const from1 = c1!.events.length;
    const from3 = c3!.events.length;
    net.partition([3]);
    await c1!.waitEvent((e) => e.event === 'membership' && has(e.left, 3, c3!.pid, 'nodedown'), 15_000, from1);
    // The isolated side sees the others go down, and is not quorate.
    await c3!.waitEvent((e) => e.event === 'membership' && has(e.left, 1, c1!.pid, 'nodedown'), 15_000, from3);
    await c3!.waitQuorum((q) => q.quorate === false, 15_000, from3);
    const mid1 = c1!.events.length;
    net.heal();
    await c1!.waitEvent((e) => e.event === 'membership' && has(e.joined, 3, c3!.pid, 'nodeup'), 15_000, mid1);
    await c3!.waitQuorum((q) => q.quorate === true && (q.members as number[]).length === 3, 15_000, from3);
    await net.waitAllQuorate();
  });

  it('sees a config change with a higher config_version on all members after a reload', async () => {
    const marks = clients.map((c) => c.events.length);
    for (const id of [1, 2, 3]) net.writeConf(id, 2);
    await clients[0]!.call('reload');
    await Promise.all(
      clients.map((c, i) => c.waitEvent((e: ClientEvent) => e.event === 'configVersion' && e.version === 2, 10_000, marks[i])),
    );
    for (const c of clients) expect((await c.call('cmapGet', { key: 'totem.config_version' })).value).toBe(2);
  });
});
