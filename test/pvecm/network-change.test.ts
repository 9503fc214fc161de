import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// Changing the cluster network after creation by editing /etc/pve/corosync.conf: adding a second link (seed 5.7.5)
// takes effect by reload; moving link 0 to another network (5.7.2) needs corosync restarted node by node, and the
// log says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PvecmNet } from '../helpers/pvecm-net.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('changing the cluster network by editing corosync.conf', () => {
  let p: PvecmNet;

  beforeAll(async () => {
    p = PvecmNet.create(2);
    p.addSecondNetwork();
    for (const n of p.nodes) await n.startDaemon();
    const [n1, n2] = [p.node(1), p.node(2)];
    const c = await n1.pvecm(['create', 'net', '--link0', n1.address]);
    if (c.code !== 0) throw new Error(c.stderr);
    await p.waitQuorate(1, 1);
    await p.waitWritable([1]);
    const h = await p.startJoinHost(1);
    const t = await n1.pvecm(['jointoken']);
    const a = await n2.pvecm(['add', n1.address, '--link0', n2.address, '--fingerprint', h.fingerprint], { env: { PVECM_JOIN_TOKEN: t.stdout.trim() } });
    if (a.code !== 0) throw new Error(a.stdout + a.stderr);
    await p.waitQuorate(1, 2);
    await p.waitWritable([1, 2]);
  }, 120_000);

  afterAll(async () => {
    await p?.destroy();
  });

  const edit = async (f: (conf: string) => string) => {
    const n1 = p.node(1);
    const conf = (await n1.readTree('corosync.conf'))!;
    const v = Number(conf.match(/config_version: (\d+)/)![1]);
    const next = f(conf).replace(`config_version: ${v}`, `config_version: ${v + 1}`);
    const r = await n1.sh(`cat > ${n1.mnt}/corosync.conf.new <<'X'\n${next}X\nmv ${n1.mnt}/corosync.conf.new ${n1.mnt}/corosync.conf`);
    expect(r.code, r.stderr).toBe(0);
    return v + 1;
  };

  const waitStatus = async (re: RegExp) => {
    const end = Date.now() + 20_000;
    for (;;) {
      const st = await p.node(1).pvecm(['status']);
      if (re.test(st.stdout)) return st.stdout;
      if (Date.now() > end) throw new Error(`${re}: ${st.stdout}\n${p.node(1).corosyncLog()}`);
      await sleep(300);
    }
  };

  it('a second link added by an edit (5.7.5) is up after the reload, without a restart', async () => {
    await edit((c) =>
      c
        .replace(/ring0_addr: 10\.99\.0\.(\d)\n/g, 'ring0_addr: 10.99.0.$1\n    ring1_addr: 10.98.0.$1\n')
        .replace(/( {2}interface \{\n {4}linknumber: 0\n[^}]*? {2}\}\n)/, '$1  interface {\n    linknumber: 1\n  }\n'),
    );
    await waitStatus(/^0x00000002\s+1 10\.98\.0\.1 -> 10\.98\.0\.2\s+connected$/m);
  });

  it('moving link 0 to another network (5.7.2) takes effect after restarting corosync on each node', async () => {
    const v = await edit((c) => c.replace(/ring0_addr: 10\.99\.0\.(\d)\n\s+ring1_addr: 10\.98\.0\.\d\n/g, 'ring0_addr: 10.98.0.$1\n').replace(/ {2}interface \{\n {4}linknumber: 1\n {2}\}\n/, ''));
    // Every node has the file, and the log says a restart is needed.
    const end = Date.now() + 10_000;
    const log2 = () => {
      try {
        return readFileSync(join(p.node(2).run, 'pmxcfs.log'), 'utf8');
      } catch {
        return '';
      }
    };
    while (!/changes link addresses.*restart it on every node/.test(log2())) {
      if (Date.now() > end) throw new Error(log2().split('\n').slice(-10).join('\n'));
      await sleep(200);
    }
    // One node at a time; as the seed warns, the cluster may lose quorum until the last one runs the new network.
    for (const n of p.nodes) {
      await n.stopCorosync();
      const r = await n.sh(n.env().PVECM_START_COROSYNC!);
      expect(r.code, r.stderr).toBe(0);
    }
    for (const n of p.nodes) await p.waitQuorate(n.id, 2);
    const st = await waitStatus(/^0x00000002\s+0 10\.98\.0\.1 -> 10\.98\.0\.2\s+connected$/m);
    expect(st).toMatch(new RegExp(`^Config Version:\\s+${v}$`, 'm'));
    expect(st).toMatch(/^0x00000002\s+1 10\.98\.0\.2$/m);
    // The old network can go: the cluster keeps running on the new one.
    p.setLink(2, 'eth0', false);
    await sleep(2000);
    await p.waitQuorate(1, 2);
  });
});
