// The join channel for real: the join service (TLS on loopback) against pvecm's client, with a stand-in for the
// daemon's tree callbacks (an in-memory map of files).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorosyncConf, getConfigVersion, listNodes, parseCorosyncConf } from '../../src/corosync/conf.js';
import { JoinConnection, JoinError } from '../../src/join/client.js';
import { startJoinService, type JoinService } from '../../src/join/service.js';
import { createToken } from '../../src/join/tokens.js';

describe('join service and client over TLS', () => {
  let dir: string;
  let svc: JoinService;
  const tree = new Map<string, Buffer>();
  let commits = 0;
  let quorate = true;
  let commitErrno = 0;
  const authkey = Buffer.alloc(256, 7);
  const logs: string[] = [];

  const initial = buildCorosyncConf({ clusterName: 'test', nodeName: 'n1', nodeid: 1, votes: 1, links: { 0: { address: '10.99.0.1' } }, twoNode: true });
  const trustAll = async () => true;
  const connect = () => JoinConnection.open('127.0.0.1', svc.port, svc.fingerprint, trustAll);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pvct-join-'));
    const hash = execFileSync('openssl', ['passwd', '-6', '-salt', 'pvctsalt', 'secret-pw'], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'shadow'), `daemon:*:19000:0:99999:7:::\nroot:${hash}:19000:0:99999:7:::\n`);
    tree.set('corosync.conf', Buffer.from(initial));
    svc = await startJoinService({
      listen: { host: '127.0.0.1', port: 0 },
      certDir: join(dir, 'join'),
      nodename: 'n1',
      readTreeFile: (p) => tree.get(p),
      commitTreeFile: async (p, data) => {
        if (commitErrno) return commitErrno;
        commits++;
        tree.set(p, data);
        return 0;
      },
      quorate: () => quorate,
      log: { info: (m) => logs.push(m), warn: (m) => logs.push(m) },
      readAuthkey: () => authkey,
      shadowPath: join(dir, 'shadow'),
      authFailDelayMs: 10,
    });
  });

  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says hello without a secret: cluster name, links, nodes', async () => {
    const c = await connect();
    const h = await c.hello();
    c.close();
    expect(h).toMatchObject({ clusterName: 'test', links: [0], nodes: [{ name: 'n1', nodeid: 1 }], quorate: true });
    expect(c.fingerprint).toBe(svc.fingerprint);
  });

  it('a wrong fingerprint is refused before anything is sent', async () => {
    const wrong = svc.fingerprint.replace(/^../, svc.fingerprint.startsWith('AA') ? 'BB' : 'AA');
    const err = await JoinConnection.open('127.0.0.1', svc.port, wrong, trustAll).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinError);
    expect((err as JoinError).code).toBe('fingerprint');
    // Trust on first use declined: also refused.
    const declined = await JoinConnection.open('127.0.0.1', svc.port, undefined, async () => false).catch((e: unknown) => e);
    expect((declined as JoinError).code).toBe('fingerprint');
  });

  it('a wrong token or password is refused and nothing changes', async () => {
    const c = await connect();
    for (const auth of [{ token: 'x'.repeat(32) }, { password: 'wrong' }, { password: '' }]) {
      const err = await c.join(auth, { name: 'n2', links: { 0: '10.99.0.2' } }, false).catch((e: unknown) => e);
      expect((err as JoinError).code).toBe('auth');
    }
    c.close();
    expect(commits).toBe(0);
    expect(tree.get('corosync.conf')!.toString()).toBe(initial);
  });

  it('the root password adds the node (config_version + 1) and hands back corosync.conf and the authkey', async () => {
    const c = await connect();
    const r = await c.join({ password: 'secret-pw' }, { name: 'n2', links: { 0: '10.99.0.2' } }, false);
    c.close();
    expect(r.nodeid).toBe(2);
    expect(r.configVersion).toBe(2);
    expect(Buffer.from(r.authkey, 'base64').equals(authkey)).toBe(true);
    expect(r.corosyncConf).toBe(tree.get('corosync.conf')!.toString());
    const conf = parseCorosyncConf(r.corosyncConf);
    expect(getConfigVersion(conf)).toBe(2);
    expect(listNodes(conf).map((n) => [n.name, n.nodeid, n.rings[0]])).toEqual([['n1', 1, '10.99.0.1'], ['n2', 2, '10.99.0.2']]);
    expect(r.corosyncConf).toMatch(/two_node: 1/); // quorum options stay
  });

  it('a token works once; a failed commit keeps it', async () => {
    const token = createToken(join(dir, 'join'));
    commitErrno = 13;
    let c = await connect();
    const failed = await c.join({ token }, { name: 'n3', links: { 0: '10.99.0.3' } }, false).catch((e: unknown) => e);
    expect((failed as JoinError).code).toBe('quorum');
    commitErrno = 0;
    const ok = await c.join({ token }, { name: 'n3', links: { 0: '10.99.0.3' }, nodeid: 7, votes: 2 }, false);
    expect(ok.nodeid).toBe(7);
    const again = await c.join({ token }, { name: 'n4', links: { 0: '10.99.0.4' } }, false).catch((e: unknown) => e);
    expect((again as JoinError).code).toBe('auth');
    c.close();
    c = await connect();
    expect((await c.hello()).nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    c.close();
  });

  it('refuses a name or address in use, missing links, and joins without quorum, changing nothing', async () => {
    const before = tree.get('corosync.conf')!.toString();
    const c = await connect();
    const cases: Array<[Parameters<JoinConnection['join']>[1], RegExp]> = [
      [{ name: 'n2', links: { 0: '10.99.0.9' } }, /already in the cluster/],
      [{ name: 'n9', links: { 0: '10.99.0.2' } }, /already used by node 'n2'/],
      [{ name: 'n9', links: { 1: '10.98.0.9' } }, /uses link\(s\) 0/],
      [{ name: 'n9', links: { 0: '10.99.0.9' }, nodeid: 2 }, /nodeid 2 is already used/],
      [{ name: 'bad_name', links: { 0: '10.99.0.9' } }, /invalid node name/],
    ];
    for (const [node, msg] of cases) {
      const err = await c.join({ password: 'secret-pw' }, node, false).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(msg);
    }
    quorate = false;
    const nq = await c.join({ password: 'secret-pw' }, { name: 'n9', links: { 0: '10.99.0.9' } }, false).catch((e: unknown) => e);
    expect((nq as JoinError).code).toBe('quorum');
    quorate = true;
    c.close();
    expect(tree.get('corosync.conf')!.toString()).toBe(before);
  });
});
