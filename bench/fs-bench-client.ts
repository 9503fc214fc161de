// Benchmark client: synchronous fs calls in a loop on a directory (inside a pmxcfs mount, or anywhere for a
// baseline). Runs in its own process (never in the daemon's). Prints one JSON object on stdout.
//
//   node dist/bench/fs-bench-client.js --dir DIR [--n 1000] [--readdirs 50] [--bigwrites 10]

import {
  closeSync,
  readdirSync as listDir,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { arg } from './args.js';

const dir = arg('--dir', '');
if (!dir) {
  process.stderr.write('usage: fs-bench-client --dir DIR [--n 1000] [--readdirs 50] [--bigwrites 10]\n');
  process.exit(2);
}
const N = Number(arg('--n', '1000'));
const READDIRS = Number(arg('--readdirs', '50'));
const BIGWRITES = Number(arg('--bigwrites', '10'));
/**
 * --daemon-cpu PID|FILE: also report the daemon's CPU time per operation (`cpu_<op>`, us): from a file holding ns
 * (a cpuacct cgroup's cpuacct.usage, exact, all threads ever), or from the schedstat of the process's live threads.
 */
const DAEMON_CPU = arg('--daemon-cpu', '');
const DAEMON_PID = DAEMON_CPU.startsWith('/') ? 0 : Number(DAEMON_CPU || '0');

function daemonNs(): number {
  if (DAEMON_CPU.startsWith('/')) return Number(readFileSync(DAEMON_CPU, 'utf8'));
  if (!DAEMON_PID) return 0;
  let ns = 0;
  for (const t of listDir(`/proc/${DAEMON_PID}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${DAEMON_PID}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* thread gone */
    }
  }
  return ns;
}

mkdirSync(dir, { recursive: true });
const name = (i: number) => join(dir, `f${String(i).padStart(5, '0')}.cfg`);
const names = Array.from({ length: N }, (_, i) => name(i));
const buf1 = Buffer.alloc(512, 'a');
const buf2 = Buffer.alloc(512, 'b');

function writeFile(p: string, data: Buffer): void {
  const fd = openSync(p, 'w');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
}

let cpuUs = 0;
/** ops per second of `count` operations done by fn (and in cpuUs the daemon's CPU us per operation) */
function rate(count: number, fn: () => void): number {
  const c0 = daemonNs();
  const t0 = process.hrtime.bigint();
  fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  cpuUs = (daemonNs() - c0) / 1e3 / count;
  return count / s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const out: Record<string, number> = {};

out.create = rate(N, () => {
  for (const p of names) writeFile(p, buf1);
});
out.cpu_create = cpuUs;
out.read = rate(N, () => {
  for (const p of names) readFileSync(p);
});
out.cpu_read = cpuUs;
out.stat = rate(N, () => {
  for (const p of names) statSync(p);
});
out.cpu_stat = cpuUs;
out.overwrite = rate(N, () => {
  for (const p of names) writeFile(p, buf2);
});
out.cpu_overwrite = cpuUs;
out.rename = rate(N, () => {
  for (const p of names) {
    const tmp = `${p}.tmp.${process.pid}`;
    writeFile(tmp, buf1);
    renameSync(tmp, p);
  }
});
out.cpu_rename = cpuUs;
{
  const times: number[] = [];
  const c0 = daemonNs();
  for (let i = 0; i < READDIRS; i++) {
    const t0 = process.hrtime.bigint();
    const list = readdirSync(dir);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (list.length !== N) throw new Error(`readdir saw ${list.length} entries, expected ${N}`);
  }
  out.readdir_ms = median(times);
  out.cpu_readdir = (daemonNs() - c0) / 1e3 / READDIRS;
}
out.unlink = rate(N, () => {
  for (const p of names) unlinkSync(p);
});
out.cpu_unlink = cpuUs;
out.mkdir_rmdir = rate(N, () => {
  for (let i = 0; i < N; i++) {
    const p = join(dir, `d${i}`);
    mkdirSync(p);
    rmdirSync(p);
  }
});
out.cpu_mkdir_rmdir = cpuUs;
if (BIGWRITES > 0) {
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
  const times: number[] = [];
  for (let i = 0; i < BIGWRITES; i++) {
    const p = join(dir, 'big.bin');
    const t0 = process.hrtime.bigint();
    writeFile(p, big);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  unlinkSync(join(dir, 'big.bin'));
  out.write1m_ms = median(times);
}
rmdirSync(dir);
process.stdout.write(JSON.stringify(out) + '\n');
