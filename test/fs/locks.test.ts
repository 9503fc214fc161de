// Cluster-wide locks under priv/lock/, with PMXCFS_LOCK_EXPIRY=2 (docs/FILESYSTEM.md "Operations", Locks).
// The sleeps below only move the clock past the (shortened) expiry; nothing measures time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoCleanup, BACKENDS, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('all');

describe.each(BACKENDS)('locks under priv/lock (%s)', (backend) => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ backend, env: { PMXCFS_LOCK_EXPIRY: '2' } });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('mkdir acquires, a second mkdir is EEXIST, the lock is a 0700 directory', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/priv/lock')})
print(E(os.mkdir, 'storage-a'), E(os.mkdir, 'storage-a'))
st = os.stat('storage-a'); print(stat.S_ISDIR(st.st_mode), oct(st.st_mode & 0o777), st.st_uid, st.st_gid)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK EEXIST\nTrue 0o700 0 33\n');
  });

  it('utime 0 on an unexpired lock is EACCES; after the expiry it releases (removes) the lock', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/priv/lock')})
print(E(os.mkdir, 'rel'))
print(E(os.utime, 'rel', (0, 0)), os.path.isdir('rel'))
time.sleep(3.0)
print(E(os.utime, 'rel', (0, 0)), os.path.exists('rel'))
print(E(os.mkdir, 'rel'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK\nEACCES True\nOK False\nOK\n');
  });

  it('setting another mtime renews the lock: the expiry restarts', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/priv/lock')})
print(E(os.mkdir, 'renew'))
time.sleep(1.4)
now = int(time.time())
print(E(os.utime, 'renew', (now, now)))
time.sleep(1.2)   # 2.6 s after creation, 1.2 s after the renewal: still held
print(E(os.utime, 'renew', (0, 0)), os.path.isdir('renew'))
time.sleep(1.8)   # 3.0 s after the renewal: expired
print(E(os.utime, 'renew', (0, 0)), os.path.exists('renew'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK\nOK\nEACCES True\nOK False\n');
  });

  it('an expired lock that nobody releases is still held (mkdir EEXIST) until utime 0 or rmdir', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/priv/lock')})
print(E(os.mkdir, 'stale'))
time.sleep(2.6)
print(E(os.mkdir, 'stale'), os.path.isdir('stale'))
print(E(os.rmdir, 'stale'), os.path.exists('stale'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK\nEEXIST True\nOK False\n');
  });

  it('rename of a lock is EACCES; rmdir works as for any directory', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/priv/lock')})
print(E(os.mkdir, 'mv'))
print(E(os.rename, 'mv', 'mv2'), E(os.rename, 'mv', '../mv-out'), os.path.isdir('mv'), os.path.exists('mv2'))
print(E(os.rmdir, 'mv'), os.path.exists('mv'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK\nEACCES EACCES True False\nOK False\n');
  });

  it('utime 0 on an ordinary directory outside priv/lock just sets the mtime', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
os.mkdir('plain')
print(E(os.utime, 'plain', (0, 0)), os.path.isdir('plain'), os.stat('plain').st_mtime)
os.rmdir('plain')
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK True 0.0\n');
  });

  it('the pve lock helper pattern: retry mkdir until the holder releases', async () => {
    // holder takes the lock; a second client loops on mkdir (EEXIST) until the holder rmdirs it
    const r = await d.py(`
import subprocess
os.chdir(${JSON.stringify(d.mnt + '/priv/lock')})
print(E(os.mkdir, 'file-user_cfg'))
child = subprocess.Popen([sys.executable, '-c', '''
import os, time, errno
deadline = time.time() + 10
tries = 0
while time.time() < deadline:
    try:
        os.mkdir("file-user_cfg"); print("acquired", tries > 0); break
    except FileExistsError:
        tries += 1; time.sleep(0.05)
os.rmdir("file-user_cfg")
'''], stdout=subprocess.PIPE, text=True)
time.sleep(0.5)
os.rmdir('file-user_cfg')
out, _ = child.communicate(timeout=15)
print(out.strip(), os.path.exists('file-user_cfg'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK\nacquired True False\n');
  });
});
