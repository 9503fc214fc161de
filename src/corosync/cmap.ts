// cmap reads (single keys, prefixes, the nodelist) and change tracking of totem.config_version.

import {
  CMAP_TRACK_ADD,
  CMAP_TRACK_MODIFY,
  CMAP_TRACK_PREFIX,
  CS,
  CsError,
  call,
  loadBinding,
  type CmapEntry,
  type CmapValue,
  type NativeBinding,
  type RawCmap,
  type RawCmapEvent,
} from './native.js';
import { Reconnecting, type ConnectionEvents, type ConnectionOptions } from './reconnect.js';

export interface CmapNode {
  nodeid: number;
  name: string;
  quorumVotes: number;
  /** ring0_addr, ring1_addr, ... by link number. */
  rings: string[];
}

export interface CmapChange {
  key: string;
  event: 'add' | 'delete' | 'modify';
  value: CmapValue | undefined;
}

export interface CmapEvents extends ConnectionEvents {
  /** totem.config_version changed (after a config reload). */
  configVersion: [version: number];
  change: [change: CmapChange];
}

export interface CmapOptions extends ConnectionOptions {
  binding?: NativeBinding;
  /** Extra key prefixes to track; changes arrive as 'change'. */
  trackPrefixes?: string[];
}

export function toNumber(v: CmapValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

export class CmapClient extends Reconnecting<RawCmap, CmapEvents> {
  private readonly binding: NativeBinding;
  private readonly prefixes: string[];
  private configTrack = 0;

  constructor(opts: CmapOptions = {}) {
    super(opts);
    this.binding = opts.binding ?? loadBinding();
    this.prefixes = opts.trackPrefixes ?? [];
  }

  protected open(): RawCmap {
    const h = new this.binding.Cmap((events) => this.onEvents(h, events));
    try {
      this.configTrack = call(() => h.trackAdd('totem.config_version', CMAP_TRACK_ADD | CMAP_TRACK_MODIFY));
      for (const p of this.prefixes) call(() => h.trackAdd(p, CMAP_TRACK_ADD | CMAP_TRACK_MODIFY | CMAP_TRACK_PREFIX | 1));
    } catch (e) {
      h.finalize();
      throw e;
    }
    return h;
  }

  protected reset(): void {}

  private h(): RawCmap {
    if (!this.handle) throw new CsError('not connected to corosync', CS.ERR_LIBRARY);
    return this.handle;
  }

  /** The value of a key, or undefined if it does not exist. */
  get(key: string): CmapValue | undefined {
    const h = this.h();
    try {
      return call(() => h.get(key)).value;
    } catch (e) {
      if (e instanceof CsError && e.code === CS.ERR_NOT_EXIST) return undefined;
      throw e;
    }
  }

  getNumber(key: string): number | undefined {
    return toNumber(this.get(key));
  }

  getString(key: string): string | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString() : String(v);
  }

  /** All keys under a prefix, in cmap's order. */
  entries(prefix: string): CmapEntry[] {
    const h = this.h();
    return call(() => h.entries(prefix));
  }

  configVersion(): number | undefined {
    return this.getNumber('totem.config_version');
  }

  /** The nodelist as corosync runs it (nodelist.node.N.*). */
  nodelist(): CmapNode[] {
    const byIndex = new Map<string, CmapNode>();
    for (const e of this.entries('nodelist.node.')) {
      const m = e.key.match(/^nodelist\.node\.(\d+)\.(.+)$/);
      if (!m) continue;
      const [, idx, field] = m as unknown as [string, string, string];
      let n = byIndex.get(idx);
      if (!n) byIndex.set(idx, (n = { nodeid: 0, name: '', quorumVotes: 1, rings: [] }));
      const ring = field.match(/^ring(\d+)_addr$/);
      if (field === 'nodeid') n.nodeid = toNumber(e.value) ?? 0;
      else if (field === 'name') n.name = String(e.value);
      else if (field === 'quorum_votes') n.quorumVotes = toNumber(e.value) ?? 1;
      else if (ring) n.rings[Number(ring[1])] = String(e.value);
    }
    return [...byIndex.values()].sort((a, b) => a.nodeid - b.nodeid);
  }

  private onEvents(h: RawCmap, events: RawCmapEvent[]): void {
    if (h !== this.handle) return;
    for (const ev of events) {
      if (ev.type === 'error') {
        this.errorEvent(ev);
        return;
      }
      const kind = ev.event === CMAP_TRACK_ADD ? 'add' : ev.event === CMAP_TRACK_MODIFY ? 'modify' : 'delete';
      if (ev.trackId === this.configTrack) {
        const v = toNumber(ev.newValue);
        if (v !== undefined) this.emit('configVersion', v);
      } else {
        this.emit('change', { key: ev.key, event: kind, value: ev.newValue });
      }
    }
  }
}
