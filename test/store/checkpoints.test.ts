// The daemon's database connection does not checkpoint inside commits (that would hold up the FUSE reply with two
// fsyncs); a thread does it beside the writes. Nothing may be lost that way, and the WAL must not grow without end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TreeDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { DT_REG } from '../../src/store/tree.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'pmxcfs-ckpt-'));
  dirs.push(d);
  return join(d, 'config.db');
}

const size = (f: string): number => statSync(f, { throwIfNoEntry: false })?.size ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('checkpoints beside the writes', () => {
  it('6000 files written one change at a time: the WAL stays bounded, the database file fills, nothing is lost', async () => {
    const file = newFile();
    const db = new TreeDb(file, { backgroundCheckpoints: true });
    const data = Buffer.alloc(512, 'x');
    let maxWal = 0;
    for (let i = 1; i <= 6000; i++) {
      const inode = 1000 + i;
      db.commit([{ put: { inode, parent: 0, version: inode, writer: 1, mtime: i, type: DT_REG, name: `f${i}`, data } }], inode, 1, i);
      // the thread's answers arrive on the event loop, as between FUSE requests in the daemon
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      if (i % 100 === 0) maxWal = Math.max(maxWal, size(`${file}-wal`));
      // a thread that is still starting (a loaded machine) would see the whole WAL at once: wait for its first one
      if (i === 300) await vi.waitFor(() => expect(db.checkpoints?.thread).toBeGreaterThan(0), { timeout: 20_000, interval: 20 });
    }
    // more checkpoints ran, at the latest the idle one (2 s after the last commit or the last checkpoint)
    await vi.waitFor(() => expect(db.checkpoints?.thread).toBeGreaterThan(1), { timeout: 20_000, interval: 100 });
    await sleep(2500); // the idle checkpoint after the last one, if that one left commits behind
    expect(db.checkpoints, 'checkpoints ran in the thread').not.toBeNull();
    // 6000 x 512 B are in the database file itself, not only in the WAL
    expect(size(file)).toBeGreaterThan(3_000_000);
    // without restarts the WAL would hold every commit (2 pages each: ~50 MB); with them it stays near 8 MiB plus
    // what is written while one checkpoint of the thread runs (more on a loaded machine)
    expect(db.checkpoints!.finish).toBeGreaterThan(0);
    expect(maxWal).toBeLessThan(32 * 1024 * 1024);
    db.close();
    const store = Store.open(file);
    for (const i of [1, 2999, 6000]) expect(store.tree.resolve(`/f${i}`)?.data?.length).toBe(512);
    expect(store.tree.version).toBe(7000);
    store.close();
  }, 60_000);

  it('a checkpoint that failed is tried again after the writes stopped, without another commit', async (ctx) => {
    const file = newFile();
    const errors: string[] = [];
    const db = new TreeDb(file, { backgroundCheckpoints: true, onCheckpointError: (m) => errors.push(m) });
    const data = Buffer.alloc(512, 'x');
    const put = (i: number) =>
      db.commit([{ put: { inode: 1000 + i, parent: 0, version: 1000 + i, writer: 1, mtime: i, type: DT_REG, name: `f${i}`, data } }], 1000 + i, 1, i);
    put(1);
    await vi.waitFor(() => expect(db.checkpoints?.thread).toBe(1), { timeout: 20_000, interval: 50 });
    // The database file cannot be written (as on a full disk): commits still go into the WAL, checkpoints fail.
    if (spawnSync('chattr', ['+i', file]).status !== 0) {
      db.close();
      return ctx.skip('chattr +i does not work here (not ext4)');
    }
    try {
      for (let i = 2; i <= 20; i++) put(i);
      await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 20_000, interval: 50 });
      expect(errors[0]).toContain('WAL checkpoint failed');
    } finally {
      spawnSync('chattr', ['-i', file]);
    }
    // No commit follows: the idle timer tries again, and the WAL's pages reach the database file.
    const before = size(file);
    await vi.waitFor(() => expect(db.checkpoints?.thread).toBe(2), { timeout: 20_000, interval: 50 });
    expect(size(file)).toBeGreaterThan(before);
    expect(errors).toHaveLength(1);
    db.close();
  }, 60_000);

  it('without the option (tools, tests) SQLite checkpoints inside commits as before', () => {
    const db = new TreeDb(newFile());
    expect(db.checkpoints).toBeNull();
    db.close();
  });
});
