// The joining side of the join channel: connect, pin the certificate, ask hello, then join.
import { connect, type TLSSocket } from 'node:tls';
import { fingerprintOfDer, JOIN_PORT, type ErrorReply, type HelloReply, type JoinAuth, type JoinNode, type JoinReply, type Reply } from './protocol.js';

export class JoinError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class JoinConnection {
  private buf = '';
  private waiting: Array<(line: string | Error) => void> = [];

  private constructor(
    private readonly sock: TLSSocket,
    readonly fingerprint: string,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    const gone = (e?: Error) => {
      for (const w of this.waiting.splice(0)) w(e ?? new Error('the member closed the connection'));
    };
    sock.on('error', gone);
    sock.on('close', () => gone());
  }

  /**
   * Connects and checks the certificate: `expected` (normalized fingerprint) must match; without it `trust(fp)`
   * decides (trust on first use). Nothing is sent before the certificate is accepted.
   */
  static async open(host: string, port = JOIN_PORT, expected: string | undefined, trust: (fp: string) => Promise<boolean>, timeoutMs = 15_000): Promise<JoinConnection> {
    const sock = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host, port, rejectUnauthorized: false, servername: undefined, timeout: timeoutMs });
      const t = setTimeout(() => {
        s.destroy();
        reject(new JoinError(`cannot reach the join service at ${host}:${port}: timed out`, 'connect'));
      }, timeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(t);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(new JoinError(`cannot reach the join service at ${host}:${port}: ${e.message}`, 'connect'));
      });
    });
    const fp = fingerprintOfDer(sock.getPeerX509Certificate()!.raw);
    if (expected !== undefined ? fp !== expected : !(await trust(fp))) {
      sock.destroy();
      throw new JoinError(
        expected !== undefined
          ? `certificate fingerprint mismatch: ${host} presented ${fp}, expected ${expected}; nothing was sent (check 'pvecm status' on the member)`
          : `certificate ${fp} of ${host} not trusted; nothing was sent`,
        'fingerprint',
      );
    }
    return new JoinConnection(sock, fp);
  }

  private async request(obj: unknown, timeoutMs = 120_000): Promise<Reply> {
    const line = await new Promise<string | Error>((resolve) => {
      const t = setTimeout(() => resolve(new Error('no answer from the member')), timeoutMs);
      this.waiting.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
      this.sock.write(JSON.stringify(obj) + '\n');
    });
    if (line instanceof Error) throw new JoinError(line.message, 'connect');
    return JSON.parse(line) as Reply;
  }

  async hello(): Promise<HelloReply> {
    const r = await this.request({ op: 'hello' });
    if (!r.ok) throw new JoinError((r as ErrorReply).error, (r as ErrorReply).code);
    return r as HelloReply;
  }

  async join(auth: JoinAuth, node: JoinNode, force: boolean): Promise<JoinReply> {
    const r = await this.request({ op: 'join', auth, node, force });
    if (!r.ok) throw new JoinError((r as ErrorReply).error, (r as ErrorReply).code);
    return r as JoinReply;
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}
