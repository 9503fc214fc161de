// Ownership and modes, what www-data may do, chmod/chown rules, unsupported operations
// (docs/FILESYSTEM.md "Ownership and modes").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoCleanup, BACKENDS, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('all');

describe.each(BACKENDS)('ownership, modes and permissions (%s)', (backend) => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ backend });
    // an admin sets up a few files as root
    const r = await d.sh(
      [
        `cd ${d.mnt}`,
        `printf 'cores: 2\\n' > nodes/pve1/qemu-server/100.conf`,
        `printf 'dir: local\\n\\tpath /var/lib/vz\\n' > storage.cfg`,
        `mkdir -p firewall/sub`,
        `printf 'secret\\n' > priv/authkey.key`,
        `mkdir priv/acme`,
        `printf 'k\\n' > priv/acme/key`,
        `printf 'ssl\\n' > nodes/pve1/priv/pve-ssl.key`,
        `mkdir nodes/pve1/priv/sub`,
      ].join(' && '),
    );
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('everything is uid 0 / gid www-data; files 0640, dirs 0755, under priv/ and nodes/*/priv/ files 0600 and dirs 0700', async () => {
    const r = await d.sh(
      `cd ${d.mnt} && stat -c '%n %u %g %a %F' . nodes nodes/pve1 nodes/pve1/qemu-server nodes/pve1/qemu-server/100.conf storage.cfg firewall firewall/sub priv priv/lock priv/authkey.key priv/acme priv/acme/key nodes/pve1/priv nodes/pve1/priv/pve-ssl.key nodes/pve1/priv/sub`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      '. 0 33 755 directory',
      'nodes 0 33 755 directory',
      'nodes/pve1 0 33 755 directory',
      'nodes/pve1/qemu-server 0 33 755 directory',
      'nodes/pve1/qemu-server/100.conf 0 33 640 regular file',
      'storage.cfg 0 33 640 regular file',
      'firewall 0 33 755 directory',
      'firewall/sub 0 33 755 directory',
      'priv 0 33 700 directory',
      'priv/lock 0 33 700 directory',
      'priv/authkey.key 0 33 600 regular file',
      'priv/acme 0 33 700 directory',
      'priv/acme/key 0 33 600 regular file',
      'nodes/pve1/priv 0 33 700 directory',
      'nodes/pve1/priv/pve-ssl.key 0 33 600 regular file',
      'nodes/pve1/priv/sub 0 33 700 directory',
    ]);
  });

  it('the mode asked for at create/mkdir and the umask do not matter', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
os.umask(0o077)
os.close(os.open('mode-a', os.O_CREAT|os.O_WRONLY, 0o777))
os.mkdir('mode-d', 0o700)
os.umask(0)
os.close(os.open('priv/mode-b', os.O_CREAT|os.O_WRONLY, 0o666))
os.mkdir('priv/mode-e', 0o777)
for n in ['mode-a', 'mode-d', 'priv/mode-b', 'priv/mode-e']:
    st = os.stat(n); print(n, oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)
os.unlink('mode-a'); os.rmdir('mode-d'); os.unlink('priv/mode-b'); os.rmdir('priv/mode-e')
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['mode-a 0o640 0 33', 'mode-d 0o755 0 33', 'priv/mode-b 0o600 0 33', 'priv/mode-e 0o700 0 33']);
  });

  it('www-data reads everything outside priv/', async () => {
    const r = await d.sh(
      `cd ${d.mnt} && cat nodes/pve1/qemu-server/100.conf storage.cfg && ls nodes/pve1/qemu-server && ls -d firewall/sub && cat qemu-server/100.conf`,
      { user: 'www-data' },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('cores: 2\ndir: local\n\tpath /var/lib/vz\n100.conf\nfirewall/sub\ncores: 2\n');
  });

  it('www-data writes nothing: create, overwrite, append, truncate, mkdir, unlink, rmdir, rename, utime all EACCES', async () => {
    const r = await d.py(
      `
os.chdir(${JSON.stringify(d.mnt)})
print('create', W('wwwnew', 'x'))
print('create-in-qemu', W('nodes/pve1/qemu-server/555.conf', 'x'))
print('overwrite', W('storage.cfg', 'x'))
print('append', W('storage.cfg', 'x', os.O_WRONLY|os.O_APPEND))
print('truncate', E(os.truncate, 'storage.cfg', 0))
print('mkdir', E(os.mkdir, 'wwwdir'))
print('unlink', E(os.unlink, 'storage.cfg'))
print('rmdir', E(os.rmdir, 'firewall/sub'))
print('rename', E(os.rename, 'storage.cfg', 'storage.cfg2'))
print('utime', E(os.utime, 'storage.cfg', (1, 1)))
`,
      { user: 'www-data' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      'create open:EACCES',
      'create-in-qemu open:EACCES',
      'overwrite open:EACCES',
      'append open:EACCES',
      'truncate EACCES',
      'mkdir EACCES',
      'unlink EACCES',
      'rmdir EACCES',
      'rename EACCES',
      // utime(path, times) needs ownership (EPERM) — the kernel's answer for non-owners
      'utime EPERM',
    ]);
    const after = await d.sh(`cat ${d.mnt}/storage.cfg; test -e ${d.mnt}/wwwnew || echo absent`);
    expect(after.stdout).toBe('dir: local\n\tpath /var/lib/vz\nabsent\n');
  });

  it('www-data cannot read or list priv/ or nodes/*/priv/', async () => {
    const r = await d.py(
      `
os.chdir(${JSON.stringify(d.mnt)})
print(E(os.listdir, 'priv'))
print(E(R, 'priv/authkey.key'))
print(E(os.stat, 'priv/authkey.key'))
print(E(R, 'priv/acme/key'))
print(E(os.listdir, 'nodes/pve1/priv'))
print(E(R, 'nodes/pve1/priv/pve-ssl.key'))
`,
      { user: 'www-data' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['EACCES', 'EACCES', 'EACCES', 'EACCES', 'EACCES', 'EACCES']);
  });

  it('root reads and writes priv/', async () => {
    const r = await d.sh(`cd ${d.mnt} && cat priv/authkey.key && echo more >> priv/authkey.key && cat priv/authkey.key && ls priv/acme && ls nodes/pve1/priv`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('secret\nsecret\nmore\nkey\npve-ssl.key\nsub\n');
  });

  it('chmod only to the mode the entry already has, else EPERM', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print('file-same', E(os.chmod, 'storage.cfg', 0o640))
print('file-644', E(os.chmod, 'storage.cfg', 0o644))
print('file-600', E(os.chmod, 'storage.cfg', 0o600))
print('file-755', E(os.chmod, 'storage.cfg', 0o755))
print('dir-same', E(os.chmod, 'firewall', 0o755))
print('dir-700', E(os.chmod, 'firewall', 0o700))
print('priv-same', E(os.chmod, 'priv/authkey.key', 0o600))
print('priv-640', E(os.chmod, 'priv/authkey.key', 0o640))
print('privdir-same', E(os.chmod, 'priv/acme', 0o700))
print('privdir-755', E(os.chmod, 'priv/acme', 0o755))
print(oct(os.stat('storage.cfg').st_mode & 0o7777), oct(os.stat('priv/authkey.key').st_mode & 0o7777))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      'file-same OK',
      'file-644 EPERM',
      'file-600 EPERM',
      'file-755 EPERM',
      'dir-same OK',
      'dir-700 EPERM',
      'priv-same OK',
      'priv-640 EPERM',
      'privdir-same OK',
      'privdir-755 EPERM',
      '0o640 0o600',
    ]);
  });

  it('chown only to uid 0/-1 and gid www-data/-1, else EPERM', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print(E(os.chown, 'storage.cfg', 0, 33))
print(E(os.chown, 'storage.cfg', -1, -1))
print(E(os.chown, 'storage.cfg', 0, -1))
print(E(os.chown, 'storage.cfg', -1, 33))
print(E(os.chown, 'storage.cfg', 33, 33))
print(E(os.chown, 'storage.cfg', 0, 0))
print(E(os.chown, 'firewall', 1000, -1))
print(E(os.chown, 'priv/authkey.key', -1, 0))
st = os.stat('storage.cfg'); print(st.st_uid, st.st_gid)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['OK', 'OK', 'OK', 'OK', 'EPERM', 'EPERM', 'EPERM', 'EPERM', '0 33']);
    // the shell tools admins use
    const c = await d.sh(`cd ${d.mnt} && chown root:www-data storage.cfg && chmod 640 storage.cfg && chmod 0600 priv/authkey.key && echo ok`);
    expect(c.stdout.trim(), c.stderr).toBe('ok');
  });

  it('symlink and mknod of fifo/socket/device are ENOSYS, link EPERM; mknod of a regular file works', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print('symlink', E(os.symlink, 'storage.cfg', 'sl'))
print('fifo', E(os.mkfifo, 'ff'))
print('sock', E(os.mknod, 'so', stat.S_IFSOCK | 0o600))
print('chr', E(os.mknod, 'cd', stat.S_IFCHR | 0o600, os.makedev(1, 3)))
print('blk', E(os.mknod, 'bd', stat.S_IFBLK | 0o600, os.makedev(7, 0)))
print('link', E(os.link, 'storage.cfg', 'hl'))
print('reg', E(os.mknod, 'regnod', stat.S_IFREG | 0o640))
print(sorted(n for n in os.listdir('.') if n in ('sl', 'ff', 'so', 'cd', 'bd', 'hl', 'regnod')))
print(os.stat('regnod').st_size)
os.unlink('regnod')
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      'symlink ENOSYS',
      'fifo ENOSYS',
      'sock ENOSYS',
      'chr ENOSYS',
      'blk ENOSYS',
      'link EPERM',
      'reg OK',
      "['regnod']",
      '0',
    ]);
    // the shell's view
    const s = await d.sh(`cd ${d.mnt} && ln -s storage.cfg x 2>&1; mkfifo y 2>&1; ln storage.cfg z 2>&1; true`);
    expect(s.stdout).toMatch(/Function not implemented/);
    expect(s.stdout).toMatch(/Operation not permitted/);
  });

  it('xattrs: get/set/list/remove are ENOTSUP', async () => {
    const r = await d.py(`
p = ${JSON.stringify(d.mnt + '/storage.cfg')}
print(E(os.setxattr, p, 'user.test', b'1'))
print(E(os.getxattr, p, 'user.test'))
print(E(os.listxattr, p))
print(E(os.removexattr, p, 'user.test'))
print(E(os.setxattr, ${JSON.stringify(d.mnt + '/firewall')}, 'user.test', b'1'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['ENOTSUP', 'ENOTSUP', 'ENOTSUP', 'ENOTSUP', 'ENOTSUP']);
  });
});
