// The whole configuration tree in RAM: entries by inode, children by name.
// Pure data structure: it never touches the database and never fails half-way.

export const DT_DIR = 4;
export const DT_REG = 8;
export type EntryType = typeof DT_DIR | typeof DT_REG;

/** Inode of the root directory; in the database it is the `__version__` row that carries the global version. */
export const ROOT_INODE = 0;
export const VERSION_ROW_NAME = '__version__';

/** One row of the original's `tree` table. */
export interface Row {
  inode: number;
  parent: number;
  version: number;
  writer: number;
  mtime: number;
  type: EntryType;
  name: string;
  data: Buffer | null;
}

export interface Node {
  readonly inode: number;
  parent: number;
  version: number;
  writer: number;
  mtime: number;
  readonly type: EntryType;
  name: string;
  /** file content (empty Buffer for an empty file); null for directories */
  data: Buffer | null;
  /** directories only */
  children: Map<string, Node> | null;
  /** bumped whenever the set of children changes: lets readers cache listings */
  gen: number;
}

/** The row an entry is stored as. */
export function rowOf(n: Node): Row {
  return { inode: n.inode, parent: n.parent, version: n.version, writer: n.writer, mtime: n.mtime, type: n.type, name: n.name, data: n.data };
}

export class Tree {
  readonly root: Node;
  readonly byInode = new Map<number, Node>();
  /** global version: bumped by every change */
  version = 0;
  /** bytes of file data held */
  dataBytes = 0;
  /** entries held, the root excluded */
  count = 0;

  constructor() {
    this.root = { inode: ROOT_INODE, parent: ROOT_INODE, version: 0, writer: 0, mtime: 0, type: DT_DIR, name: '', data: null, children: new Map(), gen: 0 };
    this.byInode.set(ROOT_INODE, this.root);
  }

  get(inode: number): Node | undefined {
    return this.byInode.get(inode);
  }

  child(dir: Node, name: string): Node | undefined {
    return dir.children?.get(name);
  }

  /** Resolves a path relative to the root ('' or '/' is the root). */
  resolve(path: string): Node | undefined {
    let node: Node | undefined = this.root;
    for (const part of splitPath(path)) {
      if (!node || !node.children) return undefined;
      node = node.children.get(part);
    }
    return node;
  }

  pathOf(node: Node): string {
    const parts: string[] = [];
    let n: Node | undefined = node;
    while (n && n.inode !== ROOT_INODE) {
      parts.push(n.name);
      n = this.byInode.get(n.parent);
    }
    return parts.reverse().join('/');
  }

  /** True when `node` is `ancestor` or lies below it. */
  isWithin(node: Node, ancestor: Node): boolean {
    for (let n: Node | undefined = node; n; n = n.inode === ROOT_INODE ? undefined : this.byInode.get(n.parent)) {
      if (n === ancestor) return true;
    }
    return false;
  }

  /** Inserts a new row or replaces the entry with the same inode (moving it when parent or name changed). */
  put(row: Row): Node {
    const old = this.byInode.get(row.inode);
    if (old) {
      this.dataBytes += (row.data?.length ?? 0) - (old.data?.length ?? 0);
      if (old.parent !== row.parent || old.name !== row.name) {
        this.detach(old);
        old.parent = row.parent;
        old.name = row.name;
        this.attach(old);
      }
      old.version = row.version;
      old.writer = row.writer;
      old.mtime = row.mtime;
      if (old.type === DT_REG) old.data = row.data ?? Buffer.alloc(0);
      return old;
    }
    const node: Node = {
      inode: row.inode,
      parent: row.parent,
      version: row.version,
      writer: row.writer,
      mtime: row.mtime,
      type: row.type,
      name: row.name,
      data: row.type === DT_REG ? (row.data ?? Buffer.alloc(0)) : null,
      children: row.type === DT_DIR ? new Map() : null,
      gen: 0,
    };
    this.byInode.set(node.inode, node);
    this.count++;
    this.dataBytes += node.data?.length ?? 0;
    this.attach(node);
    return node;
  }

  /** Removes one entry (directories must be empty). */
  remove(inode: number): void {
    const node = this.byInode.get(inode);
    if (!node || node.inode === ROOT_INODE) return;
    this.detach(node);
    this.byInode.delete(inode);
    this.count--;
    this.dataBytes -= node.data?.length ?? 0;
  }

  private attach(node: Node): void {
    const parent = this.byInode.get(node.parent);
    if (!parent?.children) throw new Error(`tree: parent ${node.parent} of inode ${node.inode} is not a directory`);
    parent.children.set(node.name, node);
    parent.gen++;
  }

  private detach(node: Node): void {
    const parent = this.byInode.get(node.parent);
    if (parent?.children?.get(node.name) === node) {
      parent.children.delete(node.name);
      parent.gen++;
    }
  }
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

export function joinPath(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

export function dirname(path: string): string {
  const parts = splitPath(path);
  parts.pop();
  return parts.join('/');
}

export function basename(path: string): string {
  const parts = splitPath(path);
  return parts[parts.length - 1] ?? '';
}
