// A change to the tree as plain data. Built by the filesystem layer, carried by a Committer (locally, or later as an
// ordered cluster message) and applied on every node by `apply`, a deterministic function of (store, op).
// Every op carries the writer's clock (seconds) so that applying it gives the same rows on every node.
// Paths are relative to the root, '/'-separated, without a leading slash.

export type Op =
  /**
   * create a file, empty or holding `data` (a file created and written through one handle is one change); with
   * `excl`, EEXIST when it exists; otherwise an existing file is opened: it takes `data` when given
   */
  | { kind: 'create'; path: string; mtime: number; excl: boolean; data?: Buffer }
  /** replace a file's whole content (one atomic change, however many write() calls built it) */
  | { kind: 'write'; path: string; data: Buffer; mtime: number }
  | { kind: 'mkdir'; path: string; mtime: number }
  | { kind: 'unlink'; path: string; mtime: number }
  | { kind: 'rmdir'; path: string; mtime: number }
  | { kind: 'rename'; from: string; to: string; mtime: number }
  | { kind: 'mtime'; path: string; mtime: number }
  /** release an expired lock: remove the lock directory and what it holds */
  | { kind: 'unlock'; path: string; mtime: number };

export interface ApplyResult {
  /** 0 on success, else a positive errno */
  errno: number;
  /** the entry created or changed (store inode) */
  inode?: number;
}
