// The join service's tree callbacks on top of the daemon's store and committer: reads come from RAM, the write is
// an ordinary op through the committer (replicated, quorum-gated, checked by the apply like any other write).
import type { Committer } from '../cluster/committer.js';
import type { Store } from '../store/store.js';

export function treeCallbacks(store: Store, committer: Committer): {
  readTreeFile(path: string): Buffer | undefined;
  commitTreeFile(path: string, data: Buffer): Promise<number>;
} {
  return {
    readTreeFile(path) {
      const n = store.tree.resolve(path);
      return n && n.data !== null ? Buffer.from(n.data) : undefined;
    },
    async commitTreeFile(path, data) {
      const mtime = Math.floor(Date.now() / 1000);
      const exists = store.tree.resolve(path) !== undefined;
      const r = await committer.commit(exists ? { kind: 'write', path, data, mtime } : { kind: 'create', path, mtime, excl: true, data });
      return r.errno;
    },
  };
}
