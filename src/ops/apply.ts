// Applies one Op to the store: checks every rule, then writes all row changes in one transaction.
// Deterministic: the result depends only on the store and the op (time comes inside the op).
import { E } from '../errors.js';
import type { RowChange } from '../store/db.js';
import type { Store } from '../store/store.js';
import { basename, dirname, DT_DIR, DT_REG, ROOT_INODE, rowOf, type Node } from '../store/tree.js';
import { guestOfPath, scanGuests } from '../store/vmlist.js';
import type { ApplyResult, Op } from './op.js';
import { checkCorosyncConfUpdate } from '../corosync/conf.js';

/** The tree's corosync.conf: every version of it must be one corosync accepts, with a growing config_version. */
const COROSYNC_CONF = 'corosync.conf';

function checkCorosyncConf(store: Store, path: string, data: Buffer): void {
  if (path.replace(/^\/+/, '') !== COROSYNC_CONF) return;
  const old = store.tree.resolve(COROSYNC_CONF);
  if (checkCorosyncConfUpdate(old?.data ?? undefined, data).errno) refuse(E.EINVAL);
}

/** Names the kernel invents for unlinked-but-open files; they are never stored. */
export const isFuseHidden = (name: string): boolean => name.startsWith('.fuse_hidden');

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f]/;

export function nameErrno(store: Store, name: string): number {
  if (Buffer.byteLength(name) > store.limits.maxNameLength) return E.ENAMETOOLONG;
  if (!name || name === '.' || name === '..' || name.includes('/') || CONTROL_RE.test(name)) return E.EINVAL;
  if (isFuseHidden(name)) return E.EINVAL;
  return 0;
}

class Refused {
  constructor(readonly errno: number) {}
}
const refuse = (errno: number): never => {
  throw new Refused(errno);
};

const placeOf = (n: Node) => ({ inode: n.inode, parent: n.parent, name: n.name });


function lookupParent(store: Store, path: string): { dir: Node; name: string } {
  const dir = store.tree.resolve(dirname(path));
  if (!dir) refuse(E.ENOENT);
  if (!dir!.children) refuse(E.ENOTDIR);
  const name = basename(path);
  if (!name) refuse(E.EEXIST); // the root itself
  return { dir: dir!, name };
}

function checkNewName(store: Store, name: string): void {
  const errno = nameErrno(store, name);
  if (errno) refuse(errno);
}

function checkRoomForEntry(store: Store): void {
  if (store.tree.count + 1 > store.limits.maxEntries) refuse(E.ENOSPC);
}

/**
 * A VM config may only exist once cluster-wide. `self` is the entry being renamed (allowed to move) and `replaced`
 * the config it replaces (writing a temp file and renaming it over the config is how tools edit it).
 */
function checkVmid(store: Store, path: string, self?: Node, replaced?: Node): void {
  const g = guestOfPath(path);
  if (!g) return;
  const existing = scanGuests(store.tree).get(g.vmid);
  if (existing && existing.inode !== self?.inode && existing.inode !== replaced?.inode) refuse(E.EEXIST);
}

/** EEXIST when a new file at `path` would be a second config of an existing VMID (a local check, answered at once). */
export function vmidErrno(store: Store, path: string): number {
  try {
    checkVmid(store, path);
    return 0;
  } catch (e) {
    if (e instanceof Refused) return e.errno;
    throw e;
  }
}

/** A file may take `data`: the per-file limit and the total of the tree (`node` is the file it replaces). */
function checkContent(store: Store, node: Node | undefined, data: Buffer): void {
  if (data.length > store.limits.maxFileSize) refuse(E.EFBIG);
  const grow = data.length - (node?.data?.length ?? 0);
  if (grow > 0 && store.tree.dataBytes + grow > store.limits.maxDataBytes) refuse(E.ENOSPC);
}

function collectSubtree(node: Node, out: Node[]): void {
  if (node.children) for (const c of node.children.values()) collectSubtree(c, out);
  out.push(node); // children before their parent
}

export function apply(store: Store, op: Op, writer: number): ApplyResult {
  const tree = store.tree;
  const version = tree.version + 1;
  const changes: RowChange[] = [];
  let inode: number | undefined;
  try {
    switch (op.kind) {
      case 'create':
      case 'mkdir': {
        const { dir, name } = lookupParent(store, op.path);
        const existing = tree.child(dir, name);
        const data = op.kind === 'create' ? op.data : undefined;
        if (existing) {
          if (op.kind === 'mkdir' || op.excl) refuse(E.EEXIST);
          if (existing!.children) refuse(E.EISDIR);
          if (data === undefined) return { errno: 0, inode: existing!.inode };
          checkContent(store, existing!, data);
          checkCorosyncConf(store, op.path, data);
          inode = existing!.inode;
          changes.push({ put: { ...rowOf(existing!), version, writer, mtime: op.mtime, data } });
          break;
        }
        checkNewName(store, name);
        checkRoomForEntry(store);
        if (op.kind === 'create') checkVmid(store, op.path);
        if (data) checkContent(store, undefined, data);
        if (op.kind === 'create') checkCorosyncConf(store, op.path, data ?? Buffer.alloc(0));
        const type = op.kind === 'mkdir' ? DT_DIR : DT_REG;
        inode = version; // the original's rule: a new entry's inode is the new global version
        changes.push({ put: { inode, parent: dir.inode, version, writer, mtime: op.mtime, type, name, data: type === DT_REG ? (data ?? Buffer.alloc(0)) : null } });
        break;
      }
      case 'write': {
        const node = tree.resolve(op.path);
        if (!node) refuse(E.ENOENT);
        if (node!.children) refuse(E.EISDIR);
        checkContent(store, node!, op.data);
        checkCorosyncConf(store, op.path, op.data);
        inode = node!.inode;
        changes.push({ put: { ...rowOf(node!), version, writer, mtime: op.mtime, data: op.data } });
        break;
      }
      case 'unlink':
      case 'rmdir': {
        const node = tree.resolve(op.path);
        if (!node) refuse(E.ENOENT);
        if (node!.inode === ROOT_INODE) refuse(E.EBUSY);
        if (op.kind === 'unlink' && node!.children) refuse(E.EISDIR);
        if (op.kind === 'rmdir') {
          if (!node!.children) refuse(E.ENOTDIR);
          if (node!.children!.size > 0) refuse(E.ENOTEMPTY);
        }
        inode = node!.inode;
        changes.push({ del: placeOf(node!) });
        break;
      }
      case 'unlock': {
        const node = tree.resolve(op.path);
        if (!node) refuse(E.ENOENT);
        if (!node!.children) refuse(E.ENOTDIR);
        const doomed: Node[] = [];
        collectSubtree(node!, doomed);
        for (const n of doomed) changes.push({ del: placeOf(n) });
        inode = node!.inode;
        break;
      }
      case 'rename': {
        const src = tree.resolve(op.from);
        if (!src) refuse(E.ENOENT);
        if (src!.inode === ROOT_INODE) refuse(E.EBUSY);
        const { dir, name } = lookupParent(store, op.to);
        const target = tree.child(dir, name);
        if (target === src) return { errno: 0, inode: src!.inode };
        checkNewName(store, name);
        if (src!.children && tree.isWithin(dir, src!)) refuse(E.EINVAL);
        // like the original: a directory moves only while empty
        if (src!.children && src!.children.size > 0) refuse(E.ENOTEMPTY);
        if (target) {
          if (src!.children) {
            if (!target.children) refuse(E.ENOTDIR);
            if (target.children!.size > 0) refuse(E.ENOTEMPTY);
          } else if (target.children) refuse(E.EISDIR);
        }
        if (!src!.children) {
          checkVmid(store, op.to, src!, target);
          checkCorosyncConf(store, op.to, src!.data!);
        }
        if (target) changes.push({ del: placeOf(target) });
        inode = src!.inode;
        // a rename changes where the entry is, not its content: its mtime stays
        changes.push({ put: { ...rowOf(src!), parent: dir.inode, name, version, writer }, was: { parent: src!.parent, name: src!.name } });
        break;
      }
      case 'mtime': {
        const node = tree.resolve(op.path);
        if (!node) refuse(E.ENOENT);
        inode = node!.inode;
        if (node!.inode === ROOT_INODE) return { errno: 0, inode };
        changes.push({ put: { ...rowOf(node!), version, writer, mtime: op.mtime } });
        break;
      }
    }
  } catch (e) {
    if (e instanceof Refused) return { errno: e.errno };
    throw e;
  }
  store.commit(changes, version, writer, op.mtime);
  return { errno: 0, inode };
}
