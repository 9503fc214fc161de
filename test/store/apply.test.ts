// The store's own rules, without FUSE: what every node relies on when it applies the same changes in the same order.
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/ops/apply.js';
import type { Op } from '../../src/ops/op.js';
import { checkRows } from '../../src/store/check.js';
import { Store } from '../../src/store/store.js';
import type { Row } from '../../src/store/tree.js';

function rows(store: Store): string {
  const out: string[] = [];
  for (const n of store.tree.byInode.values()) {
    out.push(JSON.stringify([n.inode, n.parent, n.version, n.writer, n.mtime, n.type, n.name, n.data?.toString('hex') ?? null]));
  }
  return out.sort().join('\n') + `\nversion ${store.tree.version}`;
}

/** A deterministic pseudo-random sequence of changes, valid and invalid alike. */
function* ops(seed: number, count: number): Generator<Op> {
  let x = seed;
  const rnd = (n: number) => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
  const names = ['a', 'b', 'c', 'nodes', 'nodes/n1', 'nodes/n1/qemu-server', 'nodes/n1/qemu-server/100.conf', 'nodes/n2', 'nodes/n2/qemu-server', 'nodes/n2/qemu-server/100.conf', 'a/x', 'b/y'];
  for (let i = 0; i < count; i++) {
    const path = names[rnd(names.length)]!;
    const mtime = 1_700_000_000 + i;
    switch (rnd(6)) {
      case 0: yield { kind: 'mkdir', path, mtime }; break;
      case 1: yield { kind: 'create', path, mtime, excl: rnd(2) === 0 }; break;
      case 2: yield { kind: 'write', path, data: Buffer.from(`content ${i}`), mtime }; break;
      case 3: yield { kind: rnd(2) ? 'unlink' : 'rmdir', path, mtime }; break;
      case 4: yield { kind: 'rename', from: path, to: names[rnd(names.length)]!, mtime }; break;
      default: yield { kind: 'mtime', path, mtime }; break;
    }
  }
}

describe('applying changes', () => {
  it('two nodes applying the same changes in the same order hold identical trees and results', () => {
    const one = Store.open(':memory:');
    const two = Store.open(':memory:');
    const results: [number, number][] = [];
    for (const op of ops(42, 2000)) results.push([apply(one, op, 1).errno, apply(two, op, 1).errno]);
    for (const [a, b] of results) expect(a).toBe(b);
    expect(results.some(([a]) => a === 0)).toBe(true);
    expect(results.some(([a]) => a !== 0)).toBe(true);
    expect(rows(one)).toBe(rows(two));
  });

  it('a refused change leaves the tree and the version as they were', () => {
    const s = Store.open(':memory:');
    apply(s, { kind: 'create', path: 'f', mtime: 1, excl: true }, 0);
    apply(s, { kind: 'write', path: 'f', data: Buffer.from('kept'), mtime: 2 }, 0);
    const before = rows(s);
    expect(apply(s, { kind: 'write', path: 'f', data: Buffer.alloc(1024 * 1024 + 1), mtime: 3 }, 0).errno).toBe(27); // EFBIG
    expect(apply(s, { kind: 'mkdir', path: 'f/sub', mtime: 3 }, 0).errno).toBe(20); // ENOTDIR
    expect(rows(s)).toBe(before);
  });

  it('a new entry takes the new global version as its inode', () => {
    const s = Store.open(':memory:');
    const v = s.tree.version;
    const r = apply(s, { kind: 'mkdir', path: 'd', mtime: 1 }, 0);
    expect(r.inode).toBe(v + 1);
    expect(s.tree.version).toBe(v + 1);
  });

  it('the database loads back into the same tree, and passes the start-up check', () => {
    const s = Store.open(':memory:');
    for (const op of ops(7, 500)) apply(s, op, 0);
    const loaded: Row[] = [...s.tree.byInode.values()]
      .filter((n) => n.inode !== 0)
      .map((n) => ({ inode: n.inode, parent: n.parent, version: n.version, writer: n.writer, mtime: n.mtime, type: n.type, name: n.name, data: n.data }));
    loaded.push({ inode: 0, parent: 0, version: s.tree.version, writer: 0, mtime: 0, type: 8, name: '__version__', data: null });
    expect(checkRows(loaded)).toEqual([]);
  });
});

describe('the start-up check names what is wrong', () => {
  const v = (version: number): Row => ({ inode: 0, parent: 0, version, writer: 0, mtime: 0, type: 8, name: '__version__', data: null });
  const dir = (inode: number, parent: number, name: string): Row => ({ inode, parent, version: inode, writer: 0, mtime: 0, type: 4, name, data: null });
  it('duplicate names, orphans, cycles and unknown types', () => {
    expect(checkRows([v(9), dir(1, 0, 'a'), dir(2, 0, 'a')]).join()).toMatch(/inode 2 .* and inode 1 share one name/);
    expect(checkRows([v(9), dir(1, 7, 'a')]).join()).toMatch(/inode 1 .* orphan/);
    expect(checkRows([v(9), dir(1, 2, 'a'), dir(2, 1, 'b')]).join()).toMatch(/cycle/);
    expect(checkRows([v(9), { ...dir(1, 0, 'a'), type: 6 as 4 }]).join()).toMatch(/unknown type 6/);
    expect(checkRows([dir(1, 0, 'a')]).join()).toMatch(/__version__/);
  });
});
