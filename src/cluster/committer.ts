// A Committer carries an Op to the store (and later, in cluster mode, to every node in one order) and resolves with
// the result of applying it here. The filesystem acknowledges a change only after that result is known.
import { E } from '../errors.js';
import { apply } from '../ops/apply.js';
import type { ApplyResult, Op } from '../ops/op.js';
import type { Store } from '../store/store.js';
import type { StorageHealth } from '../store/storage-errors.js';
import type { Logger } from '../log.js';

export interface Committer {
  /** Node id written into each row's `writer` (0 in local mode). */
  readonly nodeId: number;
  /** False without quorum: the filesystem turns read-only. */
  quorate(): boolean;
  /**
   * Applies the op (synchronously when it can: local mode) and returns the result. `kernel`: the op answers a
   * request of this node's kernel, which updates its own caches from the reply (CommitInfo.kernel: nothing to
   * invalidate).
   */
  commit(op: Op, kernel?: boolean): ApplyResult | Promise<ApplyResult>;
}

/** Local mode: no corosync, always writable; the op is applied in one SQLite transaction right away. */
export class LocalCommitter implements Committer {
  readonly nodeId = 0;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly health?: StorageHealth,
  ) {}

  quorate(): boolean {
    return true;
  }

  commit(op: Op, kernel = false): ApplyResult {
    const refused = this.health?.check();
    if (refused) return { errno: refused };
    try {
      const r = this.store.asKernel(kernel, () => apply(this.store, op, this.nodeId));
      if (!r.errno) this.health?.succeeded();
      // `pmxcfs -d` shows every change and its outcome
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ op: op.kind, path: 'path' in op ? op.path : `${op.from} -> ${op.to}`, errno: r.errno, version: this.store.tree.version }, 'change');
      }
      return r;
    } catch (err) {
      // SQLite failed: the transaction rolled back and RAM was not touched, so the tree is still sound
      // (the errno says why: ENOSPC for a full disk...; logged once per outage)
      if (this.health) return { errno: this.health.failed(err) };
      this.log.error({ err, op: op.kind }, 'commit failed');
      return { errno: E.EIO };
    }
  }
}
