// Locks are directories `priv/lock/<name>`. A lock expires a fixed time after this node first saw it (created or
// renewed); only an expired lock may be released with utime(mtime 0). The clock is local, like the original's.
import type { Tree, Node } from '../store/tree.js';

export const DEFAULT_LOCK_EXPIRY_S = 120;

export class LockTable {
  private readonly seen = new Map<number, number>();

  constructor(
    private readonly tree: Tree,
    private readonly expiryMs: number,
  ) {}

  /** True for `priv/lock/<name>` itself (not the lock dir, not below a lock). */
  isLock(node: Node): boolean {
    const parent = this.tree.get(node.parent);
    if (!parent || parent.name !== 'lock' || !node.children) return false;
    const priv = this.tree.get(parent.parent);
    return !!priv && priv.name === 'priv' && priv.parent === 0 && priv.inode !== 0;
  }

  isLockPath(path: string): boolean {
    const p = path.split('/').filter(Boolean);
    return p.length === 3 && p[0] === 'priv' && p[1] === 'lock';
  }

  /** A lock was created or renewed: its expiry starts again. */
  touch(inode: number, now = Date.now()): void {
    this.seen.set(inode, now);
  }

  forget(inode: number): void {
    this.seen.delete(inode);
  }

  expired(node: Node, now = Date.now()): boolean {
    let first = this.seen.get(node.inode);
    if (first === undefined) {
      // present before we started: the clock starts now
      first = now;
      this.seen.set(node.inode, now);
    }
    return now - first >= this.expiryMs;
  }
}
