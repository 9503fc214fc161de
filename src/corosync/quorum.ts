// votequorum view: quorate flag, votes and members, tracked for changes. Disconnected means not quorate.

import {
  CS,
  CS_TRACK_CHANGES,
  CS_TRACK_CURRENT,
  CsError,
  VOTEQUORUM_INFO_QUORATE,
  call,
  loadBinding,
  type NativeBinding,
  type RawVotequorum,
  type RawVotequorumEvent,
} from './native.js';
import { Reconnecting, type ConnectionEvents, type ConnectionOptions } from './reconnect.js';

export interface QuorumState {
  connected: boolean;
  quorate: boolean;
  nodeId: number;
  expectedVotes: number;
  highestExpected: number;
  totalVotes: number;
  /** Votes needed for quorum. */
  quorum: number;
  /** Node ids of the current members. */
  members: number[];
}

export interface QuorumEvents extends ConnectionEvents {
  change: [state: QuorumState];
}

export interface QuorumOptions extends ConnectionOptions {
  binding?: NativeBinding;
}

const VOTEQUORUM_NODESTATE_MEMBER = 1;

const disconnectedState = (): QuorumState => ({
  connected: false,
  quorate: false,
  nodeId: 0,
  expectedVotes: 0,
  highestExpected: 0,
  totalVotes: 0,
  quorum: 0,
  members: [],
});

export class QuorumClient extends Reconnecting<RawVotequorum, QuorumEvents> {
  private readonly binding: NativeBinding;
  private current: QuorumState = disconnectedState();

  constructor(opts: QuorumOptions = {}) {
    super(opts);
    this.binding = opts.binding ?? loadBinding();
  }

  get state(): QuorumState {
    return { ...this.current, members: [...this.current.members] };
  }

  get quorate(): boolean {
    return this.current.quorate;
  }

  protected open(): RawVotequorum {
    const h = new this.binding.Votequorum((events) => this.onEvents(h, events));
    try {
      const rc = h.trackStart(CS_TRACK_CURRENT | CS_TRACK_CHANGES);
      if (rc !== CS.OK) throw new CsError(`votequorum_trackstart failed: cs_error ${rc}`, rc);
      this.refresh(h, undefined, undefined);
    } catch (e) {
      h.finalize();
      throw e;
    }
    return h;
  }

  protected reset(): void {
    const was = this.current;
    this.current = disconnectedState();
    if (was.connected) this.emit('change', this.state);
  }

  protected override beforeClose(): void {
    this.current = disconnectedState();
  }

  /** Sets expected votes (like `pvecm expected N`); corosync refuses values below the current total votes. */
  setExpected(votes: number): void {
    const h = this.handle;
    if (!h) throw new CsError('not connected to corosync', CS.ERR_LIBRARY);
    const rc = h.setExpected(votes);
    if (rc !== CS.OK) throw new CsError(`votequorum_setexpected(${votes}) failed: cs_error ${rc}`, rc);
    this.refresh(h, undefined, undefined);
  }

  private refresh(h: RawVotequorum, quorate: boolean | undefined, members: number[] | undefined): void {
    const info = call(() => h.getInfo(0));
    const next: QuorumState = {
      connected: true,
      quorate: quorate ?? (info.flags & VOTEQUORUM_INFO_QUORATE) !== 0,
      nodeId: info.nodeId,
      expectedVotes: info.nodeExpectedVotes,
      highestExpected: info.highestExpected,
      totalVotes: info.totalVotes,
      quorum: info.quorum,
      members: members ?? this.current.members,
    };
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    this.current = next;
    if (changed) this.emit('change', this.state);
  }

  private onEvents(h: RawVotequorum, events: RawVotequorumEvent[]): void {
    if (this.handle !== undefined && h !== this.handle) return;
    let quorate: boolean | undefined;
    let members: number[] | undefined;
    for (const ev of events) {
      if (ev.type === 'error') {
        this.errorEvent(ev);
        return;
      }
      if (ev.type === 'quorum') {
        quorate = ev.quorate;
        members = ev.nodes.filter((n) => n.state === VOTEQUORUM_NODESTATE_MEMBER).map((n) => n.nodeid);
      } else if (ev.type === 'nodelist') {
        members = [...ev.nodes];
      }
    }
    try {
      this.refresh(h, quorate, members?.sort((a, b) => a - b));
    } catch (e) {
      const err = e instanceof CsError ? e : new CsError(String(e), CS.ERR_LIBRARY);
      if (err.code === CS.ERR_LIBRARY) this.lost(err);
    }
  }
}
