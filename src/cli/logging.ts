// Where the daemon's log goes. In the foreground (-f): pino JSON on stderr. Detached (also under systemd, whose
// unit starts it without -f): to syslog like the original, which on a systemd machine is the journal (journald
// serves /dev/log), through `logger` (Node has no unix datagram sockets); the terminal that started it never sees
// a line. Without a syslog socket: JSON lines in RUN_DIR/pmxcfs.log (mode 0600).
import { spawn } from 'node:child_process';
import { statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Set by `detach()` for the daemon it starts. */
export const DETACHED_ENV = 'PMXCFS_DETACHED';
/** Test-only: the syslog socket (default /dev/log). */
export const SYSLOG_SOCKET_ENV = 'PMXCFS_SYSLOG_SOCKET';

export const LOG_FILE = 'pmxcfs.log';

const FACILITY_DAEMON = 3;

/** pino level -> syslog severity */
export function severity(level: number): number {
  if (level >= 60) return 2; // crit
  if (level >= 50) return 3; // err
  if (level >= 40) return 4; // warning
  if (level >= 30) return 6; // info
  return 7; // debug
}

/** One pino JSON line as a syslog line: `<PRI>message {other fields}` (logger --prio-prefix reads the PRI). */
export function syslogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `<${FACILITY_DAEMON * 8 + 6}>${json.trim()}\n`;
  }
  const { level, msg, time: _t, pid: _p, name: _n, hostname: _h, ...rest } = rec;
  const pri = FACILITY_DAEMON * 8 + severity(typeof level === 'number' ? level : 30);
  const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
  // syslog lines are single lines
  return `<${pri}>${String(msg ?? '').replace(/\n/g, ' | ')}${extra.replace(/\n/g, ' ')}\n`;
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

/** A pino destination writing through a `logger` child to the syslog socket; null when that cannot work. */
function syslogDestination(socket: string): DestinationStream | null {
  if (!isSocket(socket)) return null;
  const child = spawn('logger', ['--socket', socket, '--socket-errors=off', '-t', 'pmxcfs', `--id=${process.pid}`, '--prio-prefix'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => {});
  child.stdin!.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  // Written synchronously, so the last lines before an exit are not lost; a full pipe falls back to the queue.
  const fd = (child.stdin as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return {
    write(line: string): void {
      const out = syslogLine(line);
      if (typeof fd === 'number' && fd >= 0 && child.exitCode === null) {
        try {
          writeSync(fd, out);
          return;
        } catch {
          // EAGAIN (pipe full): queue it
        }
      }
      child.stdin!.write(out);
    },
  };
}

export interface LogTarget {
  kind: 'stderr' | 'syslog' | 'file';
  logger: Logger;
}

export function createDaemonLogger(o: { debug: boolean; runDir: string }, env: NodeJS.ProcessEnv = process.env): LogTarget {
  const opts = { name: 'pmxcfs', level: o.debug ? 'debug' : 'info', base: { pid: process.pid } };
  if (env[DETACHED_ENV] !== '1') return { kind: 'stderr', logger: pino(opts, pino.destination(2)) };
  const dest = syslogDestination(env[SYSLOG_SOCKET_ENV] || '/dev/log');
  if (dest) return { kind: 'syslog', logger: pino(opts, dest) };
  return { kind: 'file', logger: pino(opts, pino.destination({ dest: join(o.runDir, LOG_FILE), sync: true, mode: 0o600, mkdir: true })) };
}
