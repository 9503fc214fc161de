// Limits (docs/FILESYSTEM.md "Limits"): every refusal leaves the file as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoCleanup, BACKENDS, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('all');

const MiB = 1024 * 1024;

describe.each(BACKENDS)('limits (%s)', (backend) => {
  describe('file size and names (defaults)', () => {
    let d: Daemon;
    beforeAll(async () => {
      d = await startDaemon({ backend });
    });
    afterAll(async () => {
      await d?.destroy();
    });

    it('a file of exactly 1 MiB is fine; 1 MiB + 1 fails with EFBIG (at write or close) and the old content stays', async () => {
      const r = await d.py(`
import hashlib
p = ${JSON.stringify(d.mnt + '/big.cfg')}
old = os.urandom(${MiB})
print(W(p, old))
print(W(p, os.urandom(${MiB + 1})))
print(R(p) == old)
print(W(p, b'x' * ${MiB + 1}, os.O_WRONLY|os.O_CREAT))
print(R(p) == old, os.stat(p).st_size)
`);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('OK');
      expect(lines[1]).toMatch(/^(write|close):EFBIG$/);
      expect(lines[2]).toBe('True');
      expect(lines[3]).toMatch(/^(write|close):EFBIG$/);
      expect(lines[4]).toBe(`True ${MiB}`);
    });

    it('the shell sees "File too large" and the config keeps its content', async () => {
      const r = await d.sh(`printf 'keep\\n' > ${d.mnt}/fb.cfg && head -c ${MiB + 1} /dev/zero > ${d.mnt}/fb.cfg; echo "rc=$?"; cat ${d.mnt}/fb.cfg`);
      expect(r.stderr).toMatch(/File too large/);
      expect(r.stdout).toMatch(/^rc=[1-9]\d*\nkeep\n$/);
    });

    it('appending past 1 MiB, pwrite beyond 1 MiB and truncate beyond 1 MiB are EFBIG, file unchanged', async () => {
      const r = await d.py(`
p = ${JSON.stringify(d.mnt + '/grow.cfg')}
base = b'a' * (${MiB} - 10)
print(W(p, base))
print(W(p, b'b' * 20, os.O_WRONLY|os.O_APPEND))
print(R(p) == base)
fd = os.open(p, os.O_WRONLY)
try:
    os.pwrite(fd, b'z', ${MiB}); step = 'write-ok'
except OSError as e: step = 'write:' + errno.errorcode[e.errno]
try:
    os.close(fd); print(step, 'close-ok')
except OSError as e: print(step, 'close:' + errno.errorcode[e.errno])
print(R(p) == base)
print(E(os.truncate, p, ${MiB + 1}), os.stat(p).st_size == len(base))
fd = os.open(p, os.O_WRONLY)
r1 = E(os.ftruncate, fd, ${MiB + 1})
r2 = E(os.close, fd)
print(r1, r2, R(p) == base)
`);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('OK');
      expect(lines[1]).toMatch(/^(write|close):EFBIG$/);
      expect(lines[2]).toBe('True');
      expect(['write:EFBIG close-ok', 'write-ok close:EFBIG', 'write:EFBIG close:EFBIG']).toContain(lines[3]);
      expect(lines[4]).toBe('True');
      expect(lines[5]).toBe('EFBIG True');
      expect(['EFBIG OK', 'OK EFBIG', 'EFBIG EFBIG']).toContain(lines[6]!.split(' ').slice(0, 2).join(' '));
      expect(lines[6]!.endsWith('True')).toBe(true);
    });

    it('names up to 255 bytes work; 256 bytes is ENAMETOOLONG for create, mkdir and rename', async () => {
      const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
ok = 'n' * 255
long = 'n' * 256
utf = '\\u00e9' * 128  # 256 bytes in UTF-8
print(W(ok, 'x'), len(os.listdir('.')[0]) > 0, ok in os.listdir('.'))
print(W(long, 'x'), E(os.mkdir, long), E(os.rename, ok, long), E(os.mkdir, utf), W(utf, 'x'))
print(ok in os.listdir('.'), R(ok))
print(E(os.mkdir, '\\u00e9' * 127))
os.unlink(ok); os.rmdir('\\u00e9' * 127)
`);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split('\n')).toEqual([
        'OK True True',
        'open:ENAMETOOLONG ENAMETOOLONG ENAMETOOLONG ENAMETOOLONG open:ENAMETOOLONG',
        "True b'x'",
        'OK',
      ]);
    });

    it('control characters (0x01-0x1f, 0x7f) in a name are EINVAL for create, mkdir and rename', async () => {
      const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print(W('ctl-src', 'x'))
res = []
for c in ['\\n', '\\t', '\\x01', '\\x1f', '\\x7f', '\\r']:
    n = 'bad' + c + 'name'
    res.append(W(n, 'x') + '/' + E(os.mkdir, n) + '/' + E(os.rename, 'ctl-src', n))
print(' '.join(res))
print(sorted(x for x in os.listdir('.') if x.startswith('bad')), R('ctl-src'))
print(W('good name with spaces & ünïcode', 'x'))
os.unlink('good name with spaces & ünïcode'); os.unlink('ctl-src')
`);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('OK');
      expect(lines[1]).toBe(Array(6).fill('open:EINVAL/EINVAL/EINVAL').join(' '));
      expect(lines[2]).toBe("[] b'x'");
      expect(lines[3]).toBe('OK');
    });
  });

  describe('total size (PMXCFS_MAX_FS_SIZE=262144)', () => {
    let d: Daemon;
    beforeAll(async () => {
      d = await startDaemon({ backend, env: { PMXCFS_MAX_FS_SIZE: String(256 * 1024) } });
    });
    afterAll(async () => {
      await d?.destroy();
    });

    it('writes beyond the total are ENOSPC, nothing changes; replacing content within the budget works; statfs reports it', async () => {
      const K = 1024;
      const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
a = b'a' * ${100 * K}; b = b'b' * ${100 * K}; c = b'c' * ${100 * K}
print(W('f1', a), W('f2', b))
print(W('f3', c))
print(os.path.exists('f3') and os.stat('f3').st_size)
print(W('f1', b'A' * ${100 * K}), R('f1') == b'A' * ${100 * K})
print(W('f2', b'B' * ${160 * K}), R('f2') == b)
s = os.statvfs('.')
print(s.f_bsize, s.f_blocks, s.f_blocks - s.f_bfree)
os.unlink('f1')
print(W('f3', c), R('f3') == c)
s2 = os.statvfs('.')
print(s2.f_blocks - s2.f_bfree)
`);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('OK OK');
      expect(lines[1]).toMatch(/^(open|write|close):ENOSPC$/);
      // never partially written; through one handle (native) the new file and its content are one change: refused,
      // there is no file (its release does not make it again); fuse-native stores the empty file at mknod
      expect(backend === 'native' ? ['False'] : ['False', '0']).toContain(lines[2]);
      expect(lines[3]).toBe('OK True');
      expect(lines[4]).toMatch(/^(write|close):ENOSPC True$/);
      const [bsize, blocks, used] = lines[5]!.split(' ').map(Number);
      expect(bsize).toBe(4096);
      expect(blocks).toBe(64);
      expect(used).toBeGreaterThanOrEqual(50);
      expect(used).toBeLessThanOrEqual(64);
      expect(lines[6]).toBe('OK True');
      expect(Number(lines[7])).toBeGreaterThanOrEqual(50);
    });

    it('truncate growing past the total is ENOSPC', async () => {
      const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print(W('t', 'x'))
print(E(os.truncate, 't', ${200 * 1024}), os.stat('t').st_size)
os.unlink('t')
`);
      expect(r.stdout).toBe('OK\nENOSPC 1\n');
    });
  });

  describe('entry count (PMXCFS_MAX_ENTRIES=40)', () => {
    let d: Daemon;
    beforeAll(async () => {
      d = await startDaemon({ backend, env: { PMXCFS_MAX_ENTRIES: '40' } });
    });
    afterAll(async () => {
      await d?.destroy();
    });

    it('creating entries beyond the limit is ENOSPC (files and dirs), statfs reports 0 free, freeing one lets one more in', async () => {
      const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
os.mkdir('many')
s0 = os.statvfs('.')
print(s0.f_files)
made = 0; err = None
for i in range(100):
    res = W('many/f%03d' % i, 'x')
    if res != 'OK': err = res; break
    made += 1
print(err, made == s0.f_ffree)
print(os.statvfs('.').f_ffree)
print(E(os.mkdir, 'many/d'), W('many/g', 'x'), E(os.mknod, 'many/h', stat.S_IFREG|0o640))
print(len(os.listdir('many')) == made)
os.unlink('many/f000')
print(W('many/again', 'y'), E(os.mkdir, 'many/d2'))
print(W('many/f001', 'rewrite is fine'))
`);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('40');
      expect(lines[1]).toMatch(/^open:ENOSPC True$/);
      expect(lines[2]).toBe('0');
      expect(lines[3]).toBe('ENOSPC open:ENOSPC ENOSPC');
      expect(lines[4]).toBe('True');
      expect(lines[5]).toBe('OK ENOSPC');
      expect(lines[6]).toBe('OK');
    });
  });
});
