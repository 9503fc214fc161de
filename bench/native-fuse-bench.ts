// Benchmark of the native FUSE backend alone, over the in-memory FsOps of the tests (test/helpers/memfs.ts).
//
//   npx tsc -p . && node dist/bench/native-fuse-bench.js [--runs 5] [--n 2000] [--cpu 0] [--client node|c]
//     [--no-flush] [--no-default-permissions] [--page-cache] [--prof DIR]
//
// For each regime (unpinned; daemon and client pinned together with `taskset -c CPU`, default 0) it starts the daemon in a child process,
// runs the client (bench/native-fuse-client.ts, another process) `runs` times and prints the medians, next to tmpfs
// measured by the same client. --prof writes a V8 CPU profile of the daemon (node --cpu-prof).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cClient } from './lib-cclient.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};

const CPU = opt('--cpu', '0');

type Result = Record<'create' | 'read' | 'stat' | 'rename' | 'readdirMs' | 'bigWriteMs', number>;

function wait(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`client exited ${code}: ${out}`))));
  });
}

/** --client c: the C client (compiled on first use with cc -O2 into the system temp dir), else the Node client */
async function clientCommand(): Promise<string[]> {
  if (opt('--client', 'node') !== 'c') return [process.execPath, join(here, 'native-fuse-client.js')];
  return [await cClient()];
}

async function client(pin: boolean, dir: string, tag: string, n: number): Promise<Result> {
  const cmd = [...(await clientCommand()), dir, tag, String(n)];
  const child = spawn(pin ? 'taskset' : cmd[0]!, pin ? ['-c', CPU, ...cmd] : cmd.slice(1), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(await wait(child)) as Result;
}

async function daemon(pin: boolean, dir: string): Promise<ChildProcess> {
  const extra = ['--no-flush', '--no-default-permissions', '--page-cache'].filter((a) => args.includes(a));
  const prof = args.includes('--prof') ? [`--cpu-prof`, `--cpu-prof-dir=${opt('--prof', '.')}`] : [];
  const cmd = [process.execPath, ...prof, fileURLToPath(import.meta.url), '--serve', dir, ...extra];
  const child = spawn(pin ? 'taskset' : cmd[0]!, pin ? ['-c', CPU, ...cmd] : cmd.slice(1), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`daemon exited ${code}`)));
  });
  return child;
}

function medians(rs: Result[]): Result {
  const out = {} as Result;
  for (const k of Object.keys(rs[0]!) as (keyof Result)[]) {
    const s = rs.map((r) => r[k]).sort((a, b) => a - b);
    out[k] = s[s.length >> 1]!;
  }
  return out;
}

function row(label: string, r: Result): string {
  const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
  return `| ${label} | ${k(r.create)} | ${k(r.read)} | ${k(r.stat)} | ${k(r.rename)} | ${r.readdirMs.toFixed(3)} | ${r.bigWriteMs.toFixed(2)} |`;
}

async function main(): Promise<void> {
  const runs = Number(opt('--runs', '5'));
  const n = Number(opt('--n', '2000'));
  const lines = [
    `| target (${n} files of 512 B, median of ${runs}, ${opt('--client', 'node')} client) | create+write+close /s | read /s | stat /s | tmp+rename /s | readdir 1000 (ms) | 1 MiB write (ms) |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const pin of [false, true]) {
    const regime = pin ? `pinned (taskset -c ${CPU})` : 'unpinned';
    const shm = await mkdtemp(join('/dev/shm', 'pmxfuse-bench-'));
    const t: Result[] = [];
    for (let i = 0; i < runs; i++) t.push(await client(pin, shm, `run${i}`, n));
    await rm(shm, { recursive: true, force: true });
    lines.push(row(`tmpfs, ${regime}`, medians(t)));

    const mnt = await mkdtemp(join(tmpdir(), 'pmxfuse-bench-'));
    const d = await daemon(pin, mnt);
    const f: Result[] = [];
    try {
      for (let i = 0; i < runs; i++) f.push(await client(pin, mnt, `run${i}`, n));
    } finally {
      d.kill('SIGTERM');
      await new Promise((r) => d.once('exit', r));
      await rm(mnt, { recursive: true, force: true });
    }
    const variant = ['--no-flush', '--no-default-permissions', '--page-cache'].filter((a) => args.includes(a)).join(' ');
    lines.push(row(`native backend${variant ? ` (${variant})` : ''}, ${regime}`, medians(f)));
    console.error(lines[lines.length - 1]);
  }
  console.log(lines.join('\n'));
}

// at the end: everything above must be initialized before main() runs
if (args[0] === '--serve') {
  // daemon mode: mount, say "ready", serve until SIGTERM
  const { NativeBackend } = await import('../src/fuse/native.js');
  const { MemFs } = await import('../test/helpers/memfs.js');
  const backend = new NativeBackend({ flush: !args.includes('--no-flush'), pageCache: args.includes('--page-cache') });
  await backend.mount(new MemFs(), { mountpoint: args[1]!, fsname: 'pmxfuse-bench', allowOther: !args.includes('--no-default-permissions'), debug: false });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void backend.unmount().then(() => process.exit(0));
  });
} else {
  await main();
}
