// Start and stop the pmxcfs daemon as a separate process on a throw-away state directory.
//
// Shared by the black-box tests (test/helpers/daemon.ts) and the benchmark (bench/fs-bench.ts). Nothing here
// touches the mount synchronously from this process except /proc/self/mountinfo reads: every probe of the mount
// itself runs in a child process, so a hung daemon can never hang the caller.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this module holding package.json (works from bench/ and dist/bench/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pmxcfs-ts') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (package.json of pmxcfs-ts) not found');
    dir = up;
  }
}

export const ROOT = repoRoot();
/** dist/src/cli/pmxcfs.js while tsconfig's rootDir is "."; dist/cli/pmxcfs.js (package.json "bin") otherwise */
export const DAEMON_JS =
  [join(ROOT, 'dist', 'src', 'cli', 'pmxcfs.js'), join(ROOT, 'dist', 'cli', 'pmxcfs.js')].find((p) => existsSync(p)) ??
  join(ROOT, 'dist', 'src', 'cli', 'pmxcfs.js');

/** Backends to exercise: fuse-native always, native when its addon has been built. */
export function availableBackends(): string[] {
  const out = ['fuse-native'];
  const rel = join(ROOT, 'native', 'fuse', 'build', 'Release');
  try {
    if (readdirSync(rel).some((f) => f.endsWith('.node'))) out.push('native');
  } catch {
    /* not built */
  }
  return out;
}

export const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface StateDir {
  dir: string;
  mnt: string;
  db: string;
  run: string;
}

const ownedDirs = new Set<string>();
const liveProcs = new Map<number, ChildProcess>();
const mountsSeen = new Set<string>();

export function statePaths(dir: string): StateDir {
  return { dir, mnt: join(dir, 'mnt'), db: join(dir, 'db', 'config.db'), run: join(dir, 'run') };
}

/** A fresh temp dir `pmxcfs-test-XXXX` with mnt/, db/, run/ (0755 so www-data can reach the mount). */
export function makeStateDir(): StateDir {
  const dir = mkdtempSync(join(tmpdir(), 'pmxcfs-test-'));
  chmodSync(dir, 0o755);
  ownedDirs.add(dir);
  const p = statePaths(dir);
  mkdirSync(p.mnt, { mode: 0o755 });
  mkdirSync(dirname(p.db), { mode: 0o755 });
  mkdirSync(p.run, { mode: 0o755 });
  return p;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount ids (first field of /proc/self/mountinfo) of the mounts on `mnt`, oldest first. */
export function mountIds(mnt: string): string[] {
  const abs = resolve(mnt);
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && unescapeMountinfo(f[4]!) === abs) out.push(f[0]!);
  }
  return out;
}

/** Is `mnt` a mount point right now (per /proc/self/mountinfo)? */
export function isMounted(mnt: string): boolean {
  return mountIds(mnt).length > 0;
}

/** Lazy-unmount `mnt` while it is mounted (stale mounts of killed daemons included). */
export function forceUnmount(mnt: string): void {
  for (let i = 0; i < 5 && isMounted(mnt); i++) {
    const r = spawnSync('fusermount3', ['-uz', mnt], { stdio: 'ignore', timeout: 10_000 });
    if (r.status !== 0 && isMounted(mnt)) spawnSync('umount', ['-l', mnt], { stdio: 'ignore', timeout: 10_000 });
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  user?: 'www-data' | 'root';
  /** ms; the child is killed (SIGKILL) after it, and code is 124 */
  timeout?: number;
  input?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
}

/** Exit code as a number: signals map to 128 + signo (like a shell). */
export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const signos: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return 128 + (signal ? (signos[signal] ?? 64) : 0);
}

/** Run argv in a child process (as www-data through setpriv when asked), collecting its output. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full =
    opts.user === 'www-data'
      ? ['setpriv', '--reuid=33', '--regid=33', '--clear-groups', '--', ...argv]
      : argv;
  const env: Record<string, string> = {
    PATH: CHILD_PATH,
    LANG: 'C.UTF-8',
    HOME: opts.user === 'www-data' ? '/tmp' : '/root',
    TERM: 'dumb',
    ...opts.env,
  };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(full[0]!, full.slice(1), { cwd: opts.cwd ?? '/', env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeout ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code: timedOut ? 124 : exitCode(code, signal),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (timedOut ? '\n[killed after timeout]' : ''),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export function sh(cmd: string, opts: RunOptions = {}): Promise<RunResult> {
  return run(['bash', '-c', cmd], opts);
}

/**
 * Python prelude for precise syscalls: `E(fn, *args)` returns 'OK' or the errno name (e.g. 'EACCES');
 * `W(path, data, flags)` writes a whole file and returns the errno name of the first failing step or 'OK'.
 */
export const PY_PRELUDE = `
import os, sys, errno, json, stat, time
def E(f, *a, **k):
    try:
        f(*a, **k)
        return 'OK'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def W(path, data, flags=os.O_WRONLY|os.O_CREAT|os.O_TRUNC, mode=0o640):
    if isinstance(data, str): data = data.encode()
    try:
        fd = os.open(path, flags, mode)
    except OSError as e:
        return 'open:' + errno.errorcode.get(e.errno, str(e.errno))
    try:
        off = 0
        while off < len(data):
            off += os.write(fd, data[off:off+65536])
    except OSError as e:
        try: os.close(fd)
        except OSError: pass
        return 'write:' + errno.errorcode.get(e.errno, str(e.errno))
    try:
        os.close(fd)
    except OSError as e:
        return 'close:' + errno.errorcode.get(e.errno, str(e.errno))
    return 'OK'
def R(path):
    with open(path, 'rb') as f: return f.read()
`;

export function py(code: string, opts: RunOptions = {}): Promise<RunResult> {
  return run([PYTHON, '-c', PY_PRELUDE + '\n' + code], opts);
}

export interface DaemonOptions {
  backend?: string;
  env?: Record<string, string>;
  nodename?: string;
  /** reuse an existing state dir (restart) */
  dir?: string;
  /** override the mount point (default DIR/mnt) */
  mnt?: string;
  /** override the database path (default DIR/db/config.db) */
  db?: string;
  /** run the daemon under `taskset -c CPU` */
  cpu?: string;
  /** extra CLI arguments */
  args?: string[];
  /** ms to wait for the mount (default 10 s) */
  timeout?: number;
  /** cluster mode: no `-l` */
  cluster?: boolean;
  /** command run before the daemon's own (e.g. nsenter into a test node's network namespace) */
  prefix?: string[];
}

export interface Daemon extends StateDir {
  pid: number;
  backend: string;
  nodename: string;
  logPath: string;
  /** resolves with the exit code once the daemon exited */
  exited: Promise<number>;
  /** SIGTERM, wait (bounded, then SIGKILL); resolves with the exit code. Does not touch the mount. */
  stop(): Promise<number>;
  /** send a signal and wait for the exit (bounded) */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** the daemon's stderr so far */
  log(): string;
  /** the daemon's stdout so far */
  stdout(): string;
  sh(cmd: string, opts?: RunOptions): Promise<RunResult>;
  py(code: string, opts?: RunOptions): Promise<RunResult>;
  mounted(): boolean;
  /** stop or kill, then lazy-unmount whatever is left */
  destroy(): Promise<void>;
}

let startCounter = 0;

export interface DaemonProcess {
  child: ChildProcess;
  paths: StateDir;
  logPath: string;
  outPath: string;
  exited: Promise<number>;
  /** exit code once exited, else null */
  code(): number | null;
  args: string[];
}

/** Spawn the daemon (foreground unless `foreground: false`) without waiting for anything. */
export function spawnDaemon(opts: DaemonOptions & { foreground?: boolean } = {}): DaemonProcess {
  const base = opts.dir ? statePaths(opts.dir) : makeStateDir();
  const paths: StateDir = { ...base, mnt: opts.mnt ?? base.mnt, db: opts.db ?? base.db };
  const n = ++startCounter;
  const logPath = join(paths.dir, `daemon-${process.pid}-${n}.stderr.log`);
  const outPath = join(paths.dir, `daemon-${process.pid}-${n}.stdout.log`);
  const args = [
    DAEMON_JS,
    ...(opts.foreground === false ? [] : ['-f']),
    ...(opts.cluster ? [] : ['-l']),
    '--mount', paths.mnt,
    '--db', paths.db,
    '--run-dir', paths.run,
    '--nodename', opts.nodename ?? 'pve1',
    '--fuse', opts.backend ?? 'fuse-native',
    ...(opts.args ?? []),
  ];
  const argv = [...(opts.prefix ?? []), ...(opts.cpu !== undefined ? ['taskset', '-c', opts.cpu, process.execPath, ...args] : [process.execPath, ...args])];
  const errFd = openSync(logPath, 'a');
  const outFd = openSync(outPath, 'a');
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: '/',
    env: { PATH: CHILD_PATH, HOME: '/root', LANG: 'C.UTF-8', ...opts.env },
    stdio: ['ignore', outFd, errFd],
  });
  closeSync(errFd);
  closeSync(outFd);
  mountsSeen.add(paths.mnt);
  let code: number | null = null;
  const exited = new Promise<number>((res) => {
    child.on('exit', (c, s) => {
      code = exitCode(c, s);
      if (child.pid) liveProcs.delete(child.pid);
      res(code);
    });
    child.on('error', () => {
      code = 127;
      res(127);
    });
  });
  if (child.pid) liveProcs.set(child.pid, child);
  return { child, paths, logPath, outPath, exited, code: () => code, args };
}

function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Does the mount answer, from a child process? A listing, not just a stat: a dead FUSE connection can still
 * answer a stat of its root from the kernel's attribute cache, but an opendir always reaches the daemon.
 */
export async function mountAnswers(mnt: string): Promise<boolean> {
  const r = await run(['ls', '-a', mnt], { timeout: 3000 });
  // `.version` proves pmxcfs answered: a starting daemon lazily unmounts a stale mount first, and in that moment the
  // bare directory underneath lists fine
  return r.code === 0 && r.stdout.split('\n').includes('.version');
}

/** Wait for `p` or `ms`, whichever first; returns undefined on timeout. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** Start the daemon in the foreground and wait (bounded) until the mount answers. */
export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  if (!existsSync(DAEMON_JS)) throw new Error(`${DAEMON_JS} missing: run \`npx tsc -p .\` first`);
  // a stale mount of a killed daemon may still be there: only a listing that works proves the new daemon serves
  const dp = spawnDaemon(opts);
  const { child, paths } = dp;
  const deadline = Date.now() + (opts.timeout ?? 10_000);
  let ok = false;
  while (Date.now() < deadline) {
    if (dp.code() !== null) break;
    if (isMounted(paths.mnt) && (await mountAnswers(paths.mnt))) {
      ok = true;
      break;
    }
    await sleep(50);
  }
  if (!ok) {
    const code = dp.code();
    if (code === null) {
      child.kill('SIGKILL');
      await within(dp.exited, 5000);
    }
    forceUnmount(paths.mnt);
    throw new Error(
      `daemon did not mount ${paths.mnt} (${code === null ? 'timeout' : `exit code ${code}`}); stderr:\n${readText(dp.logPath).slice(-4000)}`,
    );
  }
  const d: Daemon = {
    ...paths,
    pid: child.pid!,
    backend: opts.backend ?? 'fuse-native',
    nodename: opts.nodename ?? 'pve1',
    logPath: dp.logPath,
    exited: dp.exited,
    async stop() {
      const c = dp.code();
      if (c !== null) return c;
      child.kill('SIGTERM');
      const code = await within(dp.exited, 15_000);
      if (code !== undefined) return code;
      child.kill('SIGKILL');
      return await dp.exited;
    },
    async kill(signal) {
      if (dp.code() !== null) return;
      child.kill(signal);
      if ((await within(dp.exited, 15_000)) === undefined) {
        child.kill('SIGKILL');
        await dp.exited;
      }
    },
    log: () => readText(dp.logPath),
    stdout: () => readText(dp.outPath),
    sh: (cmd, o = {}) => sh(cmd, { cwd: paths.dir, ...o }),
    py: (code, o = {}) => py(code, { cwd: paths.dir, ...o }),
    mounted: () => isMounted(paths.mnt),
    async destroy() {
      if (dp.code() === null) {
        child.kill('SIGTERM');
        if ((await within(dp.exited, 10_000)) === undefined) {
          child.kill('SIGKILL');
          await within(dp.exited, 5000);
        }
      }
      forceUnmount(paths.mnt);
    },
  };
  liveDaemons.add(d);
  return d;
}

const liveDaemons = new Set<Daemon>();

/** Stop every daemon started here, clear their mounts and remove the temp dirs. */
export async function cleanupAll(): Promise<void> {
  for (const d of [...liveDaemons]) {
    await d.destroy();
    liveDaemons.delete(d);
  }
  for (const [pid, child] of [...liveProcs]) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    liveProcs.delete(pid);
  }
  for (const m of [...mountsSeen]) {
    forceUnmount(m);
    if (!isMounted(m)) mountsSeen.delete(m);
  }
  for (const dir of [...ownedDirs]) {
    const stillMounted = [...mountsSeen].some((m) => m.startsWith(dir + '/'));
    if (stillMounted || isMounted(join(dir, 'mnt'))) continue; // never recurse into a live mount
    rmSync(dir, { recursive: true, force: true });
    ownedDirs.delete(dir);
  }
}

const FUSECTL = '/sys/fs/fuse/connections';
const fusectlMounted = (): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.includes(' - fusectl '));

/**
 * Daemons mount fusectl (/sys/fs/fuse/connections) for their mount guard and for clearing stale mounts. Call at the
 * start of a run; the function it returns unmounts fusectl again if it was not mounted at the start and no FUSE
 * connection is left, so the machine ends as it began. (vitest's global setup for the suite; this module's exit hook
 * for bench scripts.)
 */
export function watchFusectl(): () => void {
  const before = fusectlMounted();
  return () => {
    if (before || !fusectlMounted()) return;
    try {
      if (readdirSync(FUSECTL).length === 0) spawnSync('umount', [FUSECTL], { stdio: 'ignore' });
    } catch {
      /* still in use, or not ours to unmount: leave it */
    }
  };
}
// Test files run in parallel processes: there the suite's global setup restores fusectl once, at the very end.
const restoreFusectl = process.env.VITEST ? () => {} : watchFusectl();

/** Last-resort synchronous cleanup when the process exits. */
function cleanupSync(): void {
  for (const [, child] of liveProcs) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const m of mountsSeen) {
    try {
      forceUnmount(m);
    } catch {
      /* ignore */
    }
  }
  for (const dir of ownedDirs) {
    try {
      if (!isMounted(join(dir, 'mnt'))) rmSync(dir, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
  }
  restoreFusectl();
}
process.once('exit', cleanupSync);

/** Pids of processes whose command line mentions `needle` (e.g. a unique temp mount path), excluding this one. */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a === needle)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

export { sleep };
