// Node and cluster status behind the generated files (.members, .version, .vmlist, .clusterlog).
import type { Store } from '../store/store.js';
import { scanGuests } from '../store/vmlist.js';
import { ClusterLog } from './clusterlog.js';

export interface MemberInfo {
  id: number;
  online: boolean;
  ip?: string;
}

export interface ClusterInfo {
  name: string;
  version: number;
  nodes: number;
  quorate: boolean;
  nodelist: Record<string, MemberInfo>;
}

/** Files whose versions `.version` reports, so tools notice a change without reading them. */
const WATCHED = [
  'corosync.conf', 'corosync.conf.new', 'storage.cfg', 'user.cfg', 'domains.cfg', 'notifications.cfg',
  'priv/shadow.cfg', 'priv/tfa.cfg', 'priv/token.cfg', 'datacenter.cfg', 'vzdump.cron', 'vzdump.conf',
  'jobs.cfg', 'ha/crm_commands', 'ha/manager_status', 'ha/resources.cfg', 'ha/groups.cfg', 'ha/fence.cfg',
  'status.cfg', 'replication.cfg', 'ceph.conf', 'sdn/vnets.cfg', 'sdn/zones.cfg', 'sdn/controllers.cfg',
  'mapping/pci.cfg', 'mapping/usb.cfg',
];

export class Status {
  readonly starttime = Math.floor(Date.now() / 1000);
  readonly clusterlog = new ClusterLog();
  /** cluster info (null in local mode); bumping `clinfoVersion` tells readers it changed */
  cluster: ClusterInfo | null = null;
  clinfoVersion = 0;
  debug = false;
  private vmlistCache: { treeVersion: number; json: object; version: number } | null = null;

  constructor(
    private readonly store: Store,
    readonly nodename: string,
  ) {}

  members(): object {
    if (!this.cluster) return { nodename: this.nodename, version: this.clinfoVersion };
    const c = this.cluster;
    return {
      nodename: this.nodename,
      version: this.clinfoVersion,
      cluster: { name: c.name, version: c.version, nodes: c.nodes, quorate: c.quorate ? 1 : 0 },
      nodelist: c.nodelist,
    };
  }

  /** `.vmlist`; its version only moves when the set of guests or one of their configs changed. */
  vmlist(): { version: number; ids: Record<string, { node: string; type: string; version: number }> } {
    const tv = this.store.tree.version;
    if (this.vmlistCache?.treeVersion === tv) return this.vmlistCache.json as ReturnType<Status['vmlist']>;
    const ids: Record<string, { node: string; type: string; version: number }> = {};
    for (const g of scanGuests(this.store.tree).values()) ids[String(g.vmid)] = { node: g.node, type: g.type, version: g.version };
    const prev = this.vmlistCache;
    const same = prev && JSON.stringify((prev.json as { ids: unknown }).ids) === JSON.stringify(ids);
    const version = same ? prev!.version : tv;
    const json = { version, ids };
    this.vmlistCache = { treeVersion: tv, json, version };
    return json;
  }

  version(): object {
    const out: Record<string, number> = {
      starttime: this.starttime,
      clinfo: this.clinfoVersion,
      vmlist: this.vmlist().version,
      version: this.store.tree.version,
    };
    for (const path of WATCHED) {
      const n = this.store.tree.resolve(path);
      if (n) out[path] = n.version;
    }
    return out;
  }
}
