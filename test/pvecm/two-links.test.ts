// Two knet links (seed 5.7.4/5.7.5 in knet terms), two_node quorum, the state of each link in pvecm status,
// mtunnel's migration address, and the separation of a node (5.5.1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PvecmNet } from '../helpers/pvecm-net.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('pvecm with two links on two nodes', () => {
  let p: PvecmNet;
  let fp = '';

  beforeAll(async () => {
    p = PvecmNet.create(2);
    p.addSecondNetwork();
    for (const n of p.nodes) await n.startDaemon();
  }, 60_000);

  afterAll(async () => {
    await p?.destroy();
  });

  it('create with link0 and link1 (old words: -ring1_addr, -rrp_mode) and two_node', async () => {
    const n1 = p.node(1);
    const r = await n1.pvecm(['create', 'pair', '--link0', `${n1.address},priority=20`, '-ring1_addr', '10.98.0.1', '-rrp_mode', 'passive', '--two_node']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--rrp_mode passive became knet link_mode passive/);
    const conf = await n1.readTree('corosync.conf');
    expect(conf).toMatch(/ring1_addr: 10\.98\.0\.1/);
    expect(conf).toMatch(/knet_link_priority: 20/);
    expect(conf).toMatch(/two_node: 1/);
    await p.waitQuorate(1, 1);
    await p.waitWritable([1]);
  });

  it('add needs an address for every link the cluster uses', async () => {
    const h = await p.startJoinHost(1);
    fp = h.fingerprint;
    const n2 = p.node(2);
    const t = await p.node(1).pvecm(['jointoken']);
    const token = t.stdout.trim();
    const miss = await n2.pvecm(['add', p.node(1).address, '--link0', n2.address, '--fingerprint', h.fingerprint], { env: { PVECM_JOIN_TOKEN: token } });
    expect(miss.code).toBe(1);
    expect(miss.stderr).toMatch(/uses link\(s\) 0, 1: give --link1 ADDR/);
    const r = await n2.pvecm(['add', p.node(1).address, '--link0', n2.address, '--link1', '10.98.0.2', '--fingerprint', h.fingerprint], { env: { PVECM_JOIN_TOKEN: token } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await p.waitQuorate(1, 2);
    await p.waitWritable([1, 2]);
    expect(await n2.readTree('corosync.conf')).toMatch(/two_node: 1/); // kept through the join
  });

  it('pvecm status shows each link of each node, and a link that goes down', async () => {
    const n1 = p.node(1);
    let st = await n1.pvecm(['status']);
    expect(st.stdout).toMatch(/^Flags:\s+2Node Quorate/m);
    expect(st.stdout).toMatch(/^0x00000002\s+0 10\.99\.0\.1 -> 10\.99\.0\.2\s+connected$/m);
    expect(st.stdout).toMatch(/^0x00000002\s+1 10\.98\.0\.1 -> 10\.98\.0\.2\s+connected$/m);
    p.setLink(2, 'eth1', false);
    const end = Date.now() + 15_000;
    for (;;) {
      st = await n1.pvecm(['status']);
      if (/^0x00000002\s+1 \S+ -> 10\.98\.0\.2\s+down$/m.test(st.stdout)) break;
      if (Date.now() > end) throw new Error(st.stdout);
      await sleep(300);
    }
    expect(st.stdout).toMatch(/^Quorate:\s+Yes$/m); // link 0 still carries the cluster
    const json = JSON.parse((await n1.pvecm(['status', '--output-format', 'json'])).stdout) as { links: { nodeid: number; link: number; connected: boolean }[] };
    expect(json.links.find((l) => l.nodeid === 2 && l.link === 1)?.connected).toBe(false);
    expect(json.links.find((l) => l.nodeid === 2 && l.link === 0)?.connected).toBe(true);
    p.setLink(2, 'eth1', true);
  });

  it('mtunnel --get_migration_ip prints the address in the migration network (option or datacenter.cfg)', async () => {
    const n2 = p.node(2);
    let r = await n2.pvecm(['mtunnel', '--get_migration_ip', '--migration_network', '10.98.0.0/24']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("ip: '10.98.0.2'\n");
    await n2.sh(`printf 'keyboard: en-us\\nmigration: secure,network=10.99.0.0/24\\n' > ${n2.mnt}/datacenter.cfg`);
    r = await p.node(1).pvecm(['mtunnel', '--get_migration_ip']);
    expect(r.stdout).toBe("ip: '10.99.0.1'\n");
    await n2.sh(`printf 'migration: secure,network=10.99.0/24\\n' > ${n2.mnt}/datacenter.cfg`);
    r = await p.node(1).pvecm(['mtunnel', '--get_migration_ip']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/datacenter\.cfg line 1: .*'migration: secure,network=10\.99\.0\/24'/);
    r = await p.node(1).pvecm(['mtunnel', '--get_migration_ip', '--migration_network', '172.16.0.0/16']);
    expect(r.stderr).toMatch(/no address in the migration network 172\.16\.0\.0\/16/);
  });

  it('separating node 2 (5.5.1) leaves it standalone and writable; node 1 can delnode it', async () => {
    const n2 = p.node(2);
    await n2.stopDaemon();
    await n2.stopCorosync();
    // pmxcfs -l, rm /etc/pve/corosync.conf, rm /etc/corosync/*, restart
    const local = n2.daemonCmd.replace('--fuse native', '--fuse native -l');
    expect((await n2.sh(local)).code).toBe(0);
    expect((await n2.sh(`rm ${n2.mnt}/corosync.conf && rm -f ${n2.corosyncDir}/*`)).code).toBe(0);
    await n2.stopDaemon();
    await n2.startDaemon();
    const w = await n2.sh(`echo standalone > ${n2.mnt}/after-separation.cfg && cat ${n2.mnt}/.members`);
    expect(w.code, w.stderr).toBe(0);
    expect(await p.node(1).readTree('after-separation.cfg')).toBeUndefined();
    // Node 1 lost quorum with two_node? No: two_node keeps a lone node quorate; delnode works.
    const d = await p.node(1).pvecm(['delnode', 'n2']);
    expect(d.code, d.stderr).toBe(0);
    const nodes = await p.node(1).pvecm(['nodes']);
    expect(nodes.stdout).not.toMatch(/n2/);
  });

  it('a join that fails halfway says what to run; following it leaves the cluster as it was', async () => {
    const n1 = p.node(1);
    const n2 = p.node(2);
    const before = await n1.readTree('corosync.conf');
    const t = await n1.pvecm(['jointoken']);
    const r = await n2.pvecm(['add', n1.address, '--link0', n2.address, '--link1', '10.98.0.2', '--fingerprint', fp], {
      env: { PVECM_JOIN_TOKEN: t.stdout.trim(), PVECM_START_COROSYNC: 'echo no corosync here >&2; exit 3' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Starting corosync failed: .*exit 3 no corosync here/);
    expect(r.stderr).toMatch(/to finish by hand: systemctl start corosync/);
    expect(r.stderr).toMatch(/to undo on the cluster: 'pvecm delnode n2' on a member/);
    expect(r.stdout).toMatch(/Backing up the database .* to \S+config-\d+\.db/);
    // The member added n2; the undo the message names restores its corosync.conf (with a higher version).
    const d = await n1.pvecm(['delnode', 'n2']);
    expect(d.code, d.stderr).toBe(0);
    const after = (await n1.readTree('corosync.conf'))!;
    const strip = (t: string) => t.replace(/config_version: \d+/, '');
    expect(strip(after)).toBe(strip(before!));
    await p.waitWritable([1]);
  });
});
