// Open file handles. Writes through a handle are buffered here and committed as one change at flush, fsync or
// release, so readers never see a half-written file and a file written in many small chunks costs one transaction.
import type { Node } from '../store/tree.js';
import type { PendingFile } from './pending.js';

export interface Handle {
  fh: number;
  /** the stored entry (kept even after unlink: reads of an unlinked open file still work) */
  node: Node | null;
  /** a file created through the kernel and not committed yet (node null until it is) */
  pending: PendingFile | undefined;
  /** this handle created the pending file: its close commits it, with what it wrote */
  creator: boolean;
  /** generated file: its name */
  generated: string | null;
  /**
   * What reads through this handle see while it has no pending writes: the content at open (or at this handle's
   * last commit). Committed Buffers are never modified, so a reader reading in chunks never mixes two versions.
   */
  base: Buffer;
  /** the process that opened it: only its own close() commits at flush (a forked child closing its copy does not) */
  pid: number;
  writable: boolean;
  append: boolean;
  /** pending content (valid bytes: `len`); null while nothing was written through this handle */
  buf: Buffer | null;
  len: number;
  /** a write went past a limit: the next flush reports it and nothing is committed */
  poisoned: number;
  /** write() was called since the last commit (a truncation alone waits for release) */
  wrote: boolean;
}

export class HandleTable {
  private readonly handles = new Map<number, Handle>();
  private next = 1;

  open(init: Omit<Handle, 'fh' | 'buf' | 'len' | 'poisoned' | 'wrote' | 'pending' | 'creator'> & { pending?: PendingFile; creator?: boolean }): Handle {
    // spelled out, not spread: one object shape for every handle, built without a generic copy
    const h: Handle = {
      fh: this.next++,
      node: init.node,
      pending: init.pending,
      creator: init.creator === true,
      generated: init.generated,
      base: init.base,
      pid: init.pid,
      writable: init.writable,
      append: init.append,
      buf: null,
      len: 0,
      poisoned: 0,
      wrote: false,
    };
    this.handles.set(h.fh, h);
    return h;
  }

  get(fh: number): Handle | undefined {
    return this.handles.get(fh);
  }

  close(fh: number): void {
    const h = this.handles.get(fh);
    if (h) this.clean(h);
    this.handles.delete(fh);
  }

  /** Starts buffering from `initial` (the committed content). */
  begin(h: Handle, initial: Buffer): void {
    if (h.buf) return;
    h.buf = Buffer.allocUnsafe(Math.max(4096, initial.length));
    initial.copy(h.buf);
    h.len = initial.length;
  }

  /** Writes into the pending content, zero-filling any gap. */
  write(h: Handle, data: Buffer, offset: number): void {
    const end = offset + data.length;
    this.reserve(h, end);
    if (offset > h.len) h.buf!.fill(0, h.len, offset);
    data.copy(h.buf!, offset);
    if (end > h.len) h.len = end;
    h.wrote = true;
  }

  truncate(h: Handle, size: number): void {
    this.reserve(h, size);
    if (size > h.len) h.buf!.fill(0, h.len, size);
    h.len = size;
  }

  /** The pending content, copied into a Buffer of its own (the op may outlive the handle). */
  pending(h: Handle): Buffer {
    return Buffer.from(h.buf!.subarray(0, h.len));
  }

  /** Forget pending writes (after a commit, or after a refused one: the file stays as it was). */
  clean(h: Handle): void {
    h.buf = null;
    h.len = 0;
    h.poisoned = 0;
    h.wrote = false;
  }

  private reserve(h: Handle, size: number): void {
    const buf = h.buf!;
    if (size <= buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(size, buf.length * 2));
    buf.copy(grown, 0, 0, h.len);
    h.buf = grown;
  }
}
