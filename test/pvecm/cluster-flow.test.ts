// The seed guide's flow on real nodes: create on node 1, add nodes 2 and 3, inspect, edit corosync.conf, shrink.
// corosync and pmxcfs run per node in network namespaces; pvecm runs on each node like an admin's shell would.
// Each daemon hosts the join service and keeps its /etc/corosync/corosync.conf in step with the tree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { confVersion, PvecmNet } from '../helpers/pvecm-net.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('pvecm: create, add, status, delnode on three nodes', () => {
  let p: PvecmNet;
  let fingerprint = '';

  beforeAll(async () => {
    p = PvecmNet.create(3);
    for (const n of p.nodes) await n.startDaemon();
  }, 60_000);

  afterAll(async () => {
    await p?.destroy();
  });

  it('refuses a cluster name longer than 15 characters, and one corosync would reject, changing nothing', async () => {
    const n1 = p.node(1);
    let r = await n1.pvecm(['create', 'a-much-too-long-name', '--link0', n1.address]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/at most 15/);
    r = await n1.pvecm(['create', 'bad_name!', '--link0', n1.address]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/letters, digits/);
    r = await n1.pvecm(['create', 'test', '--link0', '10.99.0.77']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/10\.99\.0\.77 is not configured on this host/);
    expect(existsSync(join(n1.corosyncDir, 'authkey'))).toBe(false);
    expect(await n1.readTree('corosync.conf')).toBeUndefined();
  });

  it('pvecm create makes node 1 a quorate one-node cluster (seed 5.3), with the older option words mapped', async () => {
    const n1 = p.node(1);
    const r = await n1.pvecm(['create', 'test', '-ring0_addr', n1.address, '--bindnet0_addr', '10.99.0.0']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/--ring0_addr 10\.99\.0\.1 is knet link 0/);
    expect(r.stdout).toMatch(/bindnet0_addr 10\.99\.0\.0 is not needed with knet/);
    const st = (await import('node:fs')).statSync(join(n1.corosyncDir, 'authkey'));
    expect(st.mode & 0o777).toBe(0o400);
    const tree = await n1.readTree('corosync.conf');
    expect(tree).toMatch(/crypto_cipher: aes256/);
    expect(tree).toMatch(/transport: knet/);
    expect(readFileSync(join(n1.corosyncDir, 'corosync.conf'), 'utf8')).toBe(tree);
    await p.waitQuorate(1, 1);
    await p.waitWritable([1]);
    const again = await n1.pvecm(['create', 'other', '--link0', n1.address]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already part of a cluster/);
  });

  it('the member shows its join fingerprint in pvecm status', async () => {
    const h = await p.startJoinHost(1);
    fingerprint = h.fingerprint;
    const r = await p.node(1).pvecm(['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Join fingerprint: ${fingerprint}`);
  });

  it('pvecm add with a wrong fingerprint, token or password is refused and changes nothing on either side', async () => {
    const n2 = p.node(2);
    const before = await p.node(1).readTree('corosync.conf');
    const wrongFp = fingerprint.replace(/^../, fingerprint.startsWith('00') ? '11' : '00');
    let r = await n2.pvecm(['add', p.node(1).address, '--link0', n2.address, '--fingerprint', wrongFp], { env: { PVECM_JOIN_TOKEN: 'x'.repeat(32) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fingerprint mismatch/);
    r = await n2.pvecm(['add', p.node(1).address, '--link0', n2.address, '--fingerprint', fingerprint], { env: { PVECM_JOIN_TOKEN: 'x'.repeat(32) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/authentication failed.*nothing changed/);
    r = await n2.pvecm(['add', p.node(1).address, '--link0', n2.address, '--fingerprint', fingerprint], { env: { PVECM_PASSWORD: 'not-the-root-password' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/authentication failed.*nothing changed/);
    expect(await p.node(1).readTree('corosync.conf')).toBe(before);
    expect(existsSync(join(n2.corosyncDir, 'corosync.conf'))).toBe(false);
    expect(existsSync(join(n2.corosyncDir, 'authkey'))).toBe(false);
  });

  it('pvecm add with a one-time token joins node 2: quorate, same tree, each step printed', async () => {
    const n1 = p.node(1);
    const n2 = p.node(2);
    await n2.sh(`echo 'local file' > ${n2.mnt}/only-on-n2.cfg`);
    const t = await n1.pvecm(['jointoken']);
    expect(t.code, t.stderr).toBe(0);
    const token = t.stdout.trim();
    const r = await n2.pvecm(['add', n1.address, '--link0', n2.address, '--fingerprint', fingerprint], { env: { PVECM_JOIN_TOKEN: token } });
    expect(r.code, r.stdout + r.stderr + n2.daemonLog()).toBe(0);
    expect(r.stdout).toMatch(/Backing up the database .* to (\S+)/);
    expect(r.stdout).toMatch(/Waiting for quorum\.\.\. OK/);
    const backup = r.stdout.match(/to (\S+config-\d+\.db)/)![1]!;
    expect(existsSync(backup)).toBe(true);
    // it holds priv/: nothing for group or others, the directory included
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(backup)).mode & 0o777).toBe(0o700);
    await p.waitQuorate(1, 2);
    await p.waitWritable([1, 2]);
    expect(await n2.readTree('corosync.conf')).toBe(await n1.readTree('corosync.conf'));
    expect(await n2.readTree('only-on-n2.cfg')).toBeUndefined();
    // The token is used up.
    const again = await p.node(3).pvecm(['add', n1.address, '--link0', p.node(3).address, '--fingerprint', fingerprint], { env: { PVECM_JOIN_TOKEN: token } });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/authentication failed/);
  });

  it('pvecm add of a node holding guest configs is refused without --force', async () => {
    const n3 = p.node(3);
    await n3.sh(`mkdir -p ${n3.mnt}/nodes/n3/qemu-server && echo 'memory: 512' > ${n3.mnt}/nodes/n3/qemu-server/100.conf`);
    const r = await n3.pvecm(['add', p.node(1).address, '--link0', n3.address, '--fingerprint', fingerprint], { env: { PVECM_JOIN_TOKEN: 'y'.repeat(32) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/guest configs \(nodes\/n3\/qemu-server\/100\.conf\)/);
    expect(r.stderr).toMatch(/--force/);
  });

  it('pvecm add --force with a token from node 2 joins node 3; status shows 3 nodes in the seed layout', async () => {
    const n3 = p.node(3);
    const h2 = await p.startJoinHost(2);
    const t = await p.node(2).pvecm(['jointoken']);
    const r = await n3.pvecm(['add', p.node(2).address, '--link0', n3.address, '--fingerprint', h2.fingerprint, '--force'], { env: { PVECM_JOIN_TOKEN: t.stdout.trim() } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const id of [1, 2, 3]) await p.waitQuorate(id, 3);
    await p.waitWritable([1, 2, 3]);
    const conf = await p.node(1).readTree('corosync.conf');
    for (const id of [2, 3]) expect(await p.node(id).readTree('corosync.conf')).toBe(conf);
    expect(confVersion(conf)).toBe(3);
    const st = await p.node(2).pvecm(['status']);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/^Quorum information\n~+\n/m);
    expect(st.stdout).toMatch(/^Nodes:\s+3$/m);
    expect(st.stdout).toMatch(/^Node ID:\s+0x00000002$/m);
    expect(st.stdout).toMatch(/^Quorate:\s+Yes$/m);
    expect(st.stdout).toMatch(/^Expected votes:\s+3$/m);
    expect(st.stdout).toMatch(/^Flags:\s+Quorate$/m);
    expect(st.stdout).toMatch(/^0x00000001\s+1 10\.99\.0\.1$/m);
    expect(st.stdout).toMatch(/^0x00000002\s+1 10\.99\.0\.2 \(local\)$/m);
    expect(st.stdout).toMatch(/^0x00000003\s+0 10\.99\.0\.2 -> 10\.99\.0\.3\s+connected$/m);
    const nodes = await p.node(3).pvecm(['nodes']);
    expect(nodes.stdout).toMatch(/^\s+1\s+1 n1$/m);
    expect(nodes.stdout).toMatch(/^\s+3\s+1 n3 \(local\)$/m);
    const json = JSON.parse((await p.node(1).pvecm(['status', '--output-format', 'json'])).stdout) as { members: unknown[]; quorum: { quorate: boolean } };
    expect(json.members).toHaveLength(3);
    expect(json.quorum.quorate).toBe(true);
  });

  it('an edit of /etc/pve/corosync.conf (token, config_version + 1) reaches every corosync; a broken edit reaches none', async () => {
    const n1 = p.node(1);
    const conf = (await n1.readTree('corosync.conf'))!;
    const v = confVersion(conf)!;
    const edited = conf.replace(/config_version: \d+/, `config_version: ${v + 1}`).replace(/token: 500/, 'token: 700');
    // The seed's way (5.8.1): copy, edit the copy, move it back.
    await n1.sh(`cat > ${n1.mnt}/corosync.conf.new <<'X'\n${edited}X\nmv ${n1.mnt}/corosync.conf.new ${n1.mnt}/corosync.conf`);
    const end = Date.now() + 20_000;
    for (const id of [1, 2, 3]) {
      for (;;) {
        const r = await p.node(id).exec(['corosync-cmapctl', '-g', 'totem.token']);
        if (/= 700$/m.test(r.stdout)) break;
        if (Date.now() > end) throw new Error(`node ${id}: ${r.stdout}`);
        await sleep(200);
      }
    }
    // A broken edit: text after '{'. Every daemon's corosync.conf sync refuses it on every node.
    const broken = edited.replace(`config_version: ${v + 1}`, `config_version: ${v + 2}`).replace('quorum {', 'quorum { x');
    await n1.sh(`cat > ${n1.mnt}/corosync.conf <<'X'\n${broken}X`);
    await sleep(1500);
    for (const id of [1, 2, 3]) expect(confVersion(readFileSync(join(p.node(id).corosyncDir, 'corosync.conf'), 'utf8'))).toBe(v + 1);
    await n1.sh(`cat > ${n1.mnt}/corosync.conf <<'X'\n${edited}X`); // put the good file back
  });

  it('delnode of a stopped node lowers the expected votes; success prints nothing', async () => {
    const n3 = p.node(3);
    await n3.stopDaemon();
    await n3.stopCorosync();
    await p.waitQuorate(1, 2);
    const r = await p.node(1).pvecm(['delnode', 'n3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/nodes\/n3 stays/);
    const end = Date.now() + 20_000;
    for (;;) {
      const q = await p.node(1).exec(['corosync-quorumtool', '-s']);
      if (/^Expected votes:\s+2$/m.test(q.stdout)) break;
      if (Date.now() > end) throw new Error(q.stdout);
      await sleep(200);
    }
    const local = await p.node(1).pvecm(['delnode', 'n1']);
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/cannot remove the local node/);
    const unknown = await p.node(1).pvecm(['delnode', 'nx']);
    expect(unknown.stderr).toMatch(/no node named 'nx'/);
  });

  it('a lone survivor refuses delnode without quorum, and pvecm expected 1 makes it writable', async () => {
    const n2 = p.node(2);
    await n2.stopDaemon();
    await n2.stopCorosync();
    const n1 = p.node(1);
    const end = Date.now() + 15_000;
    while (/^Quorate:\s+Yes/m.test((await n1.exec(['corosync-quorumtool', '-s'])).stdout) && Date.now() < end) await sleep(200);
    const w = await n1.sh(`echo x > ${n1.mnt}/probe.cfg`);
    expect(w.code).not.toBe(0);
    const d = await n1.pvecm(['delnode', 'n2']);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/pvecm expected 1/);
    const e = await n1.pvecm(['expected', '1']);
    expect(e.code, e.stderr).toBe(0);
    await p.waitWritable([1]);
    const d2 = await n1.pvecm(['delnode', 'n2']);
    expect(d2.code, d2.stderr).toBe(0);
  });
});
