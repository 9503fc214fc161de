// Shared helpers for the FUSE backend tests. Every access to the mount happens in a child process: the test process
// serves the mount and must never touch it synchronously.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend, type NativeOptions } from '../../src/fuse/native.js';
import { MemFs, type MemFsOptions } from '../helpers/memfs.js';

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a program to completion (asynchronously), never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; signal?: NodeJS.Signals }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export const sh = (script: string): Promise<Run> => run('sh', ['-c', script]);

/** A node child that evaluates `code` (ESM) — for clients needing more than a shell. */
export const node = (code: string, env?: NodeJS.ProcessEnv): Promise<Run> =>
  run(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env } });

export function spawnChild(cmd: string, args: string[]): ChildProcess {
  return spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
}

export async function isMounted(dir: string): Promise<boolean> {
  const mounts = await readFile('/proc/mounts', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[1] === dir);
}

export interface Mounted {
  dir: string;
  fs: MemFs;
  backend: NativeBackend;
  /** unmount (backend, then fusermount3 -uz as fallback) and remove the directory */
  close(): Promise<void>;
}

export async function mountMem(fsOpts: MemFsOptions = {}, nopts: NativeOptions = {}): Promise<Mounted> {
  const dir = await mkdtemp(join(tmpdir(), 'pmxfuse-'));
  const fs = new MemFs(fsOpts);
  const backend = new NativeBackend(nopts);
  await backend.mount(fs, { mountpoint: dir, fsname: 'pmxfuse-test', allowOther: true, debug: false });
  return {
    dir,
    fs,
    backend,
    async close() {
      await backend.unmount().catch(() => undefined);
      if (await isMounted(dir)) await run('fusermount3', ['-uz', dir]);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** Poll `cond` on the event loop (the daemon keeps serving meanwhile). */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}
