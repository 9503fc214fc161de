// pvecm status when corosync cannot run: the troubleshooting case of seed 5.8.2 (a ringX_addr that does not
// resolve) is named in words an admin understands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCorosyncConf } from '../../src/corosync/conf.js';
import { PVECM_JS } from '../helpers/pvecm-net.js';
import { Testnet } from '../helpers/testnet.js';

describe('pvecm status without a running corosync', () => {
  let net: Testnet;
  beforeAll(() => {
    net = Testnet.create({ nodes: 1 });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  it('says corosync is not running, and which ring address does not resolve', async () => {
    const pve = join(net.node(1).dir, 'pve');
    mkdirSync(pve);
    const conf = buildCorosyncConf({ clusterName: 'test', nodeName: 'n1', nodeid: 1, votes: 1, links: { 0: { address: '10.99.0.1' } } })
      .replace(/}\n}\n\nquorum/, '}\n  node {\n    name: n2\n    nodeid: 2\n    quorum_votes: 1\n    ring0_addr: n2-cluster.invalid\n  }\n}\n\nquorum');
    writeFileSync(join(pve, 'corosync.conf'), conf);
    const r = await net.exec(1, 'env', [`PVECM_PVE_DIR=${pve}`, `PVECM_COROSYNC_DIR=${net.node(1).dir}`, process.execPath, PVECM_JS, 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Is corosync running on this node\?/);
    expect(r.stderr).toMatch(/node 'n2': ring0_addr 'n2-cluster\.invalid' does not resolve to an address/);
    expect(r.stderr).toMatch(/nodelist or quorum\.expected_votes must be configured/);
  });
});
