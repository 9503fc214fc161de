// Start-up time and resident memory with a large tree: 10,000 files of 4 KiB (100 directories of 100), the shape of
// a big cluster's configuration. Start-up = `pmxcfs -l` (which returns once the mount answers): open the database,
// check and load the tree, mount. Memory = VmRSS of the daemon after start, and after every file was read once.
//
//   npx tsc -p . && node dist/bench/startup-bench.js [--runs 5] [--files 10000] [--backends native,fuse-native]
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { availableBackends, DAEMON_JS, forceUnmount, makeStateDir, run, sleep } from './lib-daemon.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const RUNS = Number(opt('--runs', '5'));
const FILES = Number(opt('--files', '10000'));
const BACKENDS = opt('--backends', availableBackends().join(',')).split(',');

/** Writes the tree straight into a database in the original's schema (what a long-running cluster leaves). */
function buildDb(path: string, files: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE tree (inode INTEGER PRIMARY KEY, parent INTEGER NOT NULL, version INTEGER NOT NULL,
    writer INTEGER NOT NULL, mtime INTEGER NOT NULL, type INTEGER NOT NULL, name TEXT NOT NULL, data BLOB)`);
  const ins = db.prepare(`INSERT INTO tree VALUES (?, ?, ?, 0, ?, ?, ?, ?)`);
  const mtime = Math.floor(Date.now() / 1000);
  let v = 0;
  db.transaction(() => {
    const dir = (parent: number, name: string) => (ins.run(++v, parent, v, mtime, 4, name, null), v);
    const nodes = dir(0, 'nodes');
    const node = dir(nodes, 'pve1');
    for (const d of ['qemu-server', 'lxc', 'priv']) dir(node, d);
    const priv = dir(0, 'priv');
    dir(priv, 'lock');
    const data = Buffer.alloc(4096, 'x');
    const perDir = 100;
    let d = 0;
    for (let i = 0; i < files; i++) {
      if (i % perDir === 0) d = dir(0, `dir${i / perDir}`);
      ins.run(++v, d, v, mtime, 8, `file${i}.cfg`, data);
    }
    ins.run(0, 0, v, mtime, 8, '__version__', null);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function once(backend: string): Promise<{ startMs: number; rss: number; rssRead: number }> {
  const sd = makeStateDir();
  buildDb(sd.db, FILES);
  const t0 = process.hrtime.bigint();
  // without -f, pmxcfs returns once the mount answers; its detached daemon keeps stderr, so ours is not shared
  const code = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, [DAEMON_JS, '-l', '--mount', sd.mnt, '--db', sd.db, '--run-dir', sd.run, '--nodename', 'pve1', '--fuse', backend], {
      stdio: 'ignore',
    }).on('exit', resolve),
  );
  if (code !== 0) throw new Error(`pmxcfs exited ${code}`);
  const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const pid = Number(readFileSync(`${sd.run}/pmxcfs.pid`, 'utf8'));
  await sleep(200);
  const rss = rssMiB(pid);
  const r = await run(['sh', '-c', `cat ${sd.mnt}/dir*/* | wc -c`], { timeout: 120_000 });
  if (Number(r.stdout.trim()) !== FILES * 4096) throw new Error(`read ${r.stdout.trim()} bytes, expected ${FILES * 4096}`);
  const rssRead = rssMiB(pid);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await sleep(50);
  }
  forceUnmount(sd.mnt);
  rmSync(sd.dir, { recursive: true, force: true });
  return { startMs, rss, rssRead };
}

async function main(): Promise<void> {
  console.log(`${FILES} files of 4 KiB, median of ${RUNS} runs`);
  console.log('| backend | start-up (open, check, load, mount) ms | RSS after start MiB | RSS after reading every file MiB |');
  console.log('|---|---:|---:|---:|');
  for (const backend of BACKENDS) {
    const rs: Awaited<ReturnType<typeof once>>[] = [];
    for (let i = 0; i < RUNS; i++) rs.push(await once(backend));
    const f = (k: 'startMs' | 'rss' | 'rssRead') => median(rs.map((r) => r[k])).toFixed(k === 'startMs' ? 0 : 1);
    console.log(`| ${backend} | ${f('startMs')} | ${f('rss')} | ${f('rssRead')} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
