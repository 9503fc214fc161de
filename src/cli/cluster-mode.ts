// Wiring of cluster mode into the daemon: import corosync.conf at first start, start the cluster committer when the
// tree holds corosync.conf (now or later), keep .members in step, create this node's directories once writable.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorosyncConfSync } from '../corosync/confsync.js';
import { startJoinService, type JoinService } from '../join/service.js';
import { treeCallbacks } from '../join/tree-adapter.js';
import { ClusterCommitter, type ClusterView } from '../cluster/cluster.js';
import type { LocalCommitter } from '../cluster/committer.js';
import { ModeCommitter } from '../cluster/mode.js';
import type { Filesystem } from '../fs/filesystem.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { Status } from '../status/status.js';
import type { StorageHealth } from '../store/storage-errors.js';

export const TREE_COROSYNC_CONF = 'corosync.conf';

export interface ClusterWiring {
  store: Store;
  status: Status;
  log: Logger;
  local: LocalCommitter;
  /** /etc/corosync/corosync.conf, imported into an empty tree */
  corosyncConf: string;
  retryMs?: number;
  /** database faults as errno values, logged once per outage */
  health?: StorageHealth;
  /** the join service's certificate and tokens */
  joinDir: string;
  /** TCP port of the join service (`pvecm add`); 0 turns it off */
  joinPort: number;
}

/** At first start (empty tree) the node's corosync.conf becomes the tree's. */
export function importCorosyncConf(w: ClusterWiring): void {
  if (w.store.tree.count > 0 || w.store.tree.resolve(TREE_COROSYNC_CONF) || !existsSync(w.corosyncConf)) return;
  const data = readFileSync(w.corosyncConf);
  // Debian's corosync package ships an example one-node cluster ("debian", "node1"): not this node's cluster
  const text = data.toString('utf8');
  if (/cluster_name:\s*debian\s*$/m.test(text) && /name:\s*node1\s*$/m.test(text)) {
    w.log.info({ file: w.corosyncConf }, "Debian's example corosync.conf is not imported: the node stays standalone");
    return;
  }
  const r = w.local.commit({ kind: 'create', path: TREE_COROSYNC_CONF, mtime: Math.floor(Date.now() / 1000), excl: true, data });
  if (r.errno) {
    w.log.warn({ file: w.corosyncConf, errno: r.errno }, 'corosync.conf is not valid: not imported, the node stays standalone');
    return;
  }
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
export function setUpCluster(w: ClusterWiring, fsReady: () => Filesystem | null): { mode: ModeCommitter; stop: () => Promise<void> } {
  const mode = new ModeCommitter(w.local);
  let joinService: JoinService | null = null;
  let confSync: CorosyncConfSync | null = null;
  const say = (level: 'info' | 'warn' | 'error') => (msg: string) => w.log[level](msg);
  const logAdapter = { info: say('info'), warn: say('warn'), error: say('error') };
  const observeConf = (): void => {
    if (!confSync || !mode.clustered) return;
    const n = w.store.tree.resolve(TREE_COROSYNC_CONF);
    confSync.observe(n ? { data: n.data, version: n.version, writer: n.writer } : undefined, mode.clustered.nodeId).catch((err: Error) => w.log.error({ err: err.message }, 'corosync.conf sync failed'));
  };
  const start = (): void => {
    if (mode.clustered) return;
    const cluster: ClusterCommitter = new ClusterCommitter({
      store: w.store,
      log: w.log,
      nodename: w.status.nodename,
      clusterlog: w.status.clusterlog,
      retryMs: w.retryMs,
      health: w.health,
      verifyIntervalMs: Number(process.env.PMXCFS_VERIFY_INTERVAL_MS ?? 3600_000),
      onView: (view) => toStatus(w.status, view),
      onConfVersion: (nodeid, version) => confSync?.peerHas(nodeid, version),
      onSynced: () => {
        observeConf();
        const fs = fsReady();
        if (fs && cluster.quorate()) fs.ensureLayout().catch((err: Error) => w.log.warn({ err: err.message }, 'cannot create this node\'s directories yet'));
      },
    });
    mode.useCluster(cluster);
    // /etc/corosync/corosync.conf follows the tree's (validated, growing config_version); the node that changed it
    // asks corosync to reload once every member has it
    confSync = new CorosyncConfSync({
      corosyncDir: dirname(w.corosyncConf),
      log: logAdapter,
      clusterLog: (pri, msg) => w.status.clusterlog.add({ time: Math.floor(Date.now() / 1000), pri, tag: 'pmxcfs', pid: process.pid, node: w.status.nodename, user: 'root@pam', msg }),
      announce: (v) => cluster.announceConfVersion(v),
      members: () => cluster.onlineNodeIds(),
      localNodeId: () => cluster.nodeId,
    });
    w.store.onCommit((info) => {
      if (info.changes.some((ch) => (ch.put ?? ch.del)?.parent === 0 && (ch.put ?? ch.del)?.name === TREE_COROSYNC_CONF || ch.was?.name === TREE_COROSYNC_CONF)) setImmediate(observeConf);
    });
    cluster.start();
    w.log.info('cluster mode: corosync.conf is in the tree');
    if (w.joinPort > 0) {
      startJoinService({
        nodename: w.status.nodename,
        certDir: w.joinDir,
        listen: { port: w.joinPort },
        ...treeCallbacks(w.store, mode),
        readAuthkey: () => readFileSync(join(dirname(w.corosyncConf), 'authkey')),
        quorate: () => mode.quorate(),
        log: logAdapter,
      })
        .then((j) => {
          joinService = j;
          w.log.info({ port: j.port, fingerprint: j.fingerprint }, 'join service listening');
        })
        .catch((err: Error) => w.log.warn({ err: err.message }, 'join service not started'));
    }
  };
  if (w.store.tree.resolve(TREE_COROSYNC_CONF)) start();
  else {
    w.log.info('no corosync.conf in the tree: standalone node, always writable');
    w.store.onCommit(() => {
      if (!mode.clustered && w.store.tree.resolve(TREE_COROSYNC_CONF)) setImmediate(start);
    });
  }
  const stop = async (): Promise<void> => {
    await joinService?.close().catch(() => undefined);
    mode.clustered?.close();
  };
  return { mode, stop };
}
