// The daemon side of the binding outlives its corosync: it reports "not connected, not quorate" and reconnects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpgRpc } from '../helpers/cpg-rpc.js';
import { Testnet } from '../helpers/testnet.js';

describe('corosync restarts under a running client', () => {
  let net: Testnet;

  beforeAll(async () => {
    net = Testnet.create({ nodes: 3 });
    net.start();
    await net.waitAllQuorate();
  });

  afterAll(async () => {
    await net?.destroy();
  });

  it('keeps the client alive when corosync is killed, and reconnects after corosync is started again', async () => {
    const c1 = await CpgRpc.start(net, 1, { retryMs: 200 });
    const c2 = await CpgRpc.start(net, 2, { retryMs: 200 });
    const mark = c2.events.length;
    await net.kill(2);
    for (const lib of ['cpg', 'quorum', 'cmap', 'cfg']) {
      await c2.waitEvent((e) => e.event === 'disconnected' && e.lib === lib, 10_000, mark);
    }
    await c2.waitQuorum((q) => q.connected === false && q.quorate === false, 10_000, mark);
    // Calls fail cleanly meanwhile.
    await expect(c2.call('send', { text: 'while-down' })).rejects.toThrow(/not connected/);
    const info = await c2.call('info');
    expect(info.connected).toEqual({ cpg: false, quorum: false, cmap: false, cfg: false });

    const back = c2.events.length;
    net.start([2]);
    for (const lib of ['cpg', 'quorum', 'cmap', 'cfg']) {
      await c2.waitEvent((e) => e.event === 'connected' && e.lib === lib, 20_000, back);
    }
    await c2.waitQuorum((q) => q.quorate === true && (q.members as number[]).length === 3, 20_000, back);

    // The rejoined member sends and the others receive it.
    const seen = Number((await c1.call('waitDelivered', { count: 0 })).delivered);
    await c2.call('send', { text: 'after-restart' });
    await c1.call('waitDelivered', { count: seen + 1 });
    const list = (await c1.call('deliveries', { from: seen })).list as string[];
    expect(list).toContain(`2:${c2.pid}:after-restart`);
  });

  it('waits for corosync when it is not running at client start', async () => {
    await net.stop(3);
    const c3 = await CpgRpc.start(net, 3, { retryMs: 200, requireConnection: false });
    const info = await c3.call('info');
    expect(info.connected).toEqual({ cpg: false, quorum: false, cmap: false, cfg: false });
    expect(info.quorum).toMatchObject({ connected: false, quorate: false });
    const mark = c3.events.length;
    net.start([3]);
    for (const lib of ['cpg', 'quorum', 'cmap', 'cfg']) {
      await c3.waitEvent((e) => e.event === 'connected' && e.lib === lib, 20_000, mark);
    }
    await c3.waitQuorum((q) => q.quorate === true && (q.members as number[]).length === 3, 20_000, mark);
    expect((await c3.call('nodelist')).configVersion).toBe(1);
  });
});
