// A handler that throws something other than an FsError is a bug: the backend answers EIO (or the error's errno)
// and reports it once, with the operation's name, where it turns the error into an errno (no wrapper per request).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { E, FsError } from '../../src/errors.js';
import { handlerErrorLog } from '../../src/fs/error-log.js';
import type { Backend, Caller, Entry, Result } from '../../src/fuse/backend.js';
import { createBackend } from '../../src/fuse/index.js';
import type { Logger } from '../../src/log.js';
import { MemFs } from '../helpers/memfs.js';
import { isMounted, run, sh } from './util.js';

class Buggy extends MemFs {
  override lookup(parent: number, name: string, c: Caller): Result<Entry> {
    if (name === 'boom') throw new Error('a bug');
    if (name === 'late') return Promise.reject(new Error('a later bug'));
    if (name === 'gone') throw new FsError(E.ENOENT);
    return super.lookup(parent, name, c);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function mount(kind: 'native' | 'fuse-native'): Promise<{ dir: string; logged: { op: string; msg: string }[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'pmxfuse-err-'));
  const logged: { op: string; msg: string }[] = [];
  const log = { error: (o: { op: string }, msg: string) => logged.push({ op: o.op, msg }) } as unknown as Logger;
  const backend: Backend = await createBackend(kind);
  await backend.mount(new Buggy(), {
    mountpoint: dir, fsname: 'pmxfuse-test', allowOther: true, debug: false, onHandlerError: handlerErrorLog(log),
  });
  cleanups.push(async () => {
    await backend.unmount().catch(() => undefined);
    if (await isMounted(dir)) await run('fusermount3', ['-uz', dir]);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  });
  return { dir, logged };
}

describe.each(['native', 'fuse-native'] as const)('unexpected handler errors (%s)', (kind) => {
  it('a thrown non-FsError answers EIO and is logged once with the op name; an FsError is its errno, not logged', async () => {
    const { dir, logged } = await mount(kind);
    const boom = await sh(`stat ${dir}/boom`);
    expect(boom.code).not.toBe(0);
    expect(boom.stderr).toMatch(/Input\/output error/);
    expect(logged).toEqual([{ op: kind === 'native' ? 'lookup' : 'getattr', msg: 'filesystem operation failed unexpectedly' }]);
    const gone = await sh(`stat ${dir}/gone`);
    expect(gone.stderr).toMatch(/No such file or directory/);
    expect(logged.length).toBe(1);
  });

  it.runIf(kind === 'native')('a rejected non-FsError answers EIO and is logged once', async () => {
    const { dir, logged } = await mount(kind);
    const late = await sh(`stat ${dir}/late`);
    expect(late.stderr).toMatch(/Input\/output error/);
    expect(logged).toEqual([{ op: 'lookup', msg: 'filesystem operation failed unexpectedly' }]);
  });
});
