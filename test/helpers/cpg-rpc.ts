// Test-side handle of a cpg-client process running inside a testnet node.

import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { helperScript, type Testnet } from './testnet.js';

export type ClientEvent = { event: string } & Record<string, unknown>;
export type Reply = { id: number; ok: boolean; error?: string } & Record<string, unknown>;

export class CpgRpc {
  readonly events: ClientEvent[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly eventWaiters = new Set<() => void>();
  stderr = '';
  exited = false;

  private constructor(
    readonly proc: ChildProcess,
    readonly nodeId: number,
  ) {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      let msg: Reply | ClientEvent;
      try {
        msg = JSON.parse(line) as Reply | ClientEvent;
      } catch {
        return;
      }
      if ('id' in msg && typeof msg.id === 'number') {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p?.resolve(msg as Reply);
      } else {
        this.events.push(msg as ClientEvent);
        for (const w of [...this.eventWaiters]) w();
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    proc.on('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`client on node ${nodeId} exited: ${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Starts a client in node `id` and connects it to corosync (cpg group, votequorum, cmap, cfg). */
  static async start(
    net: Testnet,
    id: number,
    opts: { group?: string; retryMs?: number; requireConnection?: boolean; nodeArgs?: string[] } = {},
  ): Promise<CpgRpc> {
    const proc = net.spawn(id, process.execPath, [...(opts.nodeArgs ?? []), helperScript('cpg-client')]);
    const c = new CpgRpc(proc, id);
    const r = await c.call('connect', { group: opts.group ?? 'test', retryMs: opts.retryMs ?? 300 });
    if (opts.requireConnection !== false && !(r.connected as Record<string, boolean>).cpg) throw new Error(`client on node ${id} did not connect`);
    return c;
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  /** One request; rejects on timeout or on an error reply. */
  async call(op: string, args: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<Reply> {
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      if (this.exited) return reject(new Error(`client on node ${this.nodeId} has exited: ${this.stderr}`));
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op} on node ${this.nodeId}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(t), resolve(r)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.proc.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
    if (!reply.ok) throw new Error(`${op} on node ${this.nodeId} failed: ${reply.error}`);
    return reply;
  }

  /** Waits for an event (already received ones count, starting at index `from`). */
  waitEvent(pred: (e: ClientEvent) => boolean, timeoutMs = 20_000, from = 0): Promise<ClientEvent> {
    const found = this.events.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.events.slice(from).find(pred);
        if (!e) return;
        this.eventWaiters.delete(check);
        clearTimeout(t);
        resolve(e);
      };
      const t = setTimeout(() => {
        this.eventWaiters.delete(check);
        reject(new Error(`node ${this.nodeId}: event not seen within ${timeoutMs} ms; last: ${JSON.stringify(this.events.slice(-3))}`));
      }, timeoutMs);
      this.eventWaiters.add(check);
    });
  }

  /** Waits until the client's quorum view satisfies pred. */
  waitQuorum(pred: (q: Record<string, unknown>) => boolean, timeoutMs = 20_000, from = 0): Promise<ClientEvent> {
    return this.waitEvent((e) => e.event === 'quorum' && pred(e), timeoutMs, from);
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}
