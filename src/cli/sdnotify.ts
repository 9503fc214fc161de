// Readiness for systemd (Type=notify). Node has no unix datagram sockets, so systemd-notify sends the message.
// systemd-notify, run by root, sends it with this process's pid as the sender (--pid), so systemd credits the main
// pid even after systemd-notify has exited (no race with NotifyAccess=all looking up a dead sender).
import { execFile } from 'node:child_process';
import type { Logger } from '../log.js';

/** Tells systemd the service is ready, when started by systemd with a notify socket; does nothing otherwise. */
export function notifyReady(log: Logger, status: string): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=${status}`], { timeout: 10_000 }, (err) => {
    if (err) log.warn({ err: err.message }, 'systemd-notify failed: systemd may not see the service as started');
  });
}
