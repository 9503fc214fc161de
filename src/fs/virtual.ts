// The root's entries that are not stored: symlinks into this node's directory and files generated from the status
// at every open. Their names shadow stored entries of the same name.
import { constants as C } from 'node:fs';
import type { Attr } from '../fuse/backend.js';
import type { Status } from '../status/status.js';

export const WWW_DATA_GID = 33;
/** Far above any store inode (those are global versions). */
const VIRTUAL_BASE = 2 ** 40;

export interface Virtual {
  ino: number;
  name: string;
  kind: 'symlink' | 'generated';
  /** symlink target, relative to the root */
  target?: string;
  /** generated content */
  content?: () => Buffer;
  /** only `.debug` can be written */
  writable?: boolean;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v, null, 1) + '\n');

export class VirtualEntries {
  private readonly byName = new Map<string, Virtual>();
  private readonly byIno = new Map<number, Virtual>();

  constructor(private readonly status: Status) {
    const node = status.nodename;
    this.add({ name: 'local', kind: 'symlink', target: `nodes/${node}` });
    for (const type of ['qemu-server', 'lxc', 'openvz']) this.add({ name: type, kind: 'symlink', target: `nodes/${node}/${type}` });
    const gen = (name: string, content: () => Buffer, writable = false) => this.add({ name, kind: 'generated', content, writable });
    gen('.version', () => json(status.version()));
    gen('.members', () => json(status.members()));
    gen('.vmlist', () => json(status.vmlist()));
    gen('.clusterlog', () => json({ data: status.clusterlog.newest(50) }));
    gen('.rrd', () => Buffer.alloc(0));
    gen('.debug', () => Buffer.from(status.debug ? '1\n' : '0\n'), true);
  }

  private add(v: Omit<Virtual, 'ino'>): void {
    const full = { ...v, ino: VIRTUAL_BASE + this.byName.size };
    this.byName.set(v.name, full);
    this.byIno.set(full.ino, full);
  }

  named(name: string): Virtual | undefined {
    return this.byName.get(name);
  }

  get(ino: number): Virtual | undefined {
    return this.byIno.get(ino);
  }

  all(): IterableIterator<Virtual> {
    return this.byName.values();
  }

  /** Symlinks 0755, generated files 0440 (`.debug` 0640); without quorum the write bits go, like everywhere. */
  attr(v: Virtual, quorate: boolean): Attr {
    const ro = quorate ? 0 : 0o222;
    const t = this.status.starttime;
    if (v.kind === 'symlink') {
      return { ino: v.ino, mode: C.S_IFLNK | (0o755 & ~ro), nlink: 1, uid: 0, gid: WWW_DATA_GID, size: v.target!.length, mtime: t, atime: t, ctime: t };
    }
    const mode = C.S_IFREG | (v.writable ? 0o640 & ~ro : 0o440);
    const mtime = Math.floor(Date.now() / 1000);
    return { ino: v.ino, mode, nlink: 1, uid: 0, gid: WWW_DATA_GID, size: v.content!().length, mtime, atime: t, ctime: t };
  }
}
