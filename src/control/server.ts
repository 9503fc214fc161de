// The daemon's control socket: local, root-only requests from commands such as `pvecm verify`. One JSON object per
// line each way; the socket file is 0600 in the run dir, so only root reaches it.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';

export const CONTROL_SOCKET = 'pmxcfs.sock';
/** a request line longer than this is refused (requests are a few bytes) */
const MAX_REQUEST = 64 * 1024;

export type ControlRequest = { cmd: string } & Record<string, unknown>;
export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

export class ControlServer {
  private server: Server | null = null;

  constructor(
    private readonly path: string,
    private readonly handlers: Record<string, ControlHandler>,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    rmSync(this.path, { force: true }); // a socket left by a killed daemon
    const server = createServer((sock) => this.serve(sock));
    this.server = server;
    // the socket is created with the process umask: make it private from the start, not after a chmod
    const umask = process.umask(0o077);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(this.path, 0o600);
    server.on('error', (err) => this.log.warn({ err: err.message }, 'control socket error'));
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private serve(sock: Socket): void {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return this.reply(sock, { error: `request longer than ${MAX_REQUEST} bytes` });
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.removeAllListeners('data');
      let req: unknown;
      try {
        req = JSON.parse(buf.slice(0, nl));
      } catch {
        return this.reply(sock, { error: 'request is not JSON' });
      }
      const cmd = (req as { cmd?: unknown } | null)?.cmd;
      const handler = typeof cmd === 'string' ? this.handlers[cmd] : undefined;
      if (!handler) return this.reply(sock, { error: `unknown request ${JSON.stringify(cmd ?? null)}` });
      handler(req as ControlRequest).then(
        (result) => this.reply(sock, { result }),
        (err: unknown) => this.reply(sock, { error: (err as Error).message ?? String(err) }),
      );
    });
  }

  private reply(sock: Socket, body: object): void {
    if (!sock.destroyed) sock.end(JSON.stringify(body) + '\n');
  }
}
