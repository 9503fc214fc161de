// Persistence: restart keeps everything, SIGKILL loses no acknowledged change, damaged databases refuse to start,
// the database has the original's schema and version rules (docs/FILESYSTEM.md "Database").
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  autoCleanup,
  BACKENDS,
  createOriginalDb,
  DT_DIR,
  DT_REG,
  isMounted,
  makeStateDir,
  originalTree,
  PY_PRELUDE,
  PYTHON,
  readTree,
  rowPaths,
  spawnDaemon,
  startDaemon,
  within,
  type Daemon,
  type TreeRowInput,
} from '../helpers/daemon.js';

autoCleanup('each');

/** A listing of the stored tree as seen through the mount: type, mode, size, mtime and content hash of each entry. */
async function snapshot(d: Daemon): Promise<string> {
  const r = await d.sh(
    `cd ${d.mnt} && find nodes priv $(ls -A | grep -v -e '^\\.' -e '^nodes$' -e '^priv$' -e '^local$' -e '^qemu-server$' -e '^lxc$' -e '^openvz$') -printf '%p %y %m %U %G %s %T@\\n' | LC_ALL=C sort && find . -type f ! -name '.*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum`,
  );
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe.each(BACKENDS)('persistence (%s)', (backend) => {
  it('a restart on the same directory keeps every file, directory, mode, size and mtime', async () => {
    const d = await startDaemon({ backend });
    const setup = await d.sh(
      [
        `cd ${d.mnt}`,
        `printf 'cores: 2\\n' > nodes/pve1/qemu-server/100.conf`,
        `printf 'arch: amd64\\n' > nodes/pve1/lxc/101.conf`,
        `printf 'secret' > priv/authkey.key`,
        `mkdir -p firewall/sub sdn`,
        `head -c 100000 /dev/urandom > firewall/sub/blob`,
        `printf 'user:root@pam:1:0:::\\n' > user.cfg`,
        `touch -d @1500000000 user.cfg`,
        `: > empty.cfg`,
        `mkdir priv/lock/held`,
        `printf 'x' > nodes/pve1/priv/key && rm nodes/pve1/priv/key`,
      ].join(' && '),
    );
    expect(setup.code, setup.stderr).toBe(0);
    const before = await snapshot(d);
    const vmlist1 = JSON.parse((await d.sh(`cat ${d.mnt}/.vmlist`)).stdout) as { ids: unknown };
    expect(await d.stop()).toBe(0);
    expect(isMounted(d.mnt)).toBe(false);
    const d2 = await startDaemon({ backend, dir: d.dir });
    expect(await snapshot(d2)).toBe(before);
    const vmlist2 = JSON.parse((await d2.sh(`cat ${d2.mnt}/.vmlist`)).stdout) as { ids: unknown };
    expect(vmlist2.ids).toEqual(vmlist1.ids);
    // a held lock is still held after the restart
    expect((await d2.py(`print(E(os.mkdir, ${JSON.stringify(d2.mnt + '/priv/lock/held')}))`)).stdout.trim()).toBe('EEXIST');
  });

  it('SIGKILL during a write loop loses no acknowledged file; the next start clears the stale mount', async () => {
    const d = await startDaemon({ backend });
    // a child writing numbered files; each is printed only after its close() returned
    const writer = spawn(
      PYTHON,
      [
        '-c',
        PY_PRELUDE +
          `
os.chdir(${JSON.stringify(d.mnt)})
os.mkdir('loop')
i = 0
while True:
    i += 1
    try:
        fd = os.open('loop/f%05d' % i, os.O_WRONLY|os.O_CREAT|os.O_TRUNC)
        os.write(fd, ('file %d\\n' % i).encode() * 20)
        os.close(fd)
    except OSError as e:
        print('error', errno.errorcode.get(e.errno), flush=True)
        break
    print(i, flush=True)
`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const acked = new Set<number>();
    writer.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) if (/^\d+$/.test(l)) acked.add(Number(l));
    });
    const writerExit = new Promise<void>((res) => writer.on('exit', () => res()));
    // let it write a while, then kill the daemon in the middle of it
    const t0 = Date.now();
    while (acked.size < 150 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
    expect(acked.size).toBeGreaterThan(0);
    await d.kill('SIGKILL');
    if ((await within(writerExit, 10_000)) === undefined) writer.kill('SIGKILL');
    await writerExit;
    const ackedNow = new Set(acked);
    // Let the kernel's cached attributes of the dead mount expire (1 s) so that this test checks the data; starting
    // at once after the kill is cli.test.ts's "after SIGKILL the next start clears the stale mount".
    await new Promise((r) => setTimeout(r, 1500));
    // the mount is stale now ("Transport endpoint is not connected") unless auto_unmount cleared it; the next
    // start must clear it either way
    const d2 = await startDaemon({ backend, dir: d.dir });
    const r = await d2.py(`
os.chdir(${JSON.stringify(d2.mnt + '/loop')})
bad = []
for n in sorted(os.listdir('.')):
    i = int(n[1:])
    c = R(n)
    if c != (('file %d\\n' % i).encode() * 20): bad.append([n, len(c)])
print(json.dumps({'names': sorted(os.listdir('.')), 'bad': bad}))
`);
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout) as { names: string[]; bad: [string, number][] };
    const present = new Set(res.names.map((n) => Number(n.slice(1))));
    const lost = [...ackedNow].filter((i) => !present.has(i));
    expect(lost, 'acknowledged files lost').toEqual([]);
    // every acknowledged file has its full content
    expect(res.bad.filter(([n]) => ackedNow.has(Number(n.slice(1))))).toEqual([]);
    // an unacknowledged one may be absent, empty (created, content not yet committed) or complete, never partial
    expect(res.bad.filter(([, len]) => len !== 0)).toEqual([]);
    // and it keeps working
    expect((await d2.sh(`echo ok > ${d2.mnt}/loop/after && cat ${d2.mnt}/loop/after`)).stdout).toBe('ok\n');
    expect(await d2.stop()).toBe(0);
  });

  describe('the database', () => {
    it('has the original schema; inode of a new entry == the new global version; __version__ bumps by one per change; writer 0; mtime in seconds', async () => {
      const d = await startDaemon({ backend });
      const dbNow = () => {
        const db = new Database(d.db, { readonly: true, fileMustExist: true });
        try {
          const rows = db.prepare('SELECT inode, parent, version, writer, mtime, type, name, data FROM tree').all() as TreeRowInput[];
          return { rows, v: rows.find((x) => x.inode === 0)!, byPath: rowPaths(rows) };
        } finally {
          db.close();
        }
      };
      const s0 = dbNow();
      expect(s0.v).toMatchObject({ inode: 0, parent: 0, name: '__version__', type: DT_REG, writer: 0 });
      const v0 = s0.v.version;
      expect(v0).toBeGreaterThanOrEqual(Math.max(...s0.rows.map((x) => x.version)));

      const t = Math.floor(Date.now() / 1000);
      expect((await d.sh(`mkdir ${d.mnt}/dirA`)).code).toBe(0);
      const s1 = dbNow();
      const dirA = s1.byPath.get('dirA')!;
      expect(dirA).toMatchObject({ parent: 0, type: DT_DIR, writer: 0, data: null });
      expect(dirA.inode).toBe(v0 + 1);
      expect(dirA.version).toBe(v0 + 1);
      expect(s1.v.version).toBe(v0 + 1);
      expect(Math.abs(dirA.mtime - t)).toBeLessThan(60);
      expect(Number.isInteger(dirA.mtime)).toBe(true);

      // create + write + close of a new file: the entry's inode is the version at its creation
      expect((await d.py(`print(W(${JSON.stringify(d.mnt + '/dirA/f.cfg')}, 'hello'))`)).stdout.trim()).toBe('OK');
      const s2 = dbNow();
      const f = s2.byPath.get('dirA/f.cfg')!;
      expect(f).toMatchObject({ parent: dirA.inode, type: DT_REG, writer: 0 });
      expect(Buffer.from(f.data!).toString()).toBe('hello');
      expect(f.inode).toBeGreaterThan(v0 + 1);
      expect(f.inode).toBeLessThanOrEqual(s2.v.version);
      expect(f.version).toBe(s2.v.version);
      const v2 = s2.v.version;

      // an overwrite (O_TRUNC + write + close) is one change
      expect((await d.py(`print(W(${JSON.stringify(d.mnt + '/dirA/f.cfg')}, 'bye'))`)).stdout.trim()).toBe('OK');
      const s3 = dbNow();
      expect(s3.v.version).toBe(v2 + 1);
      expect(s3.byPath.get('dirA/f.cfg')).toMatchObject({ inode: f.inode, version: v2 + 1 });
      expect(Buffer.from(s3.byPath.get('dirA/f.cfg')!.data!).toString()).toBe('bye');

      // a rename is one change, the inode stays
      expect((await d.sh(`mv ${d.mnt}/dirA/f.cfg ${d.mnt}/g.cfg`)).code).toBe(0);
      const s4 = dbNow();
      expect(s4.v.version).toBe(v2 + 2);
      expect(s4.byPath.get('g.cfg')).toMatchObject({ inode: f.inode, parent: 0, version: v2 + 2 });
      expect(s4.byPath.has('dirA/f.cfg')).toBe(false);

      // utime is one change with mtime in seconds
      expect((await d.sh(`touch -d @1400000000 ${d.mnt}/g.cfg`)).code).toBe(0);
      const s5 = dbNow();
      expect(s5.v.version).toBe(v2 + 3);
      expect(s5.byPath.get('g.cfg')).toMatchObject({ mtime: 1400000000, version: v2 + 3 });

      // unlink: the row goes, the version bumps
      expect((await d.sh(`rm ${d.mnt}/g.cfg && rmdir ${d.mnt}/dirA`)).code).toBe(0);
      const s6 = dbNow();
      expect(s6.v.version).toBe(v2 + 5);
      expect(s6.rows.some((x) => x.inode === f.inode || x.inode === dirA.inode)).toBe(false);

      expect(await d.stop()).toBe(0);
      const db = new Database(d.db, { readonly: true });
      try {
        const cols = db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info('tree')").all();
        expect(cols).toEqual([
          { name: 'inode', type: 'INTEGER', notnull: expect.any(Number), pk: 1 },
          { name: 'parent', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'version', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'writer', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'mtime', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'type', type: 'INTEGER', notnull: 1, pk: 0 },
          { name: 'name', type: 'TEXT', notnull: 1, pk: 0 },
          { name: 'data', type: 'BLOB', notnull: 0, pk: 0 },
        ]);
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        const all = db.prepare('SELECT * FROM tree').all() as TreeRowInput[];
        for (const row of all) {
          expect(row.writer).toBe(0);
          expect([DT_DIR, DT_REG]).toContain(row.type);
          expect(Number.isInteger(row.mtime)).toBe(true);
        }
        // nodes/NAME/... are stored, with parents chaining to the root (parent 0)
        const paths = rowPaths(all);
        for (const p of ['nodes', 'nodes/pve1', 'nodes/pve1/qemu-server', 'nodes/pve1/lxc', 'nodes/pve1/priv', 'priv', 'priv/lock']) {
          expect(paths.get(p)?.type, p).toBe(DT_DIR);
        }
        // generated files and symlinks are not stored
        for (const n of ['.version', '.members', '.vmlist', '.clusterlog', '.debug', '.rrd', 'local', 'qemu-server', 'lxc', 'openvz']) {
          expect(paths.has(n), n).toBe(false);
        }
      } finally {
        db.close();
      }
    });

    it('a database written in the original schema opens, and its files appear with their content and mtimes', async () => {
      const sd = makeStateDir();
      const rows = originalTree('pve1', {
        'nodes/pve1/qemu-server/100.conf': 'cores: 4\nmemory: 4096\n',
        'nodes/pve2/lxc/200.conf': 'arch: amd64\n',
        'storage.cfg': 'dir: local\n\tpath /var/lib/vz\n',
        'priv/authkey.key': 'KEY',
        'firewall/cluster.fw': '[OPTIONS]\nenable: 1\n',
      });
      createOriginalDb(sd.db, rows);
      const maxVersion = rows[0]!.version;
      const d = await startDaemon({ backend, dir: sd.dir });
      const r = await d.sh(
        `cd ${d.mnt} && cat nodes/pve1/qemu-server/100.conf nodes/pve2/lxc/200.conf storage.cfg priv/authkey.key firewall/cluster.fw && stat -c '%Y %a' storage.cfg priv/authkey.key`,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(
        'cores: 4\nmemory: 4096\narch: amd64\ndir: local\n\tpath /var/lib/vz\nKEY[OPTIONS]\nenable: 1\n1700000000 640\n1700000000 600\n',
      );
      const vmlist = JSON.parse((await d.sh(`cat ${d.mnt}/.vmlist`)).stdout) as { ids: Record<string, { node: string; type: string }> };
      expect(vmlist.ids['100']).toMatchObject({ node: 'pve1', type: 'qemu' });
      expect(vmlist.ids['200']).toMatchObject({ node: 'pve2', type: 'lxc' });
      // versions continue from the database's
      expect((await d.sh(`echo new > ${d.mnt}/new.cfg`)).code).toBe(0);
      expect(await d.stop()).toBe(0);
      const after = readTree(sd.db);
      const byPath = rowPaths(after);
      const v = after.find((x) => x.inode === 0)!;
      expect(v.name).toBe('__version__');
      expect(v.version).toBeGreaterThan(maxVersion);
      expect(byPath.get('new.cfg')!.inode).toBeGreaterThan(maxVersion);
      // the original rows are untouched
      for (const row of rows) {
        if (row.inode === 0) continue;
        const now = after.find((x) => x.inode === row.inode);
        expect(now, row.name).toBeDefined();
        expect({ ...now, data: now!.data ? Buffer.from(now!.data) : null }).toEqual({ ...row, writer: 0, data: row.data ?? null });
      }
    });

    it('an original database without this node\'s directories gets them at start', async () => {
      const sd = makeStateDir();
      createOriginalDb(sd.db, originalTree('other', { 'nodes/other/qemu-server/300.conf': 'cores: 1\n' }));
      const d = await startDaemon({ backend, dir: sd.dir, nodename: 'pve9' });
      const r = await d.sh(`cd ${d.mnt} && ls nodes && test -d nodes/pve9/qemu-server && test -d nodes/pve9/lxc && test -d nodes/pve9/priv && readlink local && cat nodes/other/qemu-server/300.conf`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('other\npve9\nnodes/pve9\ncores: 1\n');
    });

    const damaged: { name: string; rows: () => TreeRowInput[]; mention: RegExp[] }[] = [
      {
        name: 'duplicate names in one directory',
        rows: () => {
          const r = originalTree('pve1');
          const v = r[0]!.version;
          r.push({ inode: 777001, parent: 0, version: v, mtime: 1, type: DT_REG, name: 'dup.cfg', data: Buffer.from('a') });
          r.push({ inode: 777002, parent: 0, version: v, mtime: 1, type: DT_REG, name: 'dup.cfg', data: Buffer.from('b') });
          return r;
        },
        mention: [/777001|0*BDB29\b/i, /777002|0*BDB2A\b/i],
      },
      {
        name: 'an orphan (missing parent)',
        rows: () => {
          const r = originalTree('pve1');
          r.push({ inode: 888001, parent: 999999, version: r[0]!.version, mtime: 1, type: DT_REG, name: 'orphan.cfg', data: Buffer.from('x') });
          return r;
        },
        mention: [/888001|999999|0*D8E21\b|0*F423F\b/i],
      },
      {
        name: 'a cycle',
        rows: () => {
          const r = originalTree('pve1');
          r.push({ inode: 555001, parent: 555002, version: r[0]!.version, mtime: 1, type: DT_DIR, name: 'a' });
          r.push({ inode: 555002, parent: 555001, version: r[0]!.version, mtime: 1, type: DT_DIR, name: 'b' });
          return r;
        },
        mention: [/555001|555002|0*87819\b|0*8781A\b/i],
      },
      {
        name: 'an unknown type',
        rows: () => {
          const r = originalTree('pve1');
          r.push({ inode: 666001, parent: 0, version: r[0]!.version, mtime: 1, type: 10, name: 'weird' });
          return r;
        },
        mention: [/666001|0*A2981\b/i],
      },
      {
        name: 'a file under a file',
        rows: () => {
          const r = originalTree('pve1');
          r.push({ inode: 444001, parent: 0, version: r[0]!.version, mtime: 1, type: DT_REG, name: 'plain', data: Buffer.from('p') });
          r.push({ inode: 444002, parent: 444001, version: r[0]!.version, mtime: 1, type: DT_REG, name: 'child', data: Buffer.from('c') });
          return r;
        },
        mention: [/444001|444002|0*6C5E1\b|0*6C5E2\b/i],
      },
      {
        name: 'a missing __version__ row',
        rows: () => originalTree('pve1', { 'x.cfg': 'x' }).filter((x) => x.inode !== 0),
        mention: [/__version__/],
      },
    ];
    for (const c of damaged) {
      it(`a database with ${c.name} refuses to start (exit 1, message naming the rows), nothing mounted`, async () => {
        const sd = makeStateDir();
        createOriginalDb(sd.db, c.rows());
        const dp = spawnDaemon({ backend, dir: sd.dir });
        const code = await within(dp.exited, 20_000);
        const stderr = readFileSync(dp.logPath, 'utf8');
        if (code === undefined) dp.child.kill('SIGKILL');
        expect(code, `daemon did not exit; stderr: ${stderr}`).toBeDefined();
        expect(code).toBe(1);
        for (const m of c.mention) expect(stderr).toMatch(m);
        expect(isMounted(sd.mnt)).toBe(false);
        expect(existsSync(sd.db)).toBe(true);
      });
    }
  });
});
