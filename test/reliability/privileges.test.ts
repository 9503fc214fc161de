// Nobody gets in: the files the daemon keeps are unreadable to other users (also when an older version left them
// wider), www-data reads the tree but changes nothing and never reads priv/, and no path under the mount lets anyone
// (root included) create symlinks, device nodes or setuid/setgid files.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoCleanup, DAEMON_JS, makeStateDir, py, run, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('each');

const BACKEND = 'native';
const mode = (p: string) => statSync(p).mode & 0o7777;

function stateFiles(d: Daemon): string[] {
  return [d.db, `${d.db}-wal`, `${d.db}-shm`, join(d.dir, 'db', '.pmxcfs.lockfile'), join(d.run, 'pmxcfs.pid')];
}

/** The whole tree as root sees it: paths, modes, sizes, content hashes (generated files left out). */
async function tree(d: Daemon): Promise<string> {
  const r = await d.py(`
import hashlib
out = []
for root, dirs, files in os.walk(${JSON.stringify(d.mnt)}):
    dirs.sort()
    for n in sorted(files) + dirs:
        p = os.path.join(root, n)
        st = os.lstat(p)
        if n.startswith('.') and root == ${JSON.stringify(d.mnt)}: continue
        h = hashlib.sha1(R(p)).hexdigest() if stat.S_ISREG(st.st_mode) else ''
        out.append('%s %o %d %d %s' % (os.path.relpath(p, ${JSON.stringify(d.mnt)}), st.st_mode, st.st_uid, st.st_gid, h))
print('\\n'.join(out))
`);
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('privileges', () => {
  it('the database, its WAL and SHM, the lock file and the pid file are created unreadable to other users', async () => {
    const d = await startDaemon({ backend: BACKEND });
    expect((await d.sh(`echo x > ${d.mnt}/x`)).code).toBe(0);
    for (const f of stateFiles(d).slice(0, 4)) expect(mode(f), f).toBe(0o600);
    expect(mode(join(d.run, 'pmxcfs.pid')) & 0o007, 'pid file').toBe(0);
    // www-data cannot open any of them
    const r = await py(`print(' '.join(E(open, f, 'rb') for f in ${JSON.stringify(stateFiles(d).slice(0, 4))}))`, { user: 'www-data' });
    expect(r.stdout.trim()).toBe('EACCES EACCES EACCES EACCES');
    // the record of discarded changes lives in the database: `pmxcfs --discarded` as www-data reads nothing
    const rec = await run([process.execPath, DAEMON_JS, '--discarded', '--db', d.db], { user: 'www-data' });
    expect(rec.code).not.toBe(0);
    expect(rec.stdout).toBe('');
  });

  it('files left world-readable (0644) by an older version are narrowed to 0600 at start, and the log says so', async () => {
    const s = makeStateDir();
    // a first run creates the database and its WAL and SHM, then an older version's modes are put back
    const d1 = await startDaemon({ backend: BACKEND, dir: s.dir });
    expect((await d1.sh(`echo x > ${d1.mnt}/x`)).code).toBe(0);
    await d1.kill('SIGKILL'); // keeps the WAL and SHM files
    for (const f of [s.db, `${s.db}-wal`, `${s.db}-shm`]) chmodSync(f, 0o644);
    writeFileSync(join(s.run, 'pmxcfs.log'), '');
    chmodSync(join(s.run, 'pmxcfs.log'), 0o666);
    const d = await startDaemon({ backend: BACKEND, dir: s.dir });
    for (const f of [s.db, `${s.db}-wal`, `${s.db}-shm`, join(s.run, 'pmxcfs.log')]) {
      expect(mode(f), f).toBe(0o600);
      expect(d.log(), f).toContain(`${f} was readable by other users (mode 0644`.replace('0644', f.endsWith('.log') ? '0666' : '0644'));
    }
    expect((await d.sh(`cat ${d.mnt}/x`)).stdout).toBe('x\n');
  });

  it('www-data reads but changes nothing: every kind of change on every kind of entry is refused and the tree stays as it was', async () => {
    const d = await startDaemon({ backend: BACKEND });
    expect((await d.sh(`cd ${d.mnt} && echo a > file && mkdir dir && echo s > priv/secret && echo k > nodes/pve1/priv/key && echo 'memory: 512' > qemu-server/100.conf`)).code).toBe(0);
    const before = await tree(d);
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
targets = ['file', 'dir', 'priv/secret', 'priv', 'nodes/pve1/priv/key', 'qemu-server/100.conf', 'nodes/pve1/qemu-server', 'local', '.debug', '.version', 'priv/lock']
res = []
for t in targets:
    for what, f in [
        ('open w', lambda: os.open(t, os.O_WRONLY)), ('open trunc', lambda: os.open(t, os.O_WRONLY|os.O_TRUNC)),
        ('open append', lambda: os.open(t, os.O_WRONLY|os.O_APPEND)), ('truncate', lambda: os.truncate(t, 0)),
        ('unlink', lambda: os.unlink(t)), ('rmdir', lambda: os.rmdir(t)), ('rename from', lambda: os.rename(t, 'moved')),
        ('rename onto', lambda: os.rename('file' if t != 'file' else 'qemu-server/100.conf', t)), ('chmod', lambda: os.chmod(t, 0o777)), ('chown', lambda: os.chown(t, 33, 33)),
        ('utime 0', lambda: os.utime(t, (0, 0))), ('utime now', lambda: os.utime(t)), ('setxattr', lambda: os.setxattr(t, 'user.x', b'1')),
        ('link', lambda: os.link(t, 'hard')), ('symlink', lambda: os.symlink(t, 'sym')), ('mkdir in', lambda: os.mkdir(t + '/sub')),
        ('create in', lambda: os.open(t + '/new', os.O_WRONLY|os.O_CREAT, 0o4777)), ('mknod in', lambda: os.mknod(t + '/node', 0o600|stat.S_IFIFO)),
    ]:
        res.append('%s %s %s' % (t, what, E(f)))
res += ['lock ' + E(os.mkdir, 'priv/lock/x'), 'create ' + E(os.open, 'new', os.O_WRONLY|os.O_CREAT), 'mkdir ' + E(os.mkdir, 'newdir')]
print(json.dumps(res))
`, { user: 'www-data' });
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout) as string[];
    expect(res.length).toBeGreaterThan(100);
    expect(res.filter((x) => x.endsWith(' OK'))).toEqual([]);
    // and what it may read, it reads; what it may not, it cannot
    const rd = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print(E(R, 'file'), E(R, 'qemu-server/100.conf'), E(R, '.members'), E(R, 'priv/secret'), E(R, 'nodes/pve1/priv/key'), E(os.listdir, 'priv'), E(os.listdir, 'nodes/pve1/priv'))
`, { user: 'www-data' });
    expect(rd.stdout.trim()).toBe('OK OK OK EACCES EACCES EACCES EACCES');
    expect(await tree(d)).toBe(before);
  });

  it('nobody, root included, creates a symlink, a device node, a fifo or a setuid/setgid file under the mount', async () => {
    const d = await startDaemon({ backend: BACKEND });
    const code = `
os.chdir(${JSON.stringify(d.mnt)})
res = {}
res['symlink'] = E(os.symlink, 'file', 'sym')
res['chardev'] = E(os.mknod, 'cdev', 0o600|stat.S_IFCHR, os.makedev(1, 3))
res['blockdev'] = E(os.mknod, 'bdev', 0o600|stat.S_IFBLK, os.makedev(7, 0))
res['fifo'] = E(os.mknod, 'fifo', 0o600|stat.S_IFIFO)
res['socket'] = E(os.mknod, 'sock', 0o600|stat.S_IFSOCK)
fd = os.open('suid', os.O_WRONLY|os.O_CREAT, 0o6777); os.close(fd)
res['create 06777'] = oct(os.stat('suid').st_mode & 0o7777)
res['chmod u+s'] = E(os.chmod, 'suid', 0o4640)
res['chmod g+s'] = E(os.chmod, 'suid', 0o2640)
os.mkdir('sdir', 0o7777)
res['mkdir 07777'] = oct(os.stat('sdir').st_mode & 0o7777)
res['chmod dir g+s'] = E(os.chmod, 'sdir', 0o2755)
res['chmod dir +t'] = E(os.chmod, 'sdir', 0o1755)
res['after'] = oct(os.stat('suid').st_mode & 0o7777) + ' ' + oct(os.stat('sdir').st_mode & 0o7777)
print(json.dumps(res))
`;
    const r = await d.py(code);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      symlink: 'ENOSYS', chardev: 'ENOSYS', blockdev: 'ENOSYS', fifo: 'ENOSYS', socket: 'ENOSYS',
      'create 06777': '0o640', 'chmod u+s': 'EPERM', 'chmod g+s': 'EPERM',
      'mkdir 07777': '0o755', 'chmod dir g+s': 'EPERM', 'chmod dir +t': 'EPERM',
      after: '0o640 0o755',
    });
    // the mount itself carries nosuid and nodev, so even a file that somehow had the bits would not use them
    const opts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === d.mnt)!.split(' ')[5]!;
    expect(opts.split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
  });
});

