// corosync.conf rules that every node applies the same way (checkCorosyncConfUpdate), the config pvecm create
// writes, and the local side of the sync (CorosyncConfSync writing /etc/corosync/corosync.conf).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorosyncConf, checkCorosyncConfUpdate, clusterNameError, getValue, parseCorosyncConf } from '../../src/corosync/conf.js';
import { CorosyncConfSync } from '../../src/corosync/confsync.js';
import { migrationFromDatacenterCfg } from '../../src/cli/pvecm/mtunnel.js';
import { inCidr } from '../../src/cli/pvecm/netaddr.js';

const base = buildCorosyncConf({ clusterName: 'test', nodeName: 'n1', nodeid: 1, votes: 1, links: { 0: { address: '10.0.0.1', priority: 10 }, 1: { address: '10.1.0.1' } }, waitForAll: true });
const bump = (text: string, v: number) => text.replace(/config_version: \d+/, `config_version: ${v}`);

describe('pvecm create config', () => {
  it('is knet with crypto, both links, link priority and the quorum options', () => {
    const c = parseCorosyncConf(base);
    expect(getValue(c, 'totem.transport')).toBe('knet');
    expect(getValue(c, 'totem.crypto_cipher')).toBe('aes256');
    expect(getValue(c, 'totem.crypto_hash')).toBe('sha256');
    expect(getValue(c, 'quorum.wait_for_all')).toBe('1');
    expect(base).toMatch(/ring0_addr: 10\.0\.0\.1\n\s+ring1_addr: 10\.1\.0\.1/);
    expect(base).toMatch(/linknumber: 0\n\s+knet_link_priority: 10/);
    expect(getValue(c, 'totem.config_version')).toBe('1');
  });

  it('cluster names: at most 15 characters, letters, digits and dashes', () => {
    expect(clusterNameError('test-cluster-01')).toBeUndefined();
    expect(clusterNameError('a'.repeat(16))).toMatch(/16 characters long; at most 15/);
    expect(clusterNameError('with space')).toMatch(/only letters/);
    expect(clusterNameError('-dash')).toMatch(/start with/);
  });
});

describe('checkCorosyncConfUpdate', () => {
  const old = Buffer.from(base);
  it('takes a valid file with a higher config_version, and identical content', () => {
    expect(checkCorosyncConfUpdate(old, Buffer.from(bump(base, 2).replace('token', 'token')))).toEqual({ errno: 0 });
    expect(checkCorosyncConfUpdate(old, old)).toEqual({ errno: 0 });
    expect(checkCorosyncConfUpdate(undefined, old)).toEqual({ errno: 0 });
  });

  it('refuses, with EINVAL and the line, what corosync would not run or not reload', () => {
    const cases: Array<[string, RegExp]> = [
      [bump(base, 1).replace('debug: off', 'debug: on'), /line \d+: config_version 1 is not higher than the current 1/],
      [bump(base, 2).replace('quorum {', 'quorum { x'), /line \d+: text after '\{'/],
      [bump(base, 2).replace('to_syslog: yes', 'to_syslog: yes # comment'), /line 3: '#' after a value/],
      [bump(base, 2).replace('cluster_name: test', 'cluster_name: other'), /the cluster name cannot change \('test' -> 'other'\)/],
      [bump(base, 2).replace(/^\s+name: n1\n/m, ''), /node without name/],
      [bump(base, 2).replace(/^\s+nodeid: 1\n/m, ''), /node without nodeid/],
      [bump(base, 2).replace(/^\s+config_version: \d+\n/m, ''), /missing totem.config_version/],
      ['', /empty/],
    ];
    for (const [text, why] of cases) {
      const r = checkCorosyncConfUpdate(old, Buffer.from(text));
      expect(r.errno, text).toBe(22);
      expect(r.reason).toMatch(why);
    }
  });
});

describe('CorosyncConfSync (local side)', () => {
  it('writes a higher version atomically, refuses a lower or broken one and names the reason in the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvct-confsync-'));
    try {
      const logs: string[] = [];
      let reloads = 0;
      const s = new CorosyncConfSync({
        corosyncDir: dir,
        log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(`E ${m}`) },
        reload: async () => void reloads++,
        members: () => [1, 2],
        localNodeId: () => 1,
        barrierTimeoutMs: 2000,
      });
      writeFileSync(join(dir, 'corosync.conf'), bump(base, 3));
      expect(await s.treeChanged(Buffer.from(bump(base, 2)), { madeHere: false })).toMatchObject({ action: 'refused' });
      expect(logs.pop()).toMatch(/^E .*config_version 2 is not higher than the current 3/);
      expect(await s.treeChanged(Buffer.from(bump(base, 4).replace('quorum {', 'quorum {{')), { madeHere: true })).toMatchObject({ action: 'refused' });
      expect(readFileSync(join(dir, 'corosync.conf'), 'utf8')).toBe(bump(base, 3));
      // The node that made the change reloads only after node 2 confirmed the version.
      const pending = s.treeChanged(Buffer.from(bump(base, 4)), { madeHere: true });
      await new Promise((r) => setTimeout(r, 300));
      expect(reloads).toBe(0);
      s.peerHas(2, 4);
      expect(await pending).toEqual({ action: 'written', version: 4, reloaded: true });
      expect(reloads).toBe(1);
      expect(readFileSync(join(dir, 'corosync.conf'), 'utf8')).toBe(bump(base, 4));
      // A ring address that does not resolve (seed 5.8.2) is reported in words, not written.
      const r = await s.treeChanged(Buffer.from(bump(base, 5).replace('ring1_addr: 10.1.0.1', 'ring1_addr: no-such-host.invalid')), { madeHere: false });
      expect(r).toMatchObject({ action: 'refused' });
      expect((r as { reason: string }).reason).toMatch(/ring1_addr 'no-such-host.invalid' does not resolve/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("datacenter.cfg's migration line", () => {
  it('parses type and network, and reports a line that does not parse with the line', () => {
    expect(migrationFromDatacenterCfg('keyboard: en-us\nmigration: secure,network=10.1.2.0/24\n')).toEqual({ type: 'secure', network: '10.1.2.0/24' });
    expect(migrationFromDatacenterCfg('migration: type=insecure\n')).toEqual({ type: 'insecure' });
    expect(migrationFromDatacenterCfg('keyboard: de\n')).toBeUndefined();
    expect(() => migrationFromDatacenterCfg('a: b\nmigration: secure,network=10.1.2.0/33\n')).toThrow(/datacenter.cfg line 2: .*not a CIDR.*'migration: secure,network=10.1.2.0\/33'/);
    expect(() => migrationFromDatacenterCfg('migration: network=10.1.2.0/24\n')).toThrow(/type must be set/);
    expect(() => migrationFromDatacenterCfg('migration: fast\n')).toThrow(/secure or insecure/);
  });

  it('matches addresses to networks', () => {
    expect(inCidr('10.1.2.7', '10.1.2.0/24')).toBe(true);
    expect(inCidr('10.1.3.7', '10.1.2.0/24')).toBe(false);
    expect(inCidr('fd00::5', 'fd00::/64')).toBe(true);
    expect(inCidr('fd01::5', 'fd00::/64')).toBe(false);
  });
});
