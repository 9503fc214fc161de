// corosync cfg: configuration reload (every node re-reads its own corosync.conf) and the local node id.

import { CS, CsError, call, loadBinding, type NativeBinding, type RawCfg, type RawCfgEvent } from './native.js';
import { Reconnecting, type ConnectionEvents, type ConnectionOptions } from './reconnect.js';

export interface CfgEvents extends ConnectionEvents {
  /** corosync asks its clients whether it may shut down. */
  shutdown: [flags: number];
}

export interface CfgOptions extends ConnectionOptions {
  binding?: NativeBinding;
}

export class CfgClient extends Reconnecting<RawCfg, CfgEvents> {
  private readonly binding: NativeBinding;

  constructor(opts: CfgOptions = {}) {
    super(opts);
    this.binding = opts.binding ?? loadBinding();
  }

  protected open(): RawCfg {
    const h = new this.binding.Cfg((events) => this.onEvents(h, events));
    return h;
  }

  protected reset(): void {}

  /** corosync_cfg_reload_config (what `corosync-cfgtool -R` does). */
  reload(): void {
    const h = this.handle;
    if (!h) throw new CsError('not connected to corosync', CS.ERR_LIBRARY);
    const rc = h.reload();
    if (rc !== CS.OK) throw new CsError(`corosync_cfg_reload_config failed: cs_error ${rc}`, rc);
  }

  localNodeId(): number {
    const h = this.handle;
    if (!h) throw new CsError('not connected to corosync', CS.ERR_LIBRARY);
    return call(() => h.localNodeId());
  }

  private onEvents(h: RawCfg, events: RawCfgEvent[]): void {
    if (h !== this.handle) return;
    for (const ev of events) {
      if (ev.type === 'error') {
        this.errorEvent(ev);
        return;
      }
      this.emit('shutdown', ev.flags);
    }
  }
}
