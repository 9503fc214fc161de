// Writes are buffered per open handle and committed as one change: readers never see half a file; files the kernel
// hides (.fuse_hidden*) are never stored (docs/FILESYSTEM.md "Operations", "Limits").
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoCleanup, BACKENDS, PYTHON, readTree, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('all');

describe.each(BACKENDS)('consistency (%s)', (backend) => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ backend });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('while a handle is being written, other readers see the old content; after close, the new', async () => {
    // The writer is a separate process that pauses with its handle open; the readers are unrelated processes
    // (not forked from the writer, so no inherited descriptor is closed behind its back).
    const p = d.mnt + '/buffered.cfg';
    expect((await d.py(`print(W(${JSON.stringify(p)}, 'old content\\n'))`)).stdout).toBe('OK\n');
    const writer = spawn(
      PYTHON,
      [
        '-c',
        `
import os, sys
fd = os.open(${JSON.stringify(p)}, os.O_WRONLY|os.O_TRUNC)
os.write(fd, b'new content, first half ')
print('half', flush=True); sys.stdin.readline()
os.write(fd, b'second half\\n')
print('full', flush=True); sys.stdin.readline()
os.close(fd)
print('closed', flush=True)
`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    let buf = '';
    const waiters: (() => void)[] = [];
    writer.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
      waiters.splice(0).forEach((w) => w());
    });
    const waitFor = async (line: string) => {
      const end = Date.now() + 20_000;
      while (!lines.includes(line) && Date.now() < end) await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
      expect(lines).toContain(line);
    };
    try {
      await waitFor('half');
      expect((await d.sh(`cat ${p}`)).stdout).toBe('old content\n');
      writer.stdin.write('\n');
      await waitFor('full');
      expect((await d.sh(`cat ${p}`)).stdout).toBe('old content\n');
      writer.stdin.write('\n');
      await waitFor('closed');
      expect((await d.sh(`cat ${p}`)).stdout).toBe('new content, first half second half\n');
    } finally {
      writer.kill('SIGKILL');
    }
  });

  // fuse-native does not tell the daemon which process closed a descriptor, so there every close commits.
  it.skipIf(backend === 'fuse-native')('a child forked by the writer that closes the inherited descriptor does not commit half a file', async () => {
    // e.g. a shell that runs a command while holding a redirection open; the child's close() sends FLUSH
    const r = await d.py(`
import subprocess
p = ${JSON.stringify(d.mnt + '/forked.cfg')}
print(W(p, 'old\\n'))
fd = os.open(p, os.O_WRONLY|os.O_TRUNC)
os.write(fd, b'new, first half ')
print(subprocess.run(['cat', p], capture_output=True).stdout)
print(subprocess.run(['true'], pass_fds=(fd,)).returncode)
print(subprocess.run(['cat', p], capture_output=True).stdout)
os.write(fd, b'second half\\n')
os.close(fd)
print(R(p))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("OK\nb'old\\n'\n0\nb'old\\n'\nb'new, first half second half\\n'\n");
  });

  it('fsync commits what the handle wrote so far; the rest commits at close', async () => {
    const r = await d.py(`
import subprocess
p = ${JSON.stringify(d.mnt + '/fsynced.cfg')}
print(W(p, 'v1'))
fd = os.open(p, os.O_WRONLY|os.O_TRUNC)
os.write(fd, b'v2')
os.fsync(fd)
print(subprocess.run(['cat', p], capture_output=True).stdout)
os.write(fd, b'+more')
os.close(fd)
print(subprocess.run(['cat', p], capture_output=True).stdout)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("OK\nb'v2'\nb'v2+more'\n");
  });

  it('a 500 KiB file rewritten in 512-byte chunks while another process reads it: always the whole old or the whole new', async () => {
    const size = 500 * 1024;
    const r = await d.py(`
import subprocess
p = ${JSON.stringify(d.mnt + '/concurrent.cfg')}
SIZE = ${size}
FLAG = ${JSON.stringify(d.dir + '/concurrent.done')}
print(W(p, b'0' * SIZE))
reader = subprocess.Popen([sys.executable, '-c', '''
import os, sys
p, size = sys.argv[1], int(sys.argv[2])
reads = bad = 0
seen = set()
while not os.path.exists(sys.argv[3]):
    with open(p, "rb") as f: data = f.read()
    reads += 1
    if len(data) != size or data.count(data[:1]) != size:
        bad += 1
        if bad < 5: print("partial:", len(data), sorted(set(data))[:4], flush=True)
    else:
        seen.add(data[:1].decode())
print("reads", reads > 0, "bad", bad, "versions", len(seen) > 1, flush=True)
''', p, str(SIZE), FLAG], stdout=subprocess.PIPE, text=True)
for v in range(1, 13):
    fd = os.open(p, os.O_WRONLY|os.O_TRUNC)
    chunk = str(v % 10).encode() * 512
    for _ in range(SIZE // 512):
        os.write(fd, chunk)
    os.close(fd)
    time.sleep(0.02)
open(FLAG, 'w').close()
out, _ = reader.communicate(timeout=60)
print(out.strip())
final = R(p)
print(len(final) == SIZE and final.count(b'2') == SIZE)
`,
      { timeout: 120_000 },
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('OK');
    expect(lines.filter((l) => l.startsWith('partial'))).toEqual([]);
    expect(lines.at(-2)).toMatch(/^reads True bad 0 versions (True|False)$/);
    expect(lines.at(-1)).toBe('True');
  });

  it('a file unlinked while open: the kernel\'s .fuse_hidden* name is never stored, and nothing comes back at close', async () => {
    const r = await d.py(`
import sqlite3
os.chdir(${JSON.stringify(d.mnt)})
print(W('victim', 'still here'))
fd = os.open('victim', os.O_RDWR)
os.unlink('victim')
print(os.path.exists('victim'))
try:
    os.write(fd, b'written after unlink')
except OSError as e:
    pass
db = sqlite3.connect('file:' + ${JSON.stringify(d.db)} + '?mode=ro', uri=True)
rows = db.execute("SELECT name FROM tree WHERE name LIKE '.fuse_hidden%' OR name = 'victim'").fetchall()
db.close()
print('db-while-open', rows)
try: os.close(fd)
except OSError: pass
time.sleep(0.2)
print(sorted(n for n in os.listdir('.') if n.startswith('.fuse_hidden') or n == 'victim'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("OK\nFalse\ndb-while-open []\n[]\n");
    // after a clean stop, the database has no such rows either
    expect(await d.stop()).toBe(0);
    const rows = readTree(d.db);
    expect(rows.filter((x) => x.name.startsWith('.fuse_hidden') || x.name === 'victim')).toEqual([]);
    // restart for the remaining tests of this file
    d = await startDaemon({ backend, dir: d.dir });
  });

  it('renaming over an open file does not leave .fuse_hidden* entries stored', async () => {
    const r = await d.py(`
import sqlite3
os.chdir(${JSON.stringify(d.mnt)})
print(W('target', 'old'), W('target.tmp', 'new'))
fd = os.open('target', os.O_RDONLY)
os.rename('target.tmp', 'target')
db = sqlite3.connect('file:' + ${JSON.stringify(d.db)} + '?mode=ro', uri=True)
rows = db.execute("SELECT name FROM tree WHERE name LIKE '.fuse_hidden%'").fetchall()
db.close()
print(rows)
os.close(fd)
time.sleep(0.2)
print(R('target'), sorted(n for n in os.listdir('.') if n.startswith('.fuse_hidden')))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("OK OK\n[]\nb'new' []\n");
  });
});
