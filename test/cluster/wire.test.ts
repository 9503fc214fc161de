// Bad input from the network: a stray group member that never answers, garbage, and a member speaking another
// protocol version change no tree and stop no daemon; the cluster goes on writing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { DELIVERY, PveCluster, waitFor } from '../helpers/cluster.js';
import { CpgRpc } from '../helpers/cpg-rpc.js';
import { cleanupAll, sh, sleep } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';
import { CPG_GROUP } from '../../src/cluster/cluster.js';
import { PROTOCOL } from '../../src/cluster/wire.js';

describe('malformed cluster messages', () => {
  let c: PveCluster;
  let intruder: CpgRpc;

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    for (const id of [1, 2, 3]) await c.startDaemon(id, { PMXCFS_SYNC_TIMEOUT_MS: '1000' });
    await c.waitSynced();
  }, 90_000);

  afterAll(async () => {
    await c?.destroy();
    await cleanupAll();
  });

  it('a group member that never answers the state exchange is left out', async () => {
    intruder = await CpgRpc.start(c.net, 2, { group: CPG_GROUP });
    await sleep(500);
    await c.waitSynced([1, 2, 3], 20_000);
    expect((await sh(`echo ok > ${c.mount(1)}/after-intruder.cfg`)).code).toBe(0);
  });

  it('garbage and a wrong protocol version are refused, logged, and change nothing', async () => {
    const before = treeListing(c.mount(1));
    // each bad sender is ignored after its first bad message, so each kind comes from its own member
    const others: CpgRpc[] = [await CpgRpc.start(c.net, 3, { group: CPG_GROUP }), await CpgRpc.start(c.net, 1, { group: CPG_GROUP })];
    await c.waitSynced([1, 2, 3], 20_000);
    await intruder.call('send', { text: Buffer.from(pack([99, { t: 'ops', seq: 1, ops: [{ kind: 'mkdir', path: 'evil', mtime: 0 }] }])).toString('latin1') });
    await others[0]!.call('send', { text: Buffer.from([0xc1, 0xff, 0x00, 0x13]).toString('latin1') });
    await others[1]!.call('send', { text: Buffer.from(pack([1, { t: 'ops', seq: 1, ops: [{ kind: 'mkdir', path: 7 }] }])).toString('latin1') });
    // truncated, and a fragment claiming a message far over the limit
    const more = [await CpgRpc.start(c.net, 1, { group: CPG_GROUP }), await CpgRpc.start(c.net, 2, { group: CPG_GROUP })];
    others.push(...more);
    await c.waitSynced([1, 2, 3], 20_000);
    const whole = pack([1, { t: 'ops', seq: 1, ops: [{ kind: 'mkdir', path: 'evil', mtime: 0 }] }]);
    await more[0]!.call('send', { text: Buffer.from(whole.subarray(0, whole.length - 3)).toString('latin1') });
    await more[1]!.call('send', { text: Buffer.from(pack([1, { t: 'frag', i: 0, n: 100_000, part: Buffer.alloc(4096) }])).toString('latin1') });
    await sleep(1500);
    await c.waitSynced([1, 2, 3], 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${c.daemon(1).log().split('\n').slice(-12).join('\n')}`);
    });
    for (const id of [1, 2, 3]) {
      expect(treeListing(c.mount(id))).toEqual(before);
      expect(c.daemon(id).exited).toBeDefined();
    }
    const log = c.daemon(3).log();
    expect(log).toMatch(/malformed cluster message/);
    expect(log).toMatch(new RegExp(`protocol version 99, this node version ${PROTOCOL}`));
    expect((await sh(`echo ok > ${c.mount(2)}/after-garbage.cfg`)).code).toBe(0);
    // node 2 acknowledged once it applied the change; node 3 applies it when the message is delivered there
    await waitFor('the change made on node 2 on node 3', () => treeListing(c.mount(3)).some((l) => l.startsWith('after-garbage.cfg')), DELIVERY.timeout).catch((e: Error) => {
      throw new Error(`${e.message}\n${c.daemon(3).log().split('\n').slice(-20).join('\n')}`);
    });
    for (const i of [intruder, ...others]) await i.call('exit').catch(() => {});
  });
});
