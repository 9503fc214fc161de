// Quorum on a 5-node cluster, as the binding (votequorum) reports it inside each node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpgRpc } from '../helpers/cpg-rpc.js';
import { Testnet } from '../helpers/testnet.js';

describe('a 5-node cluster', () => {
  let net: Testnet;
  const clients = new Map<number, CpgRpc>();

  beforeAll(async () => {
    net = Testnet.create({ nodes: 5 });
    net.start();
    await net.waitAllQuorate();
    for (const id of [1, 2, 3, 4, 5]) clients.set(id, await CpgRpc.start(net, id));
  });

  afterAll(async () => {
    await net?.destroy();
  });

  const client = (id: number) => clients.get(id)!;

  it('loses quorum on the minority side of a partition and regains it after the network heals', async () => {
    const marks = new Map([...clients].map(([id, c]) => [id, c.events.length]));
    net.partition([4, 5]);
    // Minority: two members, not quorate. Majority: three members, still quorate.
    for (const id of [4, 5]) {
      await client(id).waitQuorum(
        (q) => q.quorate === false && JSON.stringify(q.members) === '[4,5]',
        15_000,
        marks.get(id),
      );
    }
    for (const id of [1, 2, 3]) {
      await client(id).waitQuorum((q) => q.quorate === true && JSON.stringify(q.members) === '[1,2,3]', 15_000, marks.get(id));
    }
    const minority = (await client(4).call('quorum')).state as Record<string, unknown>;
    expect(minority).toMatchObject({ connected: true, quorate: false, expectedVotes: 5, totalVotes: 2, quorum: 3 });

    // CPG ignores quorum: the minority still delivers its own messages inside its partition.
    const before = Number((await client(4).call('waitDelivered', { count: 0 })).delivered);
    await client(4).call('send', { text: 'minority-write' });
    await client(5).call('waitDelivered', { count: before + 1 });

    const healMarks = new Map([...clients].map(([id, c]) => [id, c.events.length]));
    net.heal();
    for (const id of [1, 2, 3, 4, 5]) {
      await client(id).waitQuorum(
        (q) => q.quorate === true && (q.members as number[]).length === 5,
        15_000,
        healMarks.get(id),
      );
    }
    await net.waitAllQuorate();
  });

  it('makes an isolated node quorate when the admin lowers its expected votes', async () => {
    const mark = client(5).events.length;
    net.partition([5]);
    await client(5).waitQuorum((q) => q.quorate === false && JSON.stringify(q.members) === '[5]', 15_000, mark);
    // `pvecm expected 1`
    const r = await client(5).call('setExpected', { votes: 1 });
    expect(r.state).toMatchObject({ expectedVotes: 1 });
    await client(5).waitQuorum((q) => q.quorate === true && q.expectedVotes === 1, 10_000, mark);
    const q = await net.quorum(5);
    expect(q).toMatchObject({ quorate: true, expectedVotes: 1, nodes: 1 });

    const healMark = client(5).events.length;
    net.heal();
    // Back in the cluster the highest expected votes win again.
    await client(5).waitQuorum((s) => s.quorate === true && (s.members as number[]).length === 5, 15_000, healMark);
    await net.waitAllQuorate();
  });

  it('refuses expected votes below the votes present', async () => {
    await expect(client(1).call('setExpected', { votes: 2 })).rejects.toThrow(/cs_error/);
    expect(((await client(1).call('quorum')).state as Record<string, unknown>).quorate).toBe(true);
  });
});
