// Digests of entries and of the whole tree: what members compare at a state exchange and at verification.
// An entry's digest covers its whole row; it is cached per entry and recomputed only when the row changed.
import { createHash } from 'node:crypto';
import type { Node, Tree } from '../store/tree.js';

interface Cached {
  version: number;
  parent: number;
  name: string;
  mtime: number;
  data: Buffer | null;
  digest: Buffer;
}

const cache = new WeakMap<Node, Cached>();

/** 8 bytes of MD5 over the row: enough to tell two entries apart, and compact in a state message. */
export function entryDigest(n: Node): Buffer {
  const c = cache.get(n);
  // a committed Buffer is never changed in place, so its identity stands for the content
  if (c && c.version === n.version && c.parent === n.parent && c.name === n.name && c.mtime === n.mtime && c.data === n.data) return c.digest;
  const h = createHash('md5');
  h.update(`${n.inode}\0${n.parent}\0${n.version}\0${n.writer}\0${n.mtime}\0${n.type}\0${n.name}\0`);
  if (n.data) h.update(n.data);
  const digest = h.digest().subarray(0, 8);
  cache.set(n, { version: n.version, parent: n.parent, name: n.name, mtime: n.mtime, data: n.data, digest });
  return digest;
}

/** Every entry but the root, by ascending inode, with their digests side by side. */
export function summarize(tree: Tree): { inodes: number[]; digests: Buffer } {
  const nodes = [...tree.byInode.values()].filter((n) => n.inode !== 0).sort((a, b) => a.inode - b.inode);
  const digests = Buffer.allocUnsafe(8 * nodes.length);
  nodes.forEach((n, i) => entryDigest(n).copy(digests, 8 * i));
  return { inodes: nodes.map((n) => n.inode), digests };
}

/** One checksum of the whole tree (its global version included). */
export function treeDigest(tree: Tree): Buffer {
  const { digests } = summarize(tree);
  return createHash('sha256').update(`${tree.version}\0`).update(digests).digest();
}
