// Wiring of cluster mode into the daemon: import corosync.conf at first start, start the cluster committer when the
// tree holds corosync.conf (now or later), keep .members in step, create this node's directories once writable.
import { existsSync, readFileSync } from 'node:fs';
import { ClusterCommitter, type ClusterView } from '../cluster/cluster.js';
import type { LocalCommitter } from '../cluster/committer.js';
import { ModeCommitter } from '../cluster/mode.js';
import type { Filesystem } from '../fs/filesystem.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { Status } from '../status/status.js';

export const TREE_COROSYNC_CONF = 'corosync.conf';

export interface ClusterWiring {
  store: Store;
  status: Status;
  log: Logger;
  local: LocalCommitter;
  /** /etc/corosync/corosync.conf, imported into an empty tree */
  corosyncConf: string;
  retryMs?: number;
}

/** At first start (empty tree) the node's corosync.conf becomes the tree's. */
export function importCorosyncConf(w: ClusterWiring): void {
  if (w.store.tree.count > 0 || w.store.tree.resolve(TREE_COROSYNC_CONF) || !existsSync(w.corosyncConf)) return;
  const data = readFileSync(w.corosyncConf);
  const r = w.local.commit({ kind: 'create', path: TREE_COROSYNC_CONF, mtime: Math.floor(Date.now() / 1000), excl: true, data });
  if (r.errno) throw new Error(`cannot import ${w.corosyncConf} into the tree: errno ${r.errno}`);
  w.log.info({ file: w.corosyncConf }, 'imported corosync.conf into the empty tree');
}

function toStatus(status: Status, view: ClusterView): void {
  const nodelist: Record<string, { id: number; online: number; ip?: string }> = {};
  for (const m of view.members) nodelist[m.name] = { id: m.nodeid, online: m.online ? 1 : 0, ...(m.ip ? { ip: m.ip } : {}) };
  const next = { name: view.name, version: view.configVersion, nodes: view.members.length, quorate: view.quorate, nodelist: nodelist as never };
  if (JSON.stringify(next) === JSON.stringify(status.cluster)) return;
  status.cluster = next;
  status.clinfoVersion++;
}

/**
 * Returns the committer the filesystem uses. Cluster mode starts now when the tree holds corosync.conf, or as
 * soon as a change puts it there; until then the node is standalone and writable.
 */
export function setUpCluster(w: ClusterWiring, fsReady: () => Filesystem | null): ModeCommitter {
  const mode = new ModeCommitter(w.local);
  const start = (): void => {
    if (mode.clustered) return;
    const cluster = new ClusterCommitter({
      store: w.store,
      log: w.log,
      nodename: w.status.nodename,
      clusterlog: w.status.clusterlog,
      retryMs: w.retryMs,
      verifyIntervalMs: Number(process.env.PMXCFS_VERIFY_INTERVAL_MS ?? 3600_000),
      onView: (view) => toStatus(w.status, view),
      onSynced: () => {
        const fs = fsReady();
        if (fs && cluster.quorate()) fs.ensureLayout().catch((err: Error) => w.log.warn({ err: err.message }, 'cannot create this node\'s directories yet'));
      },
    });
    mode.useCluster(cluster);
    cluster.start();
    w.log.info('cluster mode: corosync.conf is in the tree');
  };
  if (w.store.tree.resolve(TREE_COROSYNC_CONF)) start();
  else {
    w.log.info('no corosync.conf in the tree: standalone node, always writable');
    w.store.onCommit(() => {
      if (!mode.clustered && w.store.tree.resolve(TREE_COROSYNC_CONF)) setImmediate(start);
    });
  }
  return mode;
}
