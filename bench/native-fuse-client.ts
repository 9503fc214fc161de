// Client half of bench/native-fuse-bench.ts: a separate process running tight loops of synchronous fs calls
// against a directory (a FUSE mount or tmpfs) and printing one JSON line of results.
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [root, tag, nArg] = process.argv.slice(2);
if (!root || !tag) throw new Error('usage: native-fuse-client DIR TAG [N]');
const N = Number(nArg ?? 2000);
const dir = join(root, tag);
mkdirSync(dir);
const small = Buffer.alloc(512, 97);
const big = Buffer.alloc(1 << 20, 98);
const names = Array.from({ length: N }, (_, i) => join(dir, `file-${i}.conf`));

function rate(fn: (i: number) => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  return N / (Number(process.hrtime.bigint() - t) / 1e9);
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const create = rate((i) => writeFileSync(names[i]!, small));
const read = rate((i) => readFileSync(names[i]!));
const stat = rate((i) => statSync(names[i]!));
mkdirSync(join(dir, 'tmp'));
const rename = rate((i) => {
  const tmp = join(dir, 'tmp', `.tmp-${i}`);
  writeFileSync(tmp, small);
  renameSync(tmp, join(dir, 'tmp', `r-${i}`));
});
// a directory of exactly 1000 entries
mkdirSync(join(dir, 'thousand'));
for (let i = 0; i < 1000; i++) writeFileSync(join(dir, 'thousand', `vm-${i}.conf`), small);
const rd: number[] = [];
for (let k = 0; k < 100; k++) {
  const t = process.hrtime.bigint();
  if (readdirSync(join(dir, 'thousand')).length !== 1000) throw new Error('readdir: wrong count');
  rd.push(Number(process.hrtime.bigint() - t) / 1e6);
}
const bw: number[] = [];
for (let k = 0; k < 20; k++) {
  const t = process.hrtime.bigint();
  writeFileSync(join(dir, `big-${k}`), big);
  bw.push(Number(process.hrtime.bigint() - t) / 1e6);
}
process.stdout.write(
  JSON.stringify({ create, read, stat, rename, readdirMs: median(rd), bigWriteMs: median(bw) }) + '\n',
);
