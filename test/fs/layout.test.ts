// Layout at first start, the root symlinks and their shadowing, generated files (docs/FILESYSTEM.md
// "Layout at first start").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoCleanup, BACKENDS, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('all');

describe.each(BACKENDS)('layout, symlinks and generated files (%s)', (backend) => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ backend, nodename: 'pve1' });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('first start creates nodes/NAME/{qemu-server,lxc,priv} and priv/lock, but no openvz directory', async () => {
    const r = await d.sh(
      'cd "$MNT" && for p in nodes nodes/pve1 nodes/pve1/qemu-server nodes/pve1/lxc nodes/pve1/priv priv priv/lock; do test -d "$p" && echo "dir $p"; done; test -e nodes/pve1/openvz || echo "no openvz"',
      { env: { MNT: d.mnt } },
    );
    expect(r.stdout.trim().split('\n')).toEqual([
      'dir nodes',
      'dir nodes/pve1',
      'dir nodes/pve1/qemu-server',
      'dir nodes/pve1/lxc',
      'dir nodes/pve1/priv',
      'dir priv',
      'dir priv/lock',
      'no openvz',
    ]);
  });

  it('the root lists the stored dirs, the symlinks and the generated files', async () => {
    const r = await d.sh(`ls -A1 ${d.mnt}`);
    expect(r.code).toBe(0);
    const names = r.stdout.trim().split('\n');
    for (const n of ['nodes', 'priv', 'local', 'qemu-server', 'lxc', 'openvz', '.version', '.members', '.vmlist', '.clusterlog', '.debug']) {
      expect(names).toContain(n);
    }
  });

  it('symlinks point into nodes/NAME, are 0755 root:www-data, and openvz dangles', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
for n in ['local', 'qemu-server', 'lxc', 'openvz']:
    st = os.lstat(n)
    print(n, os.readlink(n), stat.S_ISLNK(st.st_mode), oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, os.path.exists(n))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      'local nodes/pve1 True 0o755 0 33 True',
      'qemu-server nodes/pve1/qemu-server True 0o755 0 33 True',
      'lxc nodes/pve1/lxc True 0o755 0 33 True',
      'openvz nodes/pve1/openvz True 0o755 0 33 False',
    ]);
  });

  it('an admin writes a VM config through the qemu-server symlink and finds it under nodes/NAME', async () => {
    const r = await d.sh(
      `cd ${d.mnt} && printf 'cores: 2\\nmemory: 2048\\n' > qemu-server/990.conf && cat nodes/pve1/qemu-server/990.conf && cat local/qemu-server/990.conf && rm qemu-server/990.conf && ls nodes/pve1/qemu-server`,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('cores: 2\nmemory: 2048\n'.repeat(2));
  });

  it('symlink names shadow stored entries: mkdir EEXIST, unlink EACCES, rename of or onto them EACCES', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
print(W('plainfile', 'x'))
print('mkdir', E(os.mkdir, 'local'))
print('mkdir', E(os.mkdir, 'openvz'))
print('unlink', E(os.unlink, 'local'))
print('unlink', E(os.unlink, 'qemu-server'))
print('rename-of', E(os.rename, 'lxc', 'lxc2'))
print('rename-onto', E(os.rename, 'plainfile', 'local'))
print('rename-onto-dangling', E(os.rename, 'plainfile', 'openvz'))
print('create-excl', E(os.open, 'local', os.O_CREAT|os.O_EXCL|os.O_WRONLY))
print(os.readlink('local'), os.path.exists('plainfile'), os.path.exists('lxc2'))
os.unlink('plainfile')
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      'OK',
      'mkdir EEXIST',
      'mkdir EEXIST',
      'unlink EACCES',
      'unlink EACCES',
      'rename-of EACCES',
      'rename-onto EACCES',
      'rename-onto-dangling EACCES',
      'create-excl EEXIST',
      'nodes/pve1 True False',
    ]);
  });

  it('generated files are root:www-data, 0440 (.debug 0640)', async () => {
    const r = await d.sh(`cd ${d.mnt} && stat -c '%n %u %g %a %F' .version .members .vmlist .clusterlog .debug`);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      '.version 0 33 440 regular file',
      '.members 0 33 440 regular file',
      '.vmlist 0 33 440 regular file',
      '.clusterlog 0 33 440 regular file',
      '.debug 0 33 640 regular file',
    ]);
  });

  it('.version, .members, .vmlist and .clusterlog parse as JSON with the documented fields (read as www-data)', async () => {
    const read = async (n: string) => {
      const r = await d.sh(`cat ${d.mnt}/${n}`, { user: 'www-data' });
      expect(r.code, `${n}: ${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const version = await read('.version');
    for (const k of ['starttime', 'clinfo', 'vmlist', 'version']) expect(typeof version[k], `.version ${k}`).toBe('number');
    const members = await read('.members');
    expect(members.nodename).toBe('pve1');
    expect(typeof members.version).toBe('number');
    expect(members.cluster).toBeUndefined();
    expect(members.nodelist).toBeUndefined();
    const vmlist = await read('.vmlist');
    expect(typeof vmlist.version).toBe('number');
    expect(typeof vmlist.ids).toBe('object');
    const log = await read('.clusterlog');
    expect(Array.isArray(log.data)).toBe(true);
    for (const e of log.data as Record<string, unknown>[]) {
      for (const k of ['uid', 'time', 'pri', 'pid']) expect(typeof e[k]).toBe('number');
      for (const k of ['tag', 'node', 'user', 'msg']) expect(typeof e[k]).toBe('string');
    }
  });

  it('.vmlist is rebuilt at each open: lists a qemu VM and an lxc CT created under nodes/NAME, forgets them when removed', async () => {
    const vmlist = async () => JSON.parse((await d.sh(`cat ${d.mnt}/.vmlist`)).stdout) as { version: number; ids: Record<string, { node: string; type: string; version: number }> };
    const before = await vmlist();
    expect(before.ids['100']).toBeUndefined();
    expect((await d.sh(`printf 'cores: 1\\n' > ${d.mnt}/nodes/pve1/qemu-server/100.conf && printf 'arch: amd64\\n' > ${d.mnt}/nodes/pve1/lxc/101.conf`)).code).toBe(0);
    const after = await vmlist();
    expect(after.ids['100']).toMatchObject({ node: 'pve1', type: 'qemu' });
    expect(typeof after.ids['100']!.version).toBe('number');
    expect(after.ids['101']).toMatchObject({ node: 'pve1', type: 'lxc' });
    expect(after.version).toBeGreaterThan(before.version);
    expect((await d.sh(`rm ${d.mnt}/nodes/pve1/qemu-server/100.conf ${d.mnt}/nodes/pve1/lxc/101.conf`)).code).toBe(0);
    const gone = await vmlist();
    expect(gone.ids['100']).toBeUndefined();
    expect(gone.ids['101']).toBeUndefined();
  });

  it('.version counters move when the tree changes', async () => {
    const v1 = JSON.parse((await d.sh(`cat ${d.mnt}/.version`)).stdout) as { version: number };
    expect((await d.sh(`echo hi > ${d.mnt}/vers-test && rm ${d.mnt}/vers-test`)).code).toBe(0);
    const v2 = JSON.parse((await d.sh(`cat ${d.mnt}/.version`)).stdout) as { version: number };
    expect(v2.version).toBeGreaterThan(v1.version);
  });

  it('.rrd is empty in local mode', async () => {
    const r = await d.sh(`test -e ${d.mnt}/.rrd && wc -c < ${d.mnt}/.rrd`);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('0');
  });

  it('.debug reads 0, accepts "1\\n" and "0\\n", rejects anything else with EIO', async () => {
    const r = await d.py(`
p = ${JSON.stringify(d.mnt + '/.debug')}
print(R(p))
print(W(p, '1\\n', os.O_WRONLY|os.O_TRUNC))
print(R(p))
print(W(p, '0\\n', os.O_WRONLY|os.O_TRUNC))
print(R(p))
print(W(p, '2\\n', os.O_WRONLY|os.O_TRUNC))
print(W(p, 'yes please\\n', os.O_WRONLY|os.O_TRUNC))
print(R(p))
`);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 5)).toEqual([`b'0\\n'`, 'OK', `b'1\\n'`, 'OK', `b'0\\n'`]);
    expect(lines[5]).toMatch(/^(write|close):EIO$/);
    expect(lines[6]).toMatch(/^(write|close):EIO$/);
    expect(lines[7]).toBe(`b'0\\n'`);
  });

  it('www-data can read .debug (group read) but not write it', async () => {
    const r = await d.py(`print(R(${JSON.stringify(d.mnt + '/.debug')})); print(W(${JSON.stringify(d.mnt + '/.debug')}, '1\\n', os.O_WRONLY))`, { user: 'www-data' });
    expect(r.stdout.trim().split('\n')).toEqual([`b'0\\n'`, 'open:EACCES']);
  });

  it('writing any other generated file is EACCES, even for root; they cannot be removed or renamed over', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt)})
for n in ['.version', '.members', '.vmlist', '.clusterlog']:
    print(n, W(n, '{}', os.O_WRONLY), W(n, '{}', os.O_WRONLY|os.O_TRUNC), W(n, 'x', os.O_WRONLY|os.O_APPEND))
print(W('gen-src', 'x'))
print(E(os.rename, 'gen-src', '.vmlist'))
os.unlink('gen-src')
print(json.loads(R('.members'))['nodename'])
`);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    for (const n of ['.version', '.members', '.vmlist', '.clusterlog']) {
      expect(lines).toContain(`${n} open:EACCES open:EACCES open:EACCES`);
    }
    expect(lines[4]).toBe('OK');
    expect(lines[5]).not.toBe('OK');
    expect(lines[6]).toBe('pve1');
  });
});
