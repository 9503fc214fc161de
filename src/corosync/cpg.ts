// CPG group member: agreed-order multicast with backpressure, deliveries, membership with reasons, totem rings.

import { CS, CsError, call, loadBinding, type CpgAddress, type NativeBinding, type RawCpg, type RawCpgEvent } from './native.js';
import { Reconnecting, type ConnectionEvents, type ConnectionOptions } from './reconnect.js';

export type CpgReason = 'none' | 'join' | 'leave' | 'nodedown' | 'nodeup' | 'procdown' | 'unknown';
const REASONS: CpgReason[] = ['none', 'join', 'leave', 'nodedown', 'nodeup', 'procdown'];
export function reasonName(r: number): CpgReason {
  return REASONS[r] ?? 'unknown';
}

export interface CpgMember {
  nodeid: number;
  pid: number;
  reason: CpgReason;
}

export interface CpgMessage {
  nodeid: number;
  pid: number;
  data: Buffer;
}

export interface CpgMembership {
  group: string;
  members: CpgMember[];
  left: CpgMember[];
  joined: CpgMember[];
}

export interface TotemRing {
  ringNodeid: number;
  ringSeq: number;
  members: number[];
}

export interface CpgEvents extends ConnectionEvents {
  message: [msg: CpgMessage];
  membership: [change: CpgMembership];
  totem: [ring: TotemRing];
}

export interface CpgOptions extends ConnectionOptions {
  group: string;
  binding?: NativeBinding;
  /** Fallback retry of sends held back by flow control when no delivery wakes us first (default 2 ms). */
  backpressureRetryMs?: number;
}

interface PendingSend {
  data: Buffer | Buffer[];
  resolve: () => void;
  reject: (e: Error) => void;
}

const member = (a: CpgAddress): CpgMember => ({ nodeid: a.nodeid, pid: a.pid, reason: reasonName(a.reason) });

export class CpgClient extends Reconnecting<RawCpg, CpgEvents> {
  readonly group: string;
  nodeId = 0;
  maxMessageSize = 0;
  /** Group members as of the last membership change. */
  members: CpgMember[] = [];
  private readonly binding: NativeBinding;
  private readonly queue: PendingSend[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backpressureRetryMs: number;
  private joined = false;

  constructor(opts: CpgOptions) {
    super(opts);
    this.group = opts.group;
    this.binding = opts.binding ?? loadBinding();
    this.backpressureRetryMs = opts.backpressureRetryMs ?? 2;
  }

  protected open(): RawCpg {
    const h = new this.binding.Cpg((events) => this.onEvents(h, events));
    try {
      this.nodeId = call(() => h.localNodeId());
      this.maxMessageSize = call(() => h.maxMessageSize());
      const rc = h.join(this.group);
      if (rc !== CS.OK) throw new CsError(`cpg_join(${this.group}) failed: cs_error ${rc}`, rc);
    } catch (e) {
      h.finalize();
      throw e;
    }
    this.joined = true;
    return h;
  }

  protected reset(error: CsError): void {
    this.joined = false;
    this.members = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const p of this.queue.splice(0)) p.reject(new CsError(`not connected: ${error.message}`, error.code));
  }

  protected override beforeClose(): void {
    this.reset(new CsError('closed', CS.ERR_BAD_HANDLE));
  }

  /**
   * Multicasts in agreed order. Resolves when corosync accepted the message (not when delivered: watch 'message'
   * for your own nodeid/pid). Under flow control (CS_ERR_TRY_AGAIN) the message waits in a FIFO queue and is
   * retried when deliveries drain corosync's queue, so awaiting send() is the backpressure.
   */
  send(data: Buffer | Buffer[]): Promise<void> {
    const h = this.handle;
    if (!h || !this.joined) return Promise.reject(new CsError('not connected to corosync', CS.ERR_LIBRARY));
    if (this.queue.length === 0) {
      const rc = h.mcast(data);
      if (rc === CS.OK) return Promise.resolve();
      if (rc !== CS.ERR_TRY_AGAIN) return Promise.reject(this.sendError(rc));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.armRetry();
    });
  }

  /** One attempt without queueing: true if accepted, false under flow control. Throws on other errors. */
  trySend(data: Buffer | Buffer[]): boolean {
    const h = this.handle;
    if (!h || !this.joined) throw new CsError('not connected to corosync', CS.ERR_LIBRARY);
    if (this.queue.length > 0) return false;
    const rc = h.mcast(data);
    if (rc === CS.OK) return true;
    if (rc === CS.ERR_TRY_AGAIN) return false;
    throw this.sendError(rc);
  }

  get queuedSends(): number {
    return this.queue.length;
  }

  /** Leaves the group (others see reason 'leave'); the connection stays open. */
  leave(): void {
    const h = this.handle;
    if (!h || !this.joined) return;
    const rc = h.leave(this.group);
    if (rc !== CS.OK) throw new CsError(`cpg_leave failed: cs_error ${rc}`, rc);
    this.joined = false;
  }

  /** Drops the connection (others see this member leave) and connects and joins again after the retry delay. */
  reconnect(why: string): void {
    this.lost(new CsError(why, CS.ERR_LIBRARY));
  }

  /** Current group membership asked from corosync. */
  membership(): CpgMember[] {
    const h = this.handle;
    if (!h) throw new CsError('not connected to corosync', CS.ERR_LIBRARY);
    return call(() => h.membership(this.group)).map(member);
  }

  private sendError(rc: number): CsError {
    const e = new CsError(`cpg_mcast_joined failed: cs_error ${rc}`, rc);
    if (rc === CS.ERR_LIBRARY || rc === CS.ERR_BAD_HANDLE) queueMicrotask(() => this.lost(e));
    return e;
  }

  private armRetry(): void {
    if (this.retryTimer || this.queue.length === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, this.backpressureRetryMs);
  }

  private flush(): void {
    const h = this.handle;
    if (!h) return;
    while (this.queue.length > 0) {
      const p = this.queue[0]!;
      const rc = h.mcast(p.data);
      if (rc === CS.ERR_TRY_AGAIN) break;
      this.queue.shift();
      if (rc === CS.OK) p.resolve();
      else p.reject(this.sendError(rc));
    }
    this.armRetry();
  }

  private onEvents(h: RawCpg, events: RawCpgEvent[]): void {
    if (h !== this.handle) return;
    for (const ev of events) {
      switch (ev.type) {
        case 'deliver':
          this.emit('message', { nodeid: ev.nodeid, pid: ev.pid, data: ev.data });
          break;
        case 'confchg': {
          const change: CpgMembership = {
            group: ev.group,
            members: ev.members.map(member),
            left: ev.left.map(member),
            joined: ev.joined.map(member),
          };
          this.members = change.members;
          this.emit('membership', change);
          break;
        }
        case 'totem':
          this.emit('totem', { ringNodeid: ev.ringNodeid, ringSeq: ev.ringSeq, members: ev.members });
          break;
        case 'error':
          this.errorEvent(ev);
          return;
      }
      if (h !== this.handle) return; // a listener closed us
    }
    // Deliveries mean corosync's queue moved: a good moment to retry held-back sends.
    if (this.queue.length > 0) this.flush();
  }
}
