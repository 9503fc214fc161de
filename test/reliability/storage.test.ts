// Storage faults under a running daemon (docs/RELIABILITY.md "Storage faults"): the database's disk fills up, its
// file turns read-only, it is removed or replaced, an admin's sqlite3 holds its write lock. Each time the writer
// gets a clear errno (at open() for a new file: its create is a change; at close() for new content), the tree and the database stay as they were, the daemon logs it once, and writes work again
// without a restart once the cause is gone. A damaged database at start is refused with the file and rows named.
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, isMounted, makeStateDir, readTree, rowPaths, sleep, spawnDaemon, startDaemon, within, type Daemon, type StateDir } from '../helpers/daemon.js';

const mounts: string[] = [];
const daemons: Daemon[] = [];

afterEach(async () => {
  for (const d of daemons.splice(0)) await d.destroy();
  for (const m of mounts.splice(0).reverse()) {
    spawnSync('chattr', ['-R', '-i', m], { stdio: 'ignore' });
    spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  }
  await cleanupAll();
});

const BACKEND = 'native';

/** A state dir whose db/ is a small filesystem of its own: tmpfs (size=) or a loop-mounted ext4 image. */
function stateOn(kind: 'tmpfs' | 'ext4', sizeKiB: number): StateDir {
  const s = makeStateDir();
  const dbDir = join(s.dir, 'db');
  if (kind === 'tmpfs') {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'sect-db', dbDir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  } else {
    const img = join(s.dir, 'db.img');
    spawnSync('truncate', ['-s', `${sizeKiB}k`, img]);
    const mk = spawnSync('mkfs.ext4', ['-q', '-F', '-m', '0', img], { encoding: 'utf8' });
    if (mk.status !== 0) throw new Error(`mkfs.ext4: ${mk.stderr}`);
    const r = spawnSync('mount', ['-o', 'loop', img, dbDir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount loop: ${r.stderr}`);
  }
  mounts.push(dbDir);
  return s;
}

async function start(s: StateDir): Promise<Daemon> {
  const d = await startDaemon({ backend: BACKEND, dir: s.dir });
  daemons.push(d);
  return d;
}

/** Every entry under the mount (priv/ included) with a hash of its content. */
async function snapshot(d: Daemon): Promise<string> {
  const r = await d.py(`
import hashlib
out = []
for root, dirs, files in os.walk(${JSON.stringify(d.mnt)}):
    dirs.sort()
    rel = os.path.relpath(root, ${JSON.stringify(d.mnt)})
    dirs[:] = [x for x in dirs if not os.path.islink(os.path.join(root, x))]
    files = [f for f in files if not os.path.islink(os.path.join(root, f))]
    if rel == '.': files = [f for f in files if not f.startswith('.')]
    for f in sorted(files): out.append('%s/%s %s' % (rel, f, hashlib.sha1(R(os.path.join(root, f))).hexdigest()))
    for x in dirs: out.append('%s/%s/' % (rel, x))
print('\\n'.join(out))
`);
  expect(r.stderr).toBe('');
  return r.stdout;
}

/** The same from the database file (after the daemon stopped). */
function dbSnapshotPaths(db: string): string[] {
  return [...rowPaths(readTree(db)).entries()].map(([p, r]) => (r.type === 4 ? `${p}/` : `${p} ${createHash('sha1').update(r.data ?? Buffer.alloc(0)).digest('hex')}`)).sort();
}

function mountSnapshotPaths(snap: string): string[] {
  return snap.trim().split('\n').map((l) => l.replace(/^\.\//, '')).sort();
}

const writeFile = (d: Daemon, name: string, bytes: number, tag: string) =>
  d.py(`print(W(${JSON.stringify(join(d.mnt, name))}, (${JSON.stringify(tag)} * ${bytes})[:${bytes}]))`).then((r) => r.stdout.trim().replace(/^(open|write|close):/, ''));

const mkdir = (d: Daemon, name: string) => d.py(`print(E(os.mkdir, ${JSON.stringify(join(d.mnt, name))}))`).then((r) => r.stdout.trim());

const logLines = (d: Daemon, needle: string) => d.log().split('\n').filter((l) => l.includes(needle));

function integrity(db: string): string {
  const c = new Database(db, { fileMustExist: true });
  try {
    return String(c.pragma('integrity_check', { simple: true }));
  } finally {
    c.close();
  }
}

/** Fill the filesystem of `dir` completely with a file `fill`, then give back `freeBytes`. */
function fill(dir: string, freeBytes: number): void {
  const f = join(dir, 'fill');
  spawnSync('sh', ['-c', `dd if=/dev/zero of=${f} bs=4k status=none 2>/dev/null; sync`]);
  if (freeBytes > 0) {
    const size = Number(spawnSync('stat', ['-c', '%s', f], { encoding: 'utf8' }).stdout.trim());
    spawnSync('truncate', ['-s', String(Math.max(0, size - freeBytes)), f]);
  }
}

describe('storage faults', () => {
  it('disk full at each point of a commit: ENOSPC (not EIO), nothing changes, logged once; writes work again once space returns', async () => {
    const s = stateOn('tmpfs', 16384);
    const d = await start(s);
    const dbDir = join(s.dir, 'db');
    expect(await writeFile(d, 'before', 3000, 'b')).toBe('OK');
    let enospc = 0;
    let ok = 0;
    // every result while the disk is full, in order: the outage is logged once per stretch of refusals
    const seq: string[] = [];
    // Free 0, 1, 2, ... pages before writing a 300 KiB file (75 overflow pages, one WAL frame each): the commit runs
    // out of space at a different frame every time, or not at all.
    for (let pages = 0; pages <= 96; pages += 8) {
      // the file exists (empty) before the disk fills: the change under test is its content, one commit
      expect(await writeFile(d, `big${pages}`, 0, '')).toBe('OK');
      fill(dbDir, pages * 4096);
      const snap = await snapshot(d);
      const res = await writeFile(d, `big${pages}`, 300 * 1024, `p${pages}-`);
      seq.push(res);
      const snap2 = await snapshot(d);
      if (res === 'OK') {
        ok++;
        expect(snap2).not.toBe(snap);
      } else {
        expect(res, `with ${pages} pages free`).toBe('ENOSPC');
        enospc++;
        expect(snap2, 'a refused write changes nothing').toBe(snap);
      }
      // small changes in a full disk: a directory, a rename, a removal
      for (const [what, code] of [
        ['mkdir', `print(E(os.mkdir, 'd${pages}'))`],
        ['rename', `print(E(os.rename, 'before', 'before2') if os.path.exists('before') else E(os.rename, 'before2', 'before'))`],
      ] as const) {
        const r = (await d.py(`os.chdir(${JSON.stringify(d.mnt)})\n${code}`)).stdout.trim();
        seq.push(r);
        expect(['OK', 'ENOSPC'], `${what} with ${pages} pages free`).toContain(r);
      }
      spawnSync('rm', ['-f', join(dbDir, 'fill')]);
      expect((await d.sh(`rm -f ${d.mnt}/big*`)).code).toBe(0);
    }
    expect(enospc).toBeGreaterThan(0);
    // the outage is logged once per outage, never once per failed SQLite statement
    fill(dbDir, 0);
    // The WAL file may still have room (SQLite writes it from the start again once it was checkpointed, and
    // checkpoints run beside the writes): writes succeed until it is used up, then they are refused.
    const results: string[] = [];
    for (let i = 0; i < 100 && results.filter((r) => r === 'ENOSPC').length < 10; i++) {
      results.push(await writeFile(d, `full${i}`, 200 * 1024, 'f'));
    }
    seq.push(...results);
    for (const r of results) expect(['OK', 'ENOSPC']).toContain(r);
    expect(results.filter((r) => r === 'ENOSPC').length).toBe(10);
    // A small change can fit where a large one does not (the WAL's free room), so the daemon sees outages end and
    // start again within what the client sees as one stretch: at most one log line per refused request.
    const refusedRequests = seq.filter((r) => r === 'ENOSPC').length;
    spawnSync('rm', ['-f', join(dbDir, 'fill')]);
    const errorsBefore = logLines(d, 'filesystem is full').length;
    expect(await writeFile(d, 'after', 200 * 1024, 'a')).toBe('OK');
    expect(errorsBefore).toBeLessThanOrEqual(refusedRequests + 1);
    expect(errorsBefore).toBeGreaterThan(0);
    expect(logLines(d, 'writable again').length).toBe(errorsBefore);
    expect(d.log()).not.toContain('"errno":5');
    const last = await snapshot(d);
    expect(await d.stop()).toBe(0);
    // the database holds exactly what the mount showed, and SQLite finds it sound
    expect(dbSnapshotPaths(d.db)).toEqual(mountSnapshotPaths(last));
    expect(integrity(d.db)).toBe('ok');
    expect(ok).toBeGreaterThan(0);
  });

  it('a read-only database (immutable file): EROFS, reads go on, logged once; writable again without a restart', async () => {
    const s = stateOn('ext4', 16384);
    const d = await start(s);
    expect(await writeFile(d, 'a', 100, 'a')).toBe('OK');
    const snap = await snapshot(d);
    expect(spawnSync('chattr', ['+i', d.db, `${d.db}-wal`]).status).toBe(0);
    for (let i = 0; i < 5; i++) expect(await writeFile(d, `x${i}`, 5000, 'x')).toBe('EROFS');
    expect(await mkdir(d, 'dir')).toBe('EROFS');
    expect((await d.sh(`cat ${d.mnt}/a`)).stdout).toBe('a'.repeat(100));
    expect(await snapshot(d)).toBe(snap);
    expect(logLines(d, 'cannot be written').length).toBe(1);
    spawnSync('chattr', ['-i', d.db, `${d.db}-wal`]);
    expect(await writeFile(d, 'b', 100, 'b')).toBe('OK');
    expect(logLines(d, 'writable again').length).toBe(1);
    const last = await snapshot(d);
    expect(await d.stop()).toBe(0);
    expect(dbSnapshotPaths(d.db)).toEqual(mountSnapshotPaths(last));
  });

  for (const how of ['removed', 'replaced'] as const) {
    it(`the database ${how} under the running daemon: EIO, the tree stays, logged once; putting the file back clears it`, async () => {
      const d = await start(makeStateDir());
      expect(await writeFile(d, 'a', 100, 'a')).toBe('OK');
      const snap = await snapshot(d);
      const aside = `${d.db}.aside`;
      if (how === 'removed') {
        spawnSync('mv', [d.db, aside]);
      } else {
        // an admin copies another database over it (a new file at the same path)
        spawnSync('cp', [d.db, `${d.db}.other`]);
        spawnSync('mv', [d.db, aside]);
        spawnSync('mv', [`${d.db}.other`, d.db]);
      }
      for (let i = 0; i < 5; i++) expect(await writeFile(d, `x${i}`, 100, 'x')).toBe('EIO');
      expect(await mkdir(d, 'dir')).toBe('EIO');
      expect(await snapshot(d)).toBe(snap);
      expect(logLines(d, how === 'removed' ? 'was removed' : 'was replaced').length).toBe(1);
      spawnSync('mv', ['-f', aside, d.db]);
      expect(await writeFile(d, 'b', 100, 'b')).toBe('OK');
      expect(logLines(d, 'writable again').length).toBe(1);
      const last = await snapshot(d);
      expect(await d.stop()).toBe(0);
      expect(dbSnapshotPaths(d.db)).toEqual(mountSnapshotPaths(last));
    });
  }

  it("an admin's sqlite3 holding the write lock: EBUSY after a bounded wait, logged once; released, writes work", async () => {
    const d = await start(makeStateDir());
    expect(await writeFile(d, 'a', 100, 'a')).toBe('OK');
    const snap = await snapshot(d);
    const admin = spawn('sqlite3', [d.db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let said = '';
    admin.stdout.on('data', (b: Buffer) => (said += b.toString()));
    admin.stdin.write("BEGIN IMMEDIATE; INSERT INTO tree (inode, parent, version, writer, mtime, type, name) VALUES (999999, 0, 0, 0, 0, 8, 'admin'); SELECT 'locked';\n");
    const t0 = Date.now();
    while (!said.includes('locked') && Date.now() - t0 < 10_000) await sleep(20);
    expect(said).toContain('locked');
    const t1 = Date.now();
    for (let i = 0; i < 5; i++) expect(await writeFile(d, `x${i}`, 100, 'x')).toBe('EBUSY');
    expect(await mkdir(d, 'dir')).toBe('EBUSY');
    // reads are not held up
    expect((await d.sh(`cat ${d.mnt}/a`)).stdout).toBe('a'.repeat(100));
    expect(Date.now() - t1, 'each refused write waits a bounded time, not 5 s').toBeLessThan(6 * 2000);
    expect(await snapshot(d)).toBe(snap);
    expect(logLines(d, 'holds its write lock').length).toBe(1);
    admin.stdin.end('ROLLBACK;\n');
    await within(new Promise((r) => admin.on('close', r)), 10_000);
    expect(await writeFile(d, 'b', 100, 'b')).toBe('OK');
    expect(logLines(d, 'writable again').length).toBe(1);
    const last = await snapshot(d);
    expect(await d.stop()).toBe(0);
    expect(dbSnapshotPaths(d.db)).toEqual(mountSnapshotPaths(last));
  });
});

describe('a damaged database at start', () => {
  async function refusedStart(s: StateDir): Promise<string> {
    const dp = spawnDaemon({ backend: BACKEND, dir: s.dir });
    const code = await within(dp.exited, 20_000);
    expect(code).toBe(1);
    expect(isMounted(s.mnt)).toBe(false);
    return readFileSync(dp.logPath, 'utf8');
  }

  it('garbage bytes: refused, the message names the file; the file is left as it was', async () => {
    const s = makeStateDir();
    const junk = Buffer.alloc(8192);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) & 0xff;
    writeFileSync(s.db, junk);
    const err = await refusedStart(s);
    expect(err).toContain(`database ${s.db} is damaged`);
    expect(err).toContain('not an SQLite database');
    expect(err).toContain('Recovering the database');
    expect(readFileSync(s.db).equals(junk)).toBe(true);
  });

  it('a failed integrity check (a damaged b-tree page): refused, the message names the file and where reading stops', async () => {
    const s = makeStateDir();
    // a sound database of many rows, written by a daemon
    const d = await start(s);
    expect((await d.py(`
for i in range(300): W(${JSON.stringify(d.mnt)} + '/f%03d' % i, ('row %d ' % i) * 50)
print('ok')`)).stdout.trim()).toBe('ok');
    expect(await d.stop()).toBe(0);
    daemons.length = 0;
    const c = new Database(s.db);
    c.pragma('wal_checkpoint(TRUNCATE)');
    const pages = Number(c.pragma('page_count', { simple: true }));
    c.close();
    expect(pages).toBeGreaterThan(10);
    // scribble over a page in the middle (its header and cells)
    const buf = readFileSync(s.db);
    const page = Math.floor(pages / 2);
    for (let i = 0; i < 200; i++) buf[page * 4096 + i] = 0xa5;
    writeFileSync(s.db, buf);
    const err = await refusedStart(s);
    expect(err).toContain(`database ${s.db} is damaged`);
    expect(err).toMatch(/integrity check:|SQLite cannot read it|unreadable/);
  });
});
