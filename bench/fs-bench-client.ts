// Benchmark client: synchronous fs calls in a loop on a directory (inside a pmxcfs mount, or anywhere for a
// baseline). Runs in its own process (never in the daemon's). Prints one JSON object on stdout.
//
//   node dist/bench/fs-bench-client.js --dir DIR [--n 1000] [--readdirs 50] [--bigwrites 10]

import {
  closeSync,
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

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const dir = arg('--dir', '');
if (!dir) {
  process.stderr.write('usage: fs-bench-client --dir DIR [--n 1000] [--readdirs 50] [--bigwrites 10]\n');
  process.exit(2);
}
const N = Number(arg('--n', '1000'));
const READDIRS = Number(arg('--readdirs', '50'));
const BIGWRITES = Number(arg('--bigwrites', '10'));

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

/** ops per second of `count` operations done by fn */
function rate(count: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
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
out.read = rate(N, () => {
  for (const p of names) readFileSync(p);
});
out.stat = rate(N, () => {
  for (const p of names) statSync(p);
});
out.overwrite = rate(N, () => {
  for (const p of names) writeFile(p, buf2);
});
out.rename = rate(N, () => {
  for (const p of names) {
    const tmp = `${p}.tmp.${process.pid}`;
    writeFile(tmp, buf1);
    renameSync(tmp, p);
  }
});
{
  const times: number[] = [];
  for (let i = 0; i < READDIRS; i++) {
    const t0 = process.hrtime.bigint();
    const list = readdirSync(dir);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (list.length !== N) throw new Error(`readdir saw ${list.length} entries, expected ${N}`);
  }
  out.readdir_ms = median(times);
}
out.unlink = rate(N, () => {
  for (const p of names) unlinkSync(p);
});
out.mkdir_rmdir = rate(N, () => {
  for (let i = 0; i < N; i++) {
    const p = join(dir, `d${i}`);
    mkdirSync(p);
    rmdirSync(p);
  }
});
{
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
