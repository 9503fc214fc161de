// Memory of a catch-up: node 1 holds a tree of N files of S bytes; nodes 2 (empty database) and 3 (an old database:
// the same paths with other content, so every entry differs) start and catch up. Prints each daemon's peak RSS
// (VmHWM) and RSS after the catch-up, next to the tree's content size.
//   node dist/bench/catchup-mem.js [--files 10000] [--size 4096]
import { readFileSync } from 'node:fs';
import { PveCluster } from '../test/helpers/cluster.js';
import { createOriginalDb, originalTree } from '../test/helpers/original-db.js';
import { cleanupAll } from './lib-daemon.js';
import { arg } from './args.js';

const files = Number(arg('--files', '10000'));
const size = Number(arg('--size', '4096'));

function kib(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const c = await PveCluster.create({ nodes: 3 });
  try {
    const conf = readFileSync(c.net.node(1).confPath, 'utf8');
    const tree = (fill: string) => {
      const out: Record<string, string> = { 'corosync.conf': conf };
      for (let i = 0; i < files; i++) out[`bulk/d${i % 100}/f${i}.cfg`] = `${i}\n`.padEnd(size, fill);
      return out;
    };
    createOriginalDb(c.node(1).state.db, originalTree('n1', tree('x')));
    createOriginalDb(c.node(3).state.db, originalTree('n1', tree('o'), 1_600_000_000));
    await c.startDaemon(1);
    await c.waitSynced([1], 60_000).catch(() => {}); // one node of three is not quorate: only the mount matters here
    const before = { rss: kib(c.daemon(1).pid, 'VmRSS') };
    await c.startDaemon(2);
    await c.startDaemon(3);
    await c.waitSynced([1, 2, 3], 120_000);
    const mib = (k: number) => (k / 1024).toFixed(1);
    console.log(`tree: ${files} files of ${size} B = ${mib((files * size) / 1024)} MiB of content; node 1 RSS before the others joined ${mib(before.rss)} MiB`);
    for (const [id, what] of [[1, 'leader (full tree)'], [2, 'empty database'], [3, 'old database, every entry differs']] as const) {
      const pid = c.daemon(id).pid;
      console.log(`node ${id} (${what}): peak RSS ${mib(kib(pid, 'VmHWM'))} MiB, RSS after ${mib(kib(pid, 'VmRSS'))} MiB`);
    }
  } finally {
    await c.destroy();
    await cleanupAll();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
