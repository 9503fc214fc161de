// Where the daemon logs. Detached (as systemd starts it) it logs to syslog, like the original, and never into the
// terminal or file it was started from; without a syslog socket it logs to RUN_DIR/pmxcfs.log (0600); `-f` keeps
// stderr (test/fs/cli.test.ts). The syslog socket here is a fake listener in the test's temp dir, never the host's.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, DAEMON_JS, forceUnmount, makeStateDir, mountAnswers, PYTHON, sh, sleep, type StateDir } from '../helpers/daemon.js';

const started: number[] = [];
const listeners: ChildProcess[] = [];

afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const l of listeners.splice(0)) l.kill('SIGKILL');
  await cleanupAll();
});

/** A syslog socket of our own: every datagram becomes one line of `out`. */
async function fakeSyslog(sock: string, out: string): Promise<void> {
  const l = spawn(PYTHON, ['-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
f = open(sys.argv[2], 'ab', buffering=0)
print('ready', flush=True)
while True:
    f.write(s.recv(65536).replace(b'\\n', b' ') + b'\\n')
`, sock, out], { stdio: ['ignore', 'pipe', 'inherit'] });
  listeners.push(l);
  await new Promise<void>((r) => l.stdout!.once('data', () => r()));
}

async function waitFor(f: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await sleep(50);
  }
  return f();
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

/** `pmxcfs` without -f, its stdout and stderr into files (as from a terminal or a redirect); returns its exit code. */
async function startDetached(s: StateDir, env: Record<string, string>): Promise<{ code: number; pid: number; out: string; err: string }> {
  const out = join(s.dir, 'caller.out');
  const err = join(s.dir, 'caller.err');
  const r = await sh(
    `${process.execPath} ${DAEMON_JS} -l --mount ${s.mnt} --db ${s.db} --run-dir ${s.run} --nodename pve1 --fuse native >${out} 2>${err}`,
    { env, timeout: 30_000 },
  );
  const pid = Number(read(join(s.run, 'pmxcfs.pid')).trim());
  if (pid > 0) started.push(pid);
  return { code: r.code, pid, out, err };
}

async function stopDetached(s: StateDir, pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !existsSync(`/proc/${pid}`));
  forceUnmount(s.mnt);
}

describe('logging', () => {
  it('detached, the daemon logs to syslog (tag pmxcfs[pid], facility daemon) and nothing reaches the terminal it was started from', async () => {
    const s = makeStateDir();
    const sock = join(s.dir, 'log.sock');
    const got = join(s.dir, 'syslog.txt');
    await fakeSyslog(sock, got);
    const d = await startDetached(s, { PMXCFS_SYSLOG_SOCKET: sock });
    expect(d.code).toBe(0);
    expect(d.pid).toBeGreaterThan(0);
    expect(await mountAnswers(s.mnt)).toBe(true);
    // things the daemon logs after the command returned
    process.kill(d.pid, 'SIGHUP');
    expect(await waitFor(() => read(got).includes('SIGHUP ignored'))).toBe(true);
    await stopDetached(s, d.pid);
    expect(await waitFor(() => read(got).includes('stopping'))).toBe(true);
    const lines = read(got).trim().split('\n');
    const mounted = lines.find((l) => l.includes('mounted'));
    expect(mounted, read(got)).toBeDefined();
    // <30> = facility daemon (3) * 8 + severity info (6); the tag carries the daemon's pid
    expect(mounted).toMatch(new RegExp(`^<30>.*pmxcfs\\[${d.pid}\\]: mounted`));
    expect(read(d.out)).toBe('');
    expect(read(d.err)).toBe('');
  });

  it('detached without a syslog socket: JSON lines in RUN_DIR/pmxcfs.log, mode 0600; still nothing on the terminal', async () => {
    const s = makeStateDir();
    const d = await startDetached(s, { PMXCFS_SYSLOG_SOCKET: join(s.dir, 'no-such-socket') });
    expect(d.code).toBe(0);
    process.kill(d.pid, 'SIGHUP');
    const logFile = join(s.run, 'pmxcfs.log');
    expect(await waitFor(() => read(logFile).includes('SIGHUP ignored'))).toBe(true);
    await stopDetached(s, d.pid);
    const lines = read(logFile).trim().split('\n');
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'mounted')).toBe(true);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
    expect(read(d.out)).toBe('');
    expect(read(d.err)).toBe('');
  });
});
