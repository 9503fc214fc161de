// Deferred replies in bulk, interrupts, and unmounting while requests are outstanding.
import { afterEach, describe, expect, it } from 'vitest';
import { exited, isMounted, mountMem, node, run, sh, spawnChild, until, type Mounted } from './util.js';

describe('native backend requests', () => {
  let m: Mounted | null = null;
  afterEach(async () => {
    await m?.close();
    m = null;
  });

  it('keeps many requests outstanding and answers them in any order', async () => {
    m = await mountMem();
    const fs = m.fs;
    const N = 100;
    const r0 = await sh(`cd ${m.dir} && for i in $(seq 1 ${N}); do echo content-$i > f$i; done`);
    expect(r0.code).toBe(0);
    for (let i = 1; i <= N; i++) fs.directIo.add(fs.resolve(`f${i}`));
    const held: (() => void)[] = [];
    let peak = 0;
    fs.readHook = (ino, size, offset) =>
      new Promise<Buffer>((resolve) => {
        held.push(() => resolve(fs.content(`f${ino - 1}`).subarray(offset, offset + size)));
      });
    // Hold every read until all N are outstanding, then answer them last-first.
    const client = node(
      `import { readFile } from 'node:fs/promises';
       const all = await Promise.all(Array.from({ length: ${N} }, (_, i) => readFile('${m.dir}/f' + (i + 1), 'utf8')));
       console.log(all.join(','));`,
      { UV_THREADPOOL_SIZE: '128' },
    );
    await until(() => {
      peak = Math.max(peak, m!.backend.outstanding);
      return held.length >= N;
    });
    expect(m.backend.outstanding).toBeGreaterThanOrEqual(N);
    fs.readHook = null;
    while (held.length) held.pop()!();
    const r = await client;
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(Array.from({ length: N }, (_, i) => `content-${i + 1}\n`).join(',').trim());
    await until(() => m!.backend.outstanding === 0);
  });

  it('answers EINTR when a pending request is interrupted (client killed)', async () => {
    m = await mountMem();
    await sh(`echo data > ${m.dir}/slow`);
    const fs = m.fs;
    fs.directIo.add(fs.resolve('slow'));
    let calls = 0;
    // never answers: only the interrupt can end this request
    fs.readHook = () => {
      calls++;
      return new Promise<Buffer>(() => undefined);
    };
    const cat = spawnChild('cat', [`${m.dir}/slow`]);
    await until(() => calls === 1 && m!.backend.outstanding === 1);
    cat.kill('SIGKILL');
    expect((await exited(cat)).signal).toBe('SIGKILL');
    await until(() => m!.backend.outstanding === 0);
    fs.readHook = null;
    // the mount is still healthy
    expect((await sh(`cat ${m.dir}/slow`)).stdout).toBe('data\n');
  });

  it('a handler that throws answers EIO; replying twice throws', async () => {
    m = await mountMem();
    await sh(`echo data > ${m.dir}/f`);
    m.fs.directIo.add(m.fs.resolve('f'));
    m.fs.readHook = () => {
      throw new Error('boom');
    };
    const r = await sh(`cat ${m.dir}/f`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Input\/output error/);
    m.fs.readHook = null;
    // the addon refuses a second answer to the same id
    const session = (m.backend as unknown as { session: { replyErr(id: number, e: number): void } }).session;
    let id = 0;
    m.fs.openHook = () => {
      id = (m!.backend as unknown as { io: Float64Array }).io[1]!;
      return undefined;
    };
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('data\n');
    m.fs.openHook = null;
    expect(id).toBeGreaterThan(0);
    expect(() => session.replyErr(id, 0)).toThrow(/already answered/);
  });

  it('unmount fails the pending requests and removes the mount', async () => {
    m = await mountMem();
    await sh(`echo data > ${m.dir}/slow`);
    m.fs.directIo.add(m.fs.resolve('slow'));
    m.fs.readHook = () => new Promise<Buffer>(() => undefined);
    const cats = [spawnChild('cat', [`${m.dir}/slow`]), spawnChild('cat', [`${m.dir}/slow`])];
    await until(() => m!.backend.outstanding === 2);
    await m.backend.unmount();
    const results = await Promise.all(cats.map(exited));
    for (const r of results) expect(r.code).not.toBe(0);
    expect(await isMounted(m.dir)).toBe(false);
    await m.backend.unmount(); // twice is fine
  });

  it('unmount does not hang while an invalidation waits in the kernel for a pending READ', async () => {
    m = await mountMem({ entryTimeout: 600, attrTimeout: 600, keepCache: true });
    await sh(`echo data > ${m.dir}/f`);
    const ino = m.fs.resolve('f');
    let held = 0;
    m.fs.readHook = () => {
      held++;
      return new Promise<Buffer>(() => undefined);
    };
    const cat = spawnChild('cat', [`${m.dir}/f`]);
    await until(() => held === 1);
    // bypass the backend's gate on purpose: the notifier thread blocks on the page the READ keeps locked
    const session = (m.backend as unknown as { session: { notify(t: number, k: 0, i: number, o: number, l: number): boolean } })
      .session;
    expect(session.notify(999, 0, ino, 0, 0)).toBe(true);
    // the event loop is not blocked
    expect((await sh(`ls ${m.dir}`)).stdout).toBe('f\n');
    await m.backend.unmount();
    expect((await exited(cat)).code).not.toBe(0);
    expect(await isMounted(m.dir)).toBe(false);
  });

  it('survives a lazy unmount from outside with requests pending, then notices the disconnect', async () => {
    m = await mountMem();
    await sh(`echo data > ${m.dir}/slow`);
    m.fs.directIo.add(m.fs.resolve('slow'));
    const held: (() => void)[] = [];
    m.fs.readHook = (ino, size, off) =>
      new Promise<Buffer>((res) => held.push(() => res(m!.fs.content('slow').subarray(off, off + size))));
    let gone = 0;
    m.backend.onDisconnect = (errno) => (gone = errno);
    const cat = spawnChild('cat', [`${m.dir}/slow`]);
    let out = '';
    cat.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => held.length === 1);
    expect((await run('umount', ['-l', m.dir])).code).toBe(0);
    // the open file keeps the connection: the pending request is still answered
    m.fs.readHook = null;
    held.pop()!();
    expect((await exited(cat)).code).toBe(0);
    expect(out).toBe('data\n');
    await until(() => gone !== 0);
    expect(await isMounted(m.dir)).toBe(false);
  });

  it('survives umount -f with requests pending (connection aborted)', async () => {
    m = await mountMem();
    await sh(`echo data > ${m.dir}/slow`);
    m.fs.directIo.add(m.fs.resolve('slow'));
    m.fs.readHook = () => new Promise<Buffer>(() => undefined);
    let gone = 0;
    m.backend.onDisconnect = (errno) => (gone = errno);
    const cat = spawnChild('cat', [`${m.dir}/slow`]);
    await until(() => m!.backend.outstanding === 1);
    await run('umount', ['-f', m.dir]);
    expect((await exited(cat)).code).not.toBe(0);
    await until(() => gone !== 0);
    expect(await isMounted(m.dir)).toBe(false);
  });
});
