// Asks the running daemon through its control socket (src/control/server.ts).
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { CONTROL_SOCKET } from './server.js';

export class ControlError extends Error {}

/** Sends one request to the daemon whose run dir is `runDir` and returns its result. */
export function askDaemon(runDir: string, req: { cmd: string } & Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
  const path = join(runDir, CONTROL_SOCKET);
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlError(`the pmxcfs daemon did not answer within ${timeoutMs / 1000} s (${path})`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => (buf += d));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'is the pmxcfs daemon running?' : err.message;
      reject(new ControlError(`cannot reach the pmxcfs daemon at ${path}: ${why}`));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      let body: { result?: unknown; error?: string };
      try {
        body = JSON.parse(buf) as typeof body;
      } catch {
        return reject(new ControlError(`the pmxcfs daemon gave an unreadable answer: ${JSON.stringify(buf.slice(0, 200))}`));
      }
      if (body.error !== undefined) reject(new ControlError(body.error));
      else resolve(body.result);
    });
  });
}
