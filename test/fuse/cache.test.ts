// Kernel caches stay on (long timeouts, kept page cache) and never show stale or uncommitted content.
import { afterEach, describe, expect, it } from 'vitest';
import { mountMem, node, run, sh, spawnChild, exited, until, type Mounted } from './util.js';

/** A reader process that keeps one file open: each line on stdin makes it pread the whole file again. */
function holder(path: string) {
  const child = spawnChild(process.execPath, [
    '--input-type=module',
    '-e',
    `import { open } from 'node:fs/promises';
     import { createInterface } from 'node:readline';
     const fh = await open(${JSON.stringify(path)}, 'r');
     const show = async () => { const b = Buffer.alloc(4096); const { bytesRead } = await fh.read(b, 0, 4096, 0);
       process.stdout.write(JSON.stringify(b.subarray(0, bytesRead).toString()) + '\\n'); };
     await show();
     for await (const _ of createInterface({ input: process.stdin })) await show();
     await fh.close();`,
  ]);
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as string);
      buf = buf.slice(i + 1);
    }
  });
  return {
    async read(): Promise<string> {
      const n = lines.length;
      if (n > 0) child.stdin!.write('\n');
      await until(() => lines.length > n);
      return lines[n]!;
    },
    async close() {
      child.stdin!.end();
      await exited(child);
    },
  };
}

describe('native backend caches', () => {
  let m: Mounted | null = null;
  afterEach(async () => {
    await m?.close();
    m = null;
  });
  // Timeouts far longer than the test: whatever is fresh below is fresh because of invalidation.
  const long = { entryTimeout: 600, attrTimeout: 600, keepCache: true };

  it('serves repeated reads from the kernel cache (the premise of the tests below)', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`echo old1 > ${m.dir}/f && cat ${m.dir}/f && stat ${m.dir}/f`);
    await until(() => m!.backend.outstanding === 0);
    m.fs.recording = true;
    await sh(`cat ${m.dir}/f; cat ${m.dir}/f; stat ${m.dir}/f`);
    expect(m.fs.log.filter((l) => l.op === 'read' || l.op === 'lookup' || l.op === 'getattr')).toEqual([]);
    // and a change behind the kernel's back without notification stays invisible
    m.fs.content('f').write('OLD2');
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('old1\n');
  });

  it('another process sees an in-daemon change as soon as it is acknowledged', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`echo old1 > ${m.dir}/f`);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('old1\n');
    for (const v of ['new1', 'new2', 'new3']) {
      // same size, same mtime: nothing but the invalidation can tell the kernel
      await m.fs.change('f', `${v}\n`);
      expect((await sh(`cat ${m.dir}/f`)).stdout).toBe(`${v}\n`);
    }
  });

  it('a reader holding the file open re-reads fresh content after an in-daemon change', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`echo old1 > ${m.dir}/f`);
    const h = holder(`${m.dir}/f`);
    expect(await h.read()).toBe('old1\n');
    expect(await h.read()).toBe('old1\n');
    await m.fs.change('f', 'new1\n');
    expect(await h.read()).toBe('new1\n');
    await h.close();
  });

  it('an invalidation waits for a READ of that inode outstanding (no deadlock), then applies', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`echo old1 > ${m.dir}/f`);
    const fs = m.fs;
    const held: (() => void)[] = [];
    // a page-cache read: the kernel holds the page locked until this READ is answered
    fs.readHook = (_ino, size, off) =>
      new Promise<Buffer>((res) => held.push(() => res(fs.content('f').subarray(off, off + size))));
    const cat = spawnChild('cat', [`${m.dir}/f`]);
    await until(() => held.length === 1);
    let applied = false;
    const done = fs.change('f', 'new1\n').then(() => (applied = true));
    // the event loop keeps serving meanwhile
    expect((await sh(`ls ${m.dir}`)).stdout).toBe('f\n');
    expect(applied).toBe(false);
    fs.readHook = null;
    held.pop()!();
    await exited(cat);
    await done;
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('new1\n');
  });

  it.each([false, true])(
    'a request that changes something else inside the daemon is answered after its invalidation (deferred %s)',
    async (deferAll) => {
      m = await mountMem({ ...long, deferAll }, { pageCache: true });
      await sh(`cd ${m.dir} && mkdir d && echo v > d/victim && : > trigger && cat d/victim && stat d/victim >/dev/null`);
      const fs = m.fs;
      // like a lock that expires during utime: the entry disappears as a side effect of another request
      fs.setattrHook = () => fs.remove('d/victim');
      // the check follows in the same process, microseconds after the reply
      const r = await run('python3', ['-c', `
import os
os.chdir(${JSON.stringify(m.dir)})
os.utime('trigger', (1000, 1000))
print(os.path.exists('d/victim'))
`]);
      expect(r.stdout).toBe('False\n');
    },
  );

  it('lists an unchanged directory from the kernel cache, and a name added or removed inside the daemon at once', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`mkdir ${m.dir}/d && echo 1 > ${m.dir}/d/a && ls ${m.dir}/d`);
    await until(() => m!.backend.outstanding === 0);
    m.fs.recording = true;
    expect((await sh(`ls ${m.dir}/d; ls ${m.dir}/d`)).stdout).toBe('a\na\n');
    expect(m.fs.log.filter((l) => l.op === 'readdir')).toEqual([]);
    // names appearing and vanishing behind the kernel's back: only the invalidation can tell it
    await m.fs.change('d/b', 'x\n');
    expect((await sh(`ls ${m.dir}/d`)).stdout).toBe('a\nb\n');
    await m.fs.remove('d/a');
    expect((await sh(`ls ${m.dir}/d`)).stdout).toBe('b\n');
    // and changes through the mount reset it too
    expect((await sh(`touch ${m.dir}/d/c; ls ${m.dir}/d; rm ${m.dir}/d/b; ls ${m.dir}/d`)).stdout).toBe('b\nc\nc\n');
  });

  it('a name replaced inside the daemon resolves to the new inode', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`echo old1 > ${m.dir}/f`);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('old1\n');
    await m.fs.remove('f');
    expect((await sh(`cat ${m.dir}/f 2>&1`)).stdout).toMatch(/No such file/);
    await m.fs.change('f', 'new1\n');
    expect((await sh(`cat ${m.dir}/f; ls ${m.dir}`)).stdout).toBe('new1\nf\n');
  });

  it('content committed through the mount replaces what readers had cached', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`echo old1 > ${m.dir}/f`);
    const h = holder(`${m.dir}/f`);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('old1\n');
    // same size, within the same second
    expect((await sh(`printf 'new1\\n' > ${m.dir}/f; cat ${m.dir}/f`)).stdout).toBe('new1\n');
    await until(() => m!.backend.outstanding === 0);
    // the reader that kept the file open was invalidated too (asynchronously: poll)
    let seen = await h.read();
    for (let i = 0; i < 100 && seen !== 'new1\n'; i++) seen = await h.read();
    expect(seen).toBe('new1\n');
    await h.close();
  });

  it('a truncation through a handle is seen by the next reader once the handle is closed', async () => {
    m = await mountMem(long, { pageCache: true });
    const r = await run('python3', ['-c', `
import os
p = ${JSON.stringify(`${m.dir}/f`)}
def R():
    with open(p, 'rb') as f: return f.read()
fd = os.open(p, os.O_RDWR | os.O_CREAT); os.write(fd, b'new'); os.close(fd)
print(R())
fd = os.open(p, os.O_RDWR); os.ftruncate(fd, 5); os.fstat(fd); os.close(fd)
print(R())
fd = os.open(p, os.O_RDWR); os.ftruncate(fd, 1); os.close(fd)
print(R(), os.stat(p).st_size)
`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("b'new'\nb'new\\x00\\x00'\nb'n' 1\n");
  });

  it('data written but not yet committed is never visible to other readers', async () => {
    m = await mountMem(long, { pageCache: true });
    await sh(`printf 'committed-content' > ${m.dir}/f`);
    const h = holder(`${m.dir}/f`);
    expect(await h.read()).toBe('committed-content');
    // a writer that writes and waits before closing
    const w = spawnChild(process.execPath, [
      '--input-type=module',
      '-e',
      `import { open } from 'node:fs/promises';
       const fh = await open(${JSON.stringify(`${m.dir}/f`)}, 'r+');
       await fh.write(Buffer.from('UNCOMMITTED'), 0, 11, 0);
       process.stdout.write('written\\n');
       process.stdin.once('data', async () => { await fh.close(); process.exit(0); });`,
    ]);
    let out = '';
    w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('written'));
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('committed-content');
    expect(await h.read()).toBe('committed-content');
    w.stdin!.write('\n');
    expect((await exited(w)).code).toBe(0);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('UNCOMMITTEDontent');
    await h.close();
  });
});

describe('native backend, O_TRUNC writers', () => {
  let m: Mounted | null = null;
  afterEach(async () => {
    await m?.close();
    m = null;
  });

  it('a truncating writer that has not closed yet leaves readers the committed content', async () => {
    m = await mountMem({ entryTimeout: 600, attrTimeout: 600, keepCache: true });
    await sh(`printf 'committed-content' > ${m.dir}/f`);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('committed-content');
    const w = spawnChild(process.execPath, [
      '--input-type=module',
      '-e',
      `import { open } from 'node:fs/promises';
       const fh = await open(${JSON.stringify(`${m.dir}/f`)}, 'w');
       await fh.write(Buffer.from('NEW'));
       process.stdout.write('written\\n');
       process.stdin.once('data', async () => { await fh.close(); process.exit(0); });`,
    ]);
    let out = '';
    w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('written'));
    expect((await sh(`cat ${m.dir}/f; echo; stat -c %s ${m.dir}/f`)).stdout).toBe('committed-content\n17\n');
    w.stdin!.write('\n');
    expect((await exited(w)).code).toBe(0);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('NEW');
  });
});

describe('native backend, default (no page cache for file data)', () => {
  let m: Mounted | null = null;
  afterEach(async () => {
    await m?.close();
    m = null;
  });

  it('a reader never sees a cut file while another process rewrites it with O_TRUNC', async () => {
    m = await mountMem({ entryTimeout: 600, attrTimeout: 600, keepCache: true });
    const r = await run('python3', ['-c', `
import os, subprocess, sys, time
p = ${JSON.stringify(`${m.dir}/f`)}
SIZE = 200 * 1024
flag = p + '.done'
with open(p, 'wb') as f: f.write(b'0' * SIZE)
reader = subprocess.Popen([sys.executable, '-c', '''
import os, sys
p, size, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bad = reads = 0
while not os.path.exists(flag):
    with open(p, "rb") as f: data = f.read()
    reads += 1
    if len(data) != size or data.count(data[:1]) != size: bad += 1
print(reads > 0, bad)
''', p, str(SIZE), flag], stdout=subprocess.PIPE, text=True)
for v in range(1, 9):
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    for _ in range(SIZE // 512): os.write(fd, str(v).encode() * 512)
    os.close(fd)
    time.sleep(0.02)  # readers also open between two rewrites
open(flag, 'w').close()
print(reader.communicate(timeout=60)[0].strip())
`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('True 0\n');
  });

  it('repeated reads are answered by the daemon: fresh even after a change nobody reported', async () => {
    m = await mountMem({ entryTimeout: 600, attrTimeout: 600, keepCache: true });
    await sh(`echo old1 > ${m.dir}/f`);
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('old1\n');
    m.fs.content('f').write('new1');
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('new1\n');
  });
});

describe('native backend requests from the kernel', () => {
  let m: Mounted | null = null;
  afterEach(async () => {
    await m?.close();
    m = null;
  });

  it('receives large writes in chunks of at least 128 KiB', async () => {
    m = await mountMem();
    m.fs.recording = true;
    const r = await node(`import { writeFile } from 'node:fs/promises';
      await writeFile('${m.dir}/big', Buffer.alloc(1 << 20, 120));`);
    expect(r.stderr).toBe('');
    const sizes = m.fs.log.filter((l) => l.op === 'write').map((l) => l.size!);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(128 * 1024);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1 << 20);
    expect(m.fs.content('big').equals(Buffer.alloc(1 << 20, 120))).toBe(true);
    expect(m.backend.maxWrite).toBeGreaterThanOrEqual(128 * 1024);
  });

  it('unlinking an open file leaves no .fuse_hidden entry', async () => {
    m = await mountMem();
    await sh(`echo keep > ${m.dir}/f`);
    m.fs.recording = true;
    const r = await node(`import { open, unlink, readdir } from 'node:fs/promises';
      const fh = await open('${m.dir}/f', 'r');
      await unlink('${m.dir}/f');
      const b = Buffer.alloc(10); const { bytesRead } = await fh.read(b, 0, 10, 0);
      console.log(b.subarray(0, bytesRead).toString().trim(), (await readdir('${m.dir}')).length);
      await fh.close();`);
    expect(r.stdout).toBe('keep 0\n');
    expect(m.fs.log.filter((l) => l.op.startsWith('rename'))).toEqual([]);
  });

  it('answers xattr requests: ENODATA for security.*, EOPNOTSUPP otherwise', async () => {
    m = await mountMem();
    await sh(`echo x > ${m.dir}/f`);
    const r = await sh(`python3 -c "
import os, errno
for n in ['security.capability', 'user.test']:
    try:
        os.getxattr('${m.dir}/f', n); print('value')
    except OSError as e: print(errno.errorcode[e.errno])
try:
    os.setxattr('${m.dir}/f', 'user.test', b'1'); print('set')
except OSError as e: print(errno.errorcode[e.errno])
"`);
    const got = r.stdout.split('\n').slice(0, 3);
    expect(got[0]).toBe('ENODATA');
    // EOPNOTSUPP == ENOTSUP (95) on Linux
    expect(got.slice(1)).toEqual(['ENOTSUP', 'ENOTSUP']);
  });
});
