// The daemon's command line and signals (docs/FILESYSTEM.md "Daemon command line").
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  autoCleanup,
  BACKENDS,
  createOriginalDb,
  DAEMON_JS,
  isMounted,
  makeStateDir,
  mountAnswers,
  originalTree,
  pidsMentioning,
  sh,
  sleep,
  spawnDaemon,
  startDaemon,
  within,
} from '../helpers/daemon.js';

autoCleanup('each');

async function waitUnmounted(mnt: string, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isMounted(mnt)) return true;
    await sleep(50);
  }
  return !isMounted(mnt);
}

describe.each(BACKENDS)('daemon command line (%s)', (backend) => {
  it('with -f it stays in the foreground, prints nothing on stdout and logs pino JSON on stderr', async () => {
    const d = await startDaemon({ backend });
    expect((await d.sh(`echo x > ${d.mnt}/x && rm ${d.mnt}/x`)).code).toBe(0);
    expect(await d.stop()).toBe(0);
    expect(d.stdout()).toBe('');
    const lines = d.log().split('\n').filter((l) => l.trim() !== '');
    for (const l of lines) expect(() => JSON.parse(l), `not JSON: ${l}`).not.toThrow();
  });

  it('SIGTERM unmounts and exits 0', async () => {
    const d = await startDaemon({ backend });
    expect(d.mounted()).toBe(true);
    expect(await d.stop()).toBe(0);
    expect(isMounted(d.mnt)).toBe(false);
  });

  it('SIGINT unmounts and exits 0', async () => {
    const d = await startDaemon({ backend });
    await d.kill('SIGINT');
    expect(await d.exited).toBe(0);
    expect(isMounted(d.mnt)).toBe(false);
  });

  it('SIGTERM while a client writes: the acknowledged work is kept', async () => {
    const d = await startDaemon({ backend });
    const writer = d.py(
      `
os.chdir(${JSON.stringify(d.mnt)})
n = 0
try:
    for i in range(100000):
        fd = os.open('t%05d' % i, os.O_WRONLY|os.O_CREAT); os.write(fd, b'%d' % i); os.close(fd)
        n = i + 1
except OSError as e:
    pass
print(n)
`,
      { timeout: 60_000 },
    );
    await sleep(700);
    expect(await d.stop()).toBe(0);
    const n = Number((await writer).stdout.trim());
    expect(n).toBeGreaterThan(0);
    const d2 = await startDaemon({ backend, dir: d.dir });
    const r = await d2.py(`
os.chdir(${JSON.stringify(d2.mnt)})
missing = [i for i in range(${n}) if not os.path.exists('t%05d' % i) or R('t%05d' % i) != b'%d' % i]
print(missing)
`);
    expect(r.stdout.trim()).toBe('[]');
  });

  it('a second instance on the same database fails with exit 1 naming the lock file; the first keeps serving', async () => {
    const d = await startDaemon({ backend });
    const mnt2 = join(d.dir, 'mnt2');
    mkdirSync(mnt2);
    const dp = spawnDaemon({ backend, dir: d.dir, mnt: mnt2 });
    const code = await within(dp.exited, 15_000);
    if (code === undefined) dp.child.kill('SIGKILL');
    const stderr = readFileSync(dp.logPath, 'utf8');
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/\.pmxcfs\.lockfile/);
    expect(isMounted(mnt2)).toBe(false);
    expect(await mountAnswers(d.mnt)).toBe(true);
    expect((await d.sh(`echo still > ${d.mnt}/s && cat ${d.mnt}/s`)).stdout).toBe('still\n');
  });

  it('without -f it detaches and the command exits 0 once the mount is ready; SIGTERM to the daemon unmounts', async () => {
    const sd = makeStateDir();
    const dp = spawnDaemon({ backend, dir: sd.dir, foreground: false });
    const code = await within(dp.exited, 20_000);
    const stderr = readFileSync(dp.logPath, 'utf8');
    // find the detached daemon by its unique mount path so that it can be stopped whatever happens
    const pids = pidsMentioning(sd.mnt).filter((p) => p !== dp.child.pid);
    try {
      expect(code, stderr).toBe(0);
      // ready at the moment the command returned
      expect(isMounted(sd.mnt)).toBe(true);
      expect(await mountAnswers(sd.mnt)).toBe(true);
      expect(pids.length).toBe(1);
    } finally {
      for (const p of pids) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
    }
    expect(await waitUnmounted(sd.mnt)).toBe(true);
    for (const p of pids) {
      const end = Date.now() + 10_000;
      while (Date.now() < end && pidsMentioning(sd.mnt).includes(p)) await sleep(50);
      if (pidsMentioning(sd.mnt).includes(p)) process.kill(p, 'SIGKILL');
    }
  });

  it('a script that captures the output of pmxcfs gets it and goes on (the daemon does not hold the pipe)', async () => {
    const sd = makeStateDir();
    const cmd = `${process.execPath} ${DAEMON_JS} -l --mount ${sd.mnt} --db ${sd.db} --run-dir ${sd.run} --nodename pve1 --fuse ${backend}`;
    const r = await sh(`out=$(${cmd} 2>&1); echo "rc=$? out=[$out]"; out=$(${cmd} 2>&1); echo "rc=$?"; echo "$out"`, { timeout: 20_000 });
    const pids = pidsMentioning(sd.mnt);
    try {
      const lines = r.stdout.split('\n');
      expect(lines[0]).toBe('rc=0 out=[]');
      // the second start meets the first's lock file and says so through the same pipe
      expect(lines[1]).toBe('rc=1');
      expect(r.stdout).toMatch(/lock file/);
      expect(isMounted(sd.mnt)).toBe(true);
    } finally {
      for (const p of pids) process.kill(p, 'SIGTERM');
    }
    expect(await waitUnmounted(sd.mnt)).toBe(true);
  });

  it('without -f a failed start exits non-zero with the reason on stderr', async () => {
    const sd = makeStateDir();
    createOriginalDb(sd.db, originalTree('pve1').filter((r) => r.inode !== 0)); // no __version__ row
    const dp = spawnDaemon({ backend, dir: sd.dir, foreground: false });
    const code = await within(dp.exited, 20_000);
    const stderr = readFileSync(dp.logPath, 'utf8');
    for (const p of pidsMentioning(sd.mnt)) process.kill(p, 'SIGKILL');
    expect(code).toBeDefined();
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/__version__/);
    expect(isMounted(sd.mnt)).toBe(false);
  });

  it('after SIGKILL the next start (at once) clears the stale mount and serves the same tree', async () => {
    const d = await startDaemon({ backend });
    expect((await d.sh(`echo kept > ${d.mnt}/kept.cfg && stat ${d.mnt} > /dev/null`)).code).toBe(0);
    await d.kill('SIGKILL');
    const d2 = await startDaemon({ backend, dir: d.dir });
    expect((await d2.sh(`cat ${d2.mnt}/kept.cfg`)).stdout).toBe('kept\n');
    // exactly one mount of that point remains
    const n = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === d2.mnt).length;
    expect(n).toBe(1);
    expect(await d2.stop()).toBe(0);
    expect(isMounted(d2.mnt)).toBe(false);
  });

  it('a start over a mount whose daemon no longer answers aborts it: callers waiting on it are released', async () => {
    // (a killed daemon whose thread is stuck in the kernel behind such a caller leaves the same state)
    const d = await startDaemon({ backend });
    expect((await d.sh(`echo kept > ${d.mnt}/kept.cfg`)).code).toBe(0);
    process.kill(d.pid, 'SIGSTOP');
    try {
      const waiting = d.sh(`cat ${d.mnt}/kept.cfg`, { timeout: 30_000 });
      await sleep(300);
      const d2 = await startDaemon({ backend, mnt: d.mnt, timeout: 20_000 });
      const r = await waiting;
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Software caused connection abort|Transport endpoint is not connected/);
      expect(d2.log()).toMatch(/aborted the FUSE connection of the stale mount/);
      expect((await d2.sh(`ls ${d2.mnt}/nodes`)).code).toBe(0);
      expect(await d2.stop()).toBe(0);
    } finally {
      process.kill(d.pid, 'SIGKILL');
      process.kill(d.pid, 'SIGCONT');
    }
  });

  it('the mount has a guard that outlives the daemon only to abort its FUSE connection, then ends', async () => {
    const d = await startDaemon({ backend });
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === d.mnt)!;
    const conn = line.split(' ')[2]!.split(':')[1]!;
    const guards = (): number[] =>
      pidsMentioning('pmxcfs-guard').filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(conn);
        } catch {
          return false;
        }
      });
    // one reading per round: a guard that is between setpriv and its exec of sh has no readable cmdline for a moment
    const waitGuards = async (n: number): Promise<number> => {
      let seen = -1;
      for (let i = 0; i < 100; i++) {
        seen = guards().length;
        if (seen === n) break;
        await sleep(50);
      }
      return seen;
    };
    expect(await waitGuards(1)).toBe(1);
    await d.kill('SIGKILL');
    expect(await waitGuards(0)).toBe(0);
  });

  it('after SIGKILL the mount answers "Transport endpoint is not connected" (or is gone with auto_unmount)', async () => {
    const d = await startDaemon({ backend });
    await d.kill('SIGKILL');
    const r = await d.sh(`ls ${d.mnt}`, { timeout: 5000 });
    if (isMounted(d.mnt)) expect(r.stderr).toMatch(/Transport endpoint is not connected/);
    else expect(r.stdout).toBe('');
  });

  it('--nodename sets the node directory, the symlinks and .members', async () => {
    const d = await startDaemon({ backend, nodename: 'alpha7' });
    const r = await d.sh(`cd ${d.mnt} && readlink local qemu-server && test -d nodes/alpha7/lxc && cat .members`);
    expect(r.code, r.stderr).toBe(0);
    const [l1, l2, ...json] = r.stdout.trim().split('\n');
    expect([l1, l2]).toEqual(['nodes/alpha7', 'nodes/alpha7/qemu-server']);
    expect(JSON.parse(json.join('\n'))).toMatchObject({ nodename: 'alpha7' });
  });
});
