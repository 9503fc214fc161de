// Which committer serves: local until the tree holds corosync.conf (a standalone node is always writable), then the
// cluster's. The switch happens once, when corosync.conf appears (at start, or written later by `pvecm create`).
import type { ApplyResult, Op } from '../ops/op.js';
import type { ClusterCommitter } from './cluster.js';
import type { Committer, LocalCommitter } from './committer.js';

export class ModeCommitter implements Committer {
  private cluster: ClusterCommitter | null = null;

  constructor(private readonly local: LocalCommitter) {}

  get nodeId(): number {
    return this.cluster ? this.cluster.nodeId : this.local.nodeId;
  }

  get clustered(): ClusterCommitter | null {
    return this.cluster;
  }

  useCluster(cluster: ClusterCommitter): void {
    this.cluster = cluster;
  }

  quorate(): boolean {
    return this.cluster ? this.cluster.quorate() : true;
  }

  commit(op: Op, kernel = false): ApplyResult | Promise<ApplyResult> {
    return this.cluster ? this.cluster.commit(op, kernel) : this.local.commit(op, kernel);
  }
}
