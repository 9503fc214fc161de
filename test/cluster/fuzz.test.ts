// Bad input from the network, seeded: test CPG members inject mutated messages (bench/wire-fuzz.ts: every kind of
// message, bit flips, truncation, wrong field types, huge lengths, hostile msgpack, other protocol versions,
// fragments out of order, missing, duplicated, with lying totals), valid-looking changes that break the rules,
// and protocol messages that claim another member's exchange, into a running 3-node cluster. After every episode:
// every daemon runs, every tree equals the snapshot taken before, writes work through every mount, and each daemon
// logged the bad sender exactly once however many bad messages it sent.
// Longer runs: PMXCFS_FUZZ_EPISODES=N (counts in docs/RELIABILITY.md); PMXCFS_TEST_SEED=N repeats one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { existsSync } from 'node:fs';
import { PveCluster, waitFor } from '../helpers/cluster.js';
import { CpgRpc } from '../helpers/cpg-rpc.js';
import { cleanupAll, sh } from '../helpers/daemon.js';
import { treeListing } from '../helpers/listing.js';
import { CPG_GROUP } from '../../src/cluster/cluster.js';
import { PROTOCOL, encode, fragment, type Msg } from '../../src/cluster/wire.js';
import { badFragments, firstRefusal, int, mutant, pick, rngOf, validMsg, type Rng } from '../../bench/wire-fuzz.js';

const seed = Number(process.env.PMXCFS_TEST_SEED ?? Date.now() % 1_000_000);
const episodes = Number(process.env.PMXCFS_FUZZ_EPISODES ?? 12);
const IDS = [1, 2, 3];
const T = 1_700_000_000;

/** Changes every node refuses the same way on the tree the test builds (fuzz/a.cfg, fuzz/sub/, VM 100 on n1). */
const REFUSED_OPS: Record<string, unknown>[] = [
  { kind: 'mkdir', path: 'fuzz', mtime: T }, // EEXIST
  { kind: 'create', path: 'fuzz/a.cfg', excl: true, data: Buffer.from('evil'), mtime: T }, // EEXIST
  { kind: 'create', path: 'no-such-dir/x.cfg', excl: false, mtime: T }, // ENOENT
  { kind: 'write', path: 'fuzz', data: Buffer.from('evil'), mtime: T }, // EISDIR
  { kind: 'create', path: 'fuzz/bad\nname', excl: false, mtime: T }, // EINVAL
  { kind: 'create', path: 'fuzz/..', excl: false, mtime: T }, // EINVAL
  { kind: 'create', path: 'fuzz/.fuse_hidden0001', excl: false, mtime: T }, // EINVAL
  { kind: 'mkdir', path: `fuzz/${'n'.repeat(256)}`, mtime: T }, // ENAMETOOLONG
  { kind: 'create', path: 'fuzz/a.cfg/x', excl: false, mtime: T }, // ENOTDIR
  { kind: 'rmdir', path: 'fuzz', mtime: T }, // ENOTEMPTY
  { kind: 'rename', from: 'fuzz', to: 'fuzz2', mtime: T }, // ENOTEMPTY
  { kind: 'rename', from: 'fuzz/sub', to: 'fuzz/sub/x', mtime: T }, // EINVAL
  { kind: 'unlink', path: '', mtime: T }, // EBUSY (the root)
  { kind: 'rename', from: '', to: 'root2', mtime: T }, // EBUSY
  { kind: 'unlink', path: 'fuzz', mtime: T }, // EISDIR
  { kind: 'create', path: 'nodes/n2/qemu-server/100.conf', excl: true, mtime: T }, // EEXIST: VMID 100 is n1's
  { kind: 'rename', from: 'fuzz/a.cfg', to: 'nodes/n3/lxc/100.conf', mtime: T }, // EEXIST
  { kind: 'write', path: 'corosync.conf', data: Buffer.from('totem {'), mtime: T }, // EINVAL
  { kind: 'unlock', path: 'fuzz/a.cfg', mtime: T }, // ENOTDIR
  { kind: 'mtime', path: 'no-such.cfg', mtime: T }, // ENOENT
  { kind: 'rename', from: 'fuzz/a.cfg', to: 'priv/lock', mtime: T }, // EISDIR
];

interface LogLine { msg?: string; pid?: number; from?: number; nodeid?: number; level?: number }
function logLines(text: string): LogLine[] {
  return text.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}
const isRefusal = (l: LogLine) => /^malformed cluster message|speaks cluster protocol version/.test(l.msg ?? '');

/**
 * One bad sender's messages: a prefix every node takes and that changes no tree (changes the rules refuse, state
 * exchange messages for exchanges that are not running or that name another member, an unfinished fragmented
 * message), then the first bad message, then more bad ones (which must be ignored, not logged).
 */
function episodeMessages(r: Rng, daemonKeys: string[], withSync: boolean): { bufs: Buffer[]; prefix: number; what: string } {
  const prefix: Buffer[] = [];
  const claimed = `${daemonKeys[0]!.replace(':', '.')}.${900 + int(r, 99)}`; // an epoch as node 1's daemon names them
  for (let i = 0; i < 8; i++) {
    const roll = int(r, 6);
    if (roll <= 1) prefix.push(encode({ t: 'ops', seq: 1 + int(r, 1e6), ops: Array.from({ length: 1 + int(r, 4) }, () => pick(r, REFUSED_OPS)) } as Msg));
    else if (roll === 2) prefix.push(encode({ t: 'end', epoch: claimed, version: 1e9, gen: 1e6, mtime: T, writer: 1, count: 0 }));
    else if (roll === 3) prefix.push(encode({ t: 'update', epoch: claimed, rows: [{ inode: 1e9, parent: 0, version: 1e9, writer: 1, mtime: T, type: 8, name: 'evil.cfg', data: Buffer.from('evil') }] }));
    else prefix.push(encode(validMsg(r, pick(r, ['state', 'update', 'end', 'checksum', 'verify'] as const))));
  }
  // a state exchange started by the stranger, naming real members as silent
  if (withSync) prefix.push(encode({ t: 'sync', epoch: `9.9.${int(r, 1e6)}`, why: 'fuzz', ignore: daemonKeys.slice(0, 1 + int(r, daemonKeys.length)) }));
  // the start of a fragmented message that never ends
  if (r() < 0.5) prefix.push(fragment(encode({ t: 'ops', seq: 1, ops: [{ kind: 'write', path: 'fuzz/a.cfg', data: Buffer.alloc(3000, 0x65), mtime: T }] }), 1000)[0]!);
  if (firstRefusal(prefix) !== null) throw new Error('the valid prefix is refused in-process');
  // the first bad message (or fragment sequence): drawn until the decoder refuses it
  let bad: Buffer[] = [];
  let what = '';
  for (let tries = 0; tries < 100 && !bad.length; tries++) {
    const cand = r() < 0.3 ? badFragments(r, 1000) : (({ how, buf }) => ({ how, parts: [buf] }))(mutant(r));
    const f = firstRefusal([...prefix, ...cand.parts]);
    if (f && f.at >= prefix.length) {
      bad = cand.parts.slice(0, f.at - prefix.length + 1);
      what = `${cand.how}${f.foreign ? ' (foreign)' : ''}`;
    }
  }
  if (!bad.length) throw new Error('no bad message drawn');
  const tail = Array.from({ length: 20 }, () => (r() < 0.2 ? pack([PROTOCOL + 1, validMsg(r)]) : mutant(r).buf));
  return { bufs: [...prefix, ...bad, ...tail], prefix: prefix.length, what };
}

describe('bad input from the network', () => {
  let c: PveCluster;
  const dead = new Set<number>();
  const strangers: CpgRpc[] = [];

  beforeAll(async () => {
    c = await PveCluster.create({ nodes: 3 });
    for (const id of IDS) {
      const d = await c.startDaemon(id, { PMXCFS_SYNC_TIMEOUT_MS: '1000' });
      void d.exited.then(() => dead.add(id));
    }
    await c.waitSynced();
    const m = c.mount(1);
    const r = await sh(`mkdir ${m}/fuzz ${m}/fuzz/sub && echo alpha > ${m}/fuzz/a.cfg && echo 'memory: 512' > ${m}/nodes/n1/qemu-server/100.conf`);
    expect(r.code, r.stderr).toBe(0);
    await c.waitSynced();
  }, 90_000);

  afterAll(async () => {
    for (const s of strangers) await s.call('exit', {}, 2000).catch(() => s.kill());
    await c?.destroy();
    await cleanupAll();
  });

  it(`${episodes} bad senders (seed ${seed}): no daemon stops, no tree changes, one log line each, writes go on`, async () => {
    const r = rngOf(seed);
    let snap = treeListing(c.mount(1));
    for (const id of IDS) expect(treeListing(c.mount(id))).toEqual(snap);
    const daemonKeys = IDS.map((id) => `${id}:${c.daemon(id).pid}`);
    const report: string[] = [];
    for (let ep = 0; ep < episodes; ep++) {
      const on = IDS[ep % 3]!;
      const step = (what: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} fuzz episode ${ep}: ${what}\n`);
      step('stranger joins');
      const s = await CpgRpc.start(c.net, on, { group: CPG_GROUP });
      strangers.push(s);
      // it never answers the state exchange its arrival starts: it is left out after the timeout
      step('synced with the stranger');
      await c.waitSynced(IDS, 30_000);
      const logStart = IDS.map((id) => c.daemon(id).log().length);
      const { bufs, prefix, what } = episodeMessages(r, daemonKeys, ep % 3 === 1);
      report.push(`episode ${ep} from node ${on} (pid ${s.pid}): ${prefix} valid, then ${what}, ${bufs.length} messages`);
      step(`sending ${bufs.length} messages`);
      for (const b of bufs) await s.call('send', { text: b.toString('latin1') });
      const newLines = (id: number) => logLines(c.daemon(id).log().slice(logStart[id - 1]));
      const refusalsOf = (id: number) => newLines(id).filter((l) => isRefusal(l) && l.pid === s.pid);
      await waitFor(`every daemon refused the sender of episode ${ep} (${what})`, () => IDS.every((id) => refusalsOf(id).length >= 1), 20_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${report.join('\n')}\n${c.daemon(1).log().split('\n').slice(-8).join('\n')}`);
      });
      step('refused; waiting for sync');
      await c.waitSynced(IDS, 30_000);
      expect([...dead], report.join('\n')).toEqual([]);
      for (const id of IDS) {
        expect(treeListing(c.mount(id)), `node ${id} after: ${report.at(-1)}`).toEqual(snap);
        // logged once, not once per bad message; and nothing else went wrong
        expect(refusalsOf(id).length, `node ${id}: ${report.at(-1)}`).toBe(1);
        expect(newLines(id).filter((l) => (l.level ?? 0) >= 50 && !isRefusal(l)), `node ${id}`).toEqual([]);
        expect(newLines(id).length).toBeLessThan(80);
      }
      // writes go on through every mount and reach every node
      step('writes');
      for (const id of IDS) {
        const w = await sh(`echo ep${ep} > ${c.mount(id)}/w-${ep}-${id}.cfg`, { timeout: 15_000 });
        const tails = () => IDS.map((j) => `--- node ${j}\n${c.daemon(j).log().split('\n').slice(-25).join('\n')}`).join('\n');
        expect(w.code, `write on node ${id}: ${w.stderr}\n${report.at(-1)}\n${w.code === 0 ? '' : tails()}`).toBe(0);
      }
      await waitFor('the writes on every node', () => IDS.every((id) => IDS.every((j) => existsSync(`${c.mount(id)}/w-${ep}-${j}.cfg`))), 10_000);
      await c.waitSynced(IDS, 30_000);
      snap = treeListing(c.mount(1));
      for (const id of IDS) expect(treeListing(c.mount(id))).toEqual(snap);
      await s.call('exit', {}, 2000).catch(() => s.kill());
    }
    console.log(report.join('\n'));
  }, 60_000 + episodes * 20_000);
});
