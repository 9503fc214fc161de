// VMID uniqueness across nodes and guest types; moving a guest between nodes (docs/FILESYSTEM.md "Operations").
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { autoCleanup, BACKENDS, startDaemon, type Daemon } from '../helpers/daemon.js';

autoCleanup('each');

describe.each(BACKENDS)('VMID uniqueness (%s)', (backend) => {
  let d: Daemon;
  beforeEach(async () => {
    d = await startDaemon({ backend });
    // a second node's directories, as the cluster would have them
    const r = await d.sh(`mkdir -p ${d.mnt}/nodes/pve2/qemu-server ${d.mnt}/nodes/pve2/lxc && printf 'cores: 1\\n' > ${d.mnt}/nodes/pve1/qemu-server/100.conf`);
    expect(r.code, r.stderr).toBe(0);
  });
  afterEach(async () => {
    await d?.destroy();
  });

  const vmlist = async () =>
    (JSON.parse((await d.sh(`cat ${d.mnt}/.vmlist`)).stdout) as { ids: Record<string, { node: string; type: string }> }).ids;

  it('creating the same VMID as another type or on another node is EEXIST and creates nothing', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/nodes')})
print(W('pve1/lxc/100.conf', 'arch: amd64'))
print(W('pve2/qemu-server/100.conf', 'cores: 1'))
print(W('pve2/lxc/100.conf', 'arch: amd64'))
print(E(os.mknod, 'pve2/lxc/100.conf', stat.S_IFREG | 0o640))
print(sorted(os.listdir('pve1/lxc')), sorted(os.listdir('pve2/qemu-server')), sorted(os.listdir('pve2/lxc')))
print(W('pve2/lxc/101.conf', 'arch: amd64'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['open:EEXIST', 'open:EEXIST', 'open:EEXIST', 'EEXIST', '[] [] []', 'OK']);
    const ids = await vmlist();
    expect(ids['100']).toMatchObject({ node: 'pve1', type: 'qemu' });
    expect(ids['101']).toMatchObject({ node: 'pve2', type: 'lxc' });
  });

  it('the shell reports "File exists"', async () => {
    const r = await d.sh(`echo 'arch: amd64' > ${d.mnt}/nodes/pve2/lxc/100.conf`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/File exists/);
  });

  it('rewriting a VM config in place or via temp + rename on its own node is allowed', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/nodes/pve1/qemu-server')})
print(W('100.conf', 'cores: 2\\n'))
print(W('100.conf.tmp.1234', 'cores: 3\\n'))
print(E(os.rename, '100.conf.tmp.1234', '100.conf'))
print(R('100.conf'), sorted(os.listdir('.')))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("OK\nOK\nOK\nb'cores: 3\\n' ['100.conf']\n");
  });

  it('renaming onto a VMID that exists for another node or type is EEXIST and leaves both files', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/nodes')})
print(W('pve2/lxc/200.conf', 'arch: amd64'))
print(E(os.rename, 'pve2/lxc/200.conf', 'pve2/lxc/100.conf'))
print(E(os.rename, 'pve2/lxc/200.conf', 'pve1/lxc/100.conf'))
print(W('pve2/qemu-server/new.tmp', 'cores: 9'))
print(E(os.rename, 'pve2/qemu-server/new.tmp', 'pve2/qemu-server/100.conf'))
print(sorted(os.listdir('pve2/lxc')), sorted(os.listdir('pve1/lxc')), sorted(os.listdir('pve2/qemu-server')), R('pve1/qemu-server/100.conf'))
`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      'OK',
      'EEXIST',
      'EEXIST',
      'OK',
      'EEXIST',
      "['200.conf'] [] ['new.tmp'] b'cores: 1\\n'",
    ]);
  });

  it('moving a VM config to another node by rename is allowed and .vmlist follows', async () => {
    const r = await d.sh(`mv ${d.mnt}/nodes/pve1/qemu-server/100.conf ${d.mnt}/nodes/pve2/qemu-server/100.conf && cat ${d.mnt}/nodes/pve2/qemu-server/100.conf && ls ${d.mnt}/nodes/pve1/qemu-server | wc -l`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('cores: 1\n0\n');
    expect((await vmlist())['100']).toMatchObject({ node: 'pve2', type: 'qemu' });
    // and back
    expect((await d.sh(`mv ${d.mnt}/nodes/pve2/qemu-server/100.conf ${d.mnt}/nodes/pve1/qemu-server/100.conf`)).code).toBe(0);
    expect((await vmlist())['100']).toMatchObject({ node: 'pve1', type: 'qemu' });
  });

  it('once a VM config is removed, its VMID can be used by another node or type', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/nodes')})
os.unlink('pve1/qemu-server/100.conf')
print(W('pve2/lxc/100.conf', 'arch: amd64'))
`);
    expect(r.stdout.trim()).toBe('OK');
    expect((await vmlist())['100']).toMatchObject({ node: 'pve2', type: 'lxc' });
  });

  it('names that are not VM configs are not subject to the rule', async () => {
    const r = await d.py(`
os.chdir(${JSON.stringify(d.mnt + '/nodes')})
print(W('pve2/qemu-server/100.conf.bak', 'x'), W('pve2/lxc/notes', 'x'), W('pve2/100.conf', 'x'))
`);
    expect(r.stdout.trim()).toBe('OK OK OK');
  });
});
