// Shared connection life cycle of the corosync wrappers: open, report, and on loss (corosync not running, died,
// CS_ERR_LIBRARY from dispatch, poll error) finalize and retry on a timer. Nothing here throws at the daemon.

import { EventEmitter } from 'node:events';
import { csErrorFrom, type CsError, type ErrorEvent } from './native.js';

export interface ConnectionOptions {
  /** Delay between reconnection attempts (default 3000 ms; tests use less). */
  retryMs?: number;
}

export interface ConnectionEvents {
  connected: [];
  disconnected: [error: CsError];
}

interface Finalizable {
  finalize(): void;
}

type EventMapOf<E> = { [K in keyof E]: E[K] extends unknown[] ? E[K] : never };

export abstract class Reconnecting<H extends Finalizable, E extends ConnectionEvents> extends EventEmitter<EventMapOf<E>> {
  protected handle: H | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private lastError: CsError | undefined;
  readonly retryMs: number;

  constructor(opts: ConnectionOptions = {}) {
    super();
    this.retryMs = opts.retryMs ?? 3000;
  }

  get connected(): boolean {
    return this.handle !== undefined;
  }

  /** Connects now (or schedules retries); returns whether the first attempt succeeded. */
  start(): boolean {
    if (this.started) return this.connected;
    this.started = true;
    this.attempt();
    return this.connected;
  }

  /** Resolves once connected, or rejects after timeoutMs. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onConn = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.offAny('connected', onConn);
        reject(new Error(`not connected to corosync within ${timeoutMs} ms: ${this.lastError?.message ?? ''}`));
      }, timeoutMs);
      this.onAny('connected', onConn);
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const h = this.handle;
    this.handle = undefined;
    if (h) {
      this.beforeClose(h);
      h.finalize();
    }
  }

  /** Creates the native handle and does the per-connection setup (join, track...). May throw. */
  protected abstract open(): H;
  /** Called after a connection was lost or closed, to fail pending work and reset state. */
  protected abstract reset(error: CsError): void;
  protected beforeClose(_h: H): void {}

  /** Called by subclasses when an event batch carries an error, or a call reports CS_ERR_LIBRARY. */
  protected lost(error: CsError): void {
    const h = this.handle;
    if (!h) return;
    this.handle = undefined;
    try {
      h.finalize();
    } catch {
      /* already unusable */
    }
    this.lastError = error;
    this.reset(error);
    this.emitAny('disconnected', error);
    this.schedule();
  }

  protected errorEvent(ev: ErrorEvent): void {
    this.lost(csErrorFrom({ message: `corosync connection lost (cs_error ${ev.code}, uv ${ev.uvStatus})`, code: ev.code }));
  }

  private attempt(): void {
    this.timer = undefined;
    if (this.closed || this.handle) return;
    let h: H | undefined;
    try {
      h = this.open();
      this.handle = h;
    } catch (e) {
      const err = csErrorFrom(e);
      if (h) {
        try {
          h.finalize();
        } catch {
          /* ignore */
        }
      }
      this.handle = undefined;
      const first = this.lastError === undefined;
      this.lastError = err;
      // Report once per outage, not on every retry.
      if (first) {
        this.reset(err);
        this.emitAny('disconnected', err);
      }
      this.schedule();
      return;
    }
    this.lastError = undefined;
    this.emitAny('connected');
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => this.attempt(), this.retryMs);
  }

  // EventEmitter's generic typing cannot see that E extends ConnectionEvents inside the class; these narrow it once.
  private emitAny(name: string, ...args: unknown[]): void {
    (this as unknown as EventEmitter).emit(name, ...args);
  }
  private onAny(name: string, fn: (...args: unknown[]) => void): void {
    (this as unknown as EventEmitter).once(name, fn);
  }
  private offAny(name: string, fn: (...args: unknown[]) => void): void {
    (this as unknown as EventEmitter).off(name, fn);
  }
}
