// Guests by VMID, derived from `nodes/<node>/qemu-server/<vmid>.conf` and `nodes/<node>/lxc/<vmid>.conf`.
import { splitPath, type Node, type Tree } from './tree.js';

export type GuestType = 'qemu' | 'lxc';

export interface Guest {
  vmid: number;
  node: string;
  type: GuestType;
  version: number;
  inode: number;
}

const TYPE_DIRS: Record<string, GuestType> = { 'qemu-server': 'qemu', lxc: 'lxc' };
const CONF_RE = /^([1-9][0-9]{0,8})\.conf$/;

/** Parses `nodes/<node>/<qemu-server|lxc>/<vmid>.conf`; undefined for any other path. */
export function guestOfPath(path: string): { vmid: number; node: string; type: GuestType } | undefined {
  const p = splitPath(path);
  if (p.length !== 4 || p[0] !== 'nodes') return undefined;
  const type = TYPE_DIRS[p[2]!];
  const m = CONF_RE.exec(p[3]!);
  if (!type || !m) return undefined;
  return { vmid: Number(m[1]), node: p[1]!, type };
}

/** Scans the tree for guests. Cheap: only two directory levels below `nodes/` are visited. */
export function scanGuests(tree: Tree): Map<number, Guest> {
  const out = new Map<number, Guest>();
  const nodes = tree.child(tree.root, 'nodes');
  if (!nodes?.children) return out;
  for (const [nodeName, nodeDir] of nodes.children) {
    if (!nodeDir.children) continue;
    for (const [dirName, type] of Object.entries(TYPE_DIRS)) {
      const dir: Node | undefined = nodeDir.children.get(dirName);
      if (!dir?.children) continue;
      for (const [name, file] of dir.children) {
        const m = CONF_RE.exec(name);
        if (!m || file.children) continue;
        const vmid = Number(m[1]);
        // first one wins, deterministically (Map order is insertion order, the same on every node after load)
        if (!out.has(vmid)) out.set(vmid, { vmid, node: nodeName, type, version: file.version, inode: file.inode });
      }
    }
  }
  return out;
}
