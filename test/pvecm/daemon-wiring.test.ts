// The pieces the daemon hosts, on a real store: the join service's tree callbacks (reads from RAM, writes as ops
// through the committer) and the corosync.conf observer (which change is new, which was made here).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LocalCommitter } from '../../src/cluster/committer.js';
import { buildCorosyncConf } from '../../src/corosync/conf.js';
import { CorosyncConfSync } from '../../src/corosync/confsync.js';
import { treeCallbacks } from '../../src/join/tree-adapter.js';
import { Store } from '../../src/store/store.js';

const dir = mkdtempSync(join(tmpdir(), 'pvct-wiring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('daemon wiring of the join service and the corosync.conf sync', () => {
  it('tree callbacks create, then replace corosync.conf; the observer writes each new version once', async () => {
    const store = Store.open(join(dir, 'config.db'));
    try {
      const committer = new LocalCommitter(store, pino({ level: 'silent' }));
      const cb = treeCallbacks(store, committer);
      const logs: string[] = [];
      let reloads = 0;
      const sync = new CorosyncConfSync({
        corosyncDir: dir,
        log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
        reload: async () => void reloads++,
      });
      const observe = () => sync.observe(store.tree.resolve('corosync.conf'), 1);
      expect(await observe()).toBeUndefined(); // no corosync.conf, nothing to do
      const v1 = Buffer.from(buildCorosyncConf({ clusterName: 'c', nodeName: 'n1', nodeid: 1, votes: 1, links: { 0: { address: '10.0.0.1' } } }));
      expect(cb.readTreeFile('corosync.conf')).toBeUndefined();
      expect(await cb.commitTreeFile('corosync.conf', v1)).toBe(0);
      expect(cb.readTreeFile('corosync.conf')!.equals(v1)).toBe(true);
      expect(await observe()).toMatchObject({ action: 'written', version: 1 });
      expect(await observe()).toBeUndefined(); // nothing new
      const v2 = Buffer.from(v1.toString().replace('config_version: 1', 'config_version: 2'));
      expect(await cb.commitTreeFile('corosync.conf', v2)).toBe(0);
      // Local mode writes with writer 0: not "made here" by a cluster node, so no reload.
      expect(await observe()).toMatchObject({ action: 'written', version: 2, reloaded: false });
      expect(readFileSync(join(dir, 'corosync.conf')).equals(v2)).toBe(true);
      expect(reloads).toBe(0);
    } finally {
      store.close();
    }
  });
});
