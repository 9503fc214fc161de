// Cluster mode: every change travels as an ordered CPG message and is applied by every member in that order; the
// writer is answered with its own node's result. Membership changes run a state exchange that brings every member
// to the same tree before changes flow again. Quorum (votequorum) gates writes.
//
// Life of a change: commit(op) -> outbox -> one `ops` message per event-loop turn (group commit) -> delivered to
// every member in the same order -> applied in one SQLite transaction (refused with EACCES where the node is not
// quorate) -> once members whose votes make a quorum hold it (src/cluster/confirm.ts) the writer's promise resolves
// with its result.
//
// State exchange: on a membership change every member drops the changes delivered since the last exchange and not
// yet applied (the writers send them again afterwards), the lowest member sends `sync`, each member answers with its
// `state` (version, generation, digest of every entry), all choose the same leader, the leader sends the entries
// that differ anywhere (`update`) and `end`; each member applies its catch-up in one transaction and only then
// serves the new tree and applies the changes held meanwhile.
import { E } from '../errors.js';
import { apply } from '../ops/apply.js';
import type { ApplyResult, Op } from '../ops/op.js';
import type { Store } from '../store/store.js';
import type { StorageHealth } from '../store/storage-errors.js';
import { rowOf, type Row } from '../store/tree.js';
import type { ClusterLog, LogEntry } from '../status/clusterlog.js';
import type { Logger } from '../log.js';
import { CpgClient, QuorumClient, CmapClient, type CpgMember, type CpgMembership, type QuorumState } from '../corosync/index.js';
import type { Committer } from './committer.js';
import { Confirmations } from './confirm.js';
import { summarize, treeDigest } from './digest.js';
import { failpointDropEnd, failpointSkipApply } from './failpoints.js';
import { chooseLeader, entriesToSend, planCatchUp, type MemberState } from './sync.js';
import { PROTOCOL, Reassembler, WireError, decode, encode, fragment, type Epoch, type Msg } from './wire.js';

export const CPG_GROUP = 'pmxcfs-ts';
/** Payload of one CPG message; larger messages go in fragments. */
const FRAGMENT = 256 * 1024;
/** How long a member of a state exchange may stay silent before it is left out (each later member waits longer). */
const SYNC_TIMEOUT_MS = Number(process.env.PMXCFS_SYNC_TIMEOUT_MS ?? 5000);
/** Rows per `update` message (bounded memory on both sides; large files are fragmented anyway). */
const UPDATE_BYTES = 512 * 1024;

export interface ClusterMember {
  nodeid: number;
  name: string;
  ip?: string;
  online: boolean;
}

export interface ClusterView {
  name: string;
  configVersion: number;
  quorate: boolean;
  members: ClusterMember[];
}

export interface ClusterOptions {
  store: Store;
  log: Logger;
  nodename: string;
  clusterlog: ClusterLog;
  group?: string;
  /** corosync reconnection delay (ms) */
  retryMs?: number;
  /** hourly by default; 0 turns periodic verification off */
  verifyIntervalMs?: number;
  /** called whenever membership, quorum or the nodelist changed (for .members) */
  onView?: (view: ClusterView) => void;
  /** called after every completed state exchange */
  onSynced?: () => void;
  /** maps database faults to errno values (ENOSPC for a full disk...) and logs each outage once */
  health?: StorageHealth;
  /** a member announced the config_version of its local corosync.conf */
  onConfVersion?: (nodeid: number, version: number) => void;
}

type Phase = 'offline' | 'syncing' | 'synced';

interface Outgoing {
  op: Op;
  resolve: (r: ApplyResult) => void;
  /** answers a request of this node's kernel (Committer.commit) */
  kernel: boolean;
}

interface Held {
  nodeid: number;
  pid: number;
  msg: Extract<Msg, { t: 'ops' }>;
}

export interface VerifyResult {
  agree: boolean;
  /** false: some live member did not answer in time (or this node is not synced: `why`) */
  complete: boolean;
  members: { nodeid: number; version: number; digest: string }[];
  /** node ids whose checksum is not the cluster's */
  differ: number[];
  why?: string;
}

/** fault injection for tests (src/cluster/failpoints.ts); null in normal operation */
const skipApply = failpointSkipApply(process.env);
let dropEnd = failpointDropEnd(process.env);

const keyOf = (nodeid: number, pid: number): string => `${nodeid}:${pid}`;
const nowS = (): number => Math.floor(Date.now() / 1000);

export class ClusterCommitter implements Committer {
  nodeId = 0;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly cpg: CpgClient;
  private readonly quorum: QuorumClient;
  private readonly cmap: CmapClient;
  private phase: Phase = 'offline';
  /** the start's own offline state was reported (it is no change of phase, but an admin must see it) */
  private startReported = false;
  private readonly retryMs: number;
  private members: CpgMember[] = [];
  private readonly pid = process.pid;
  // state exchange
  private epoch: Epoch | null = null;
  private epochCounter = 0;
  private states = new Map<string, MemberState>();
  private leader: MemberState | null = null;
  private updates = new Map<number, Row>();
  private yieldLead = false;
  private gen: number;
  private lastSyncWith: Record<string, number>;
  // changes
  private outbox: Outgoing[] = [];
  private flushScheduled = false;
  private seq = 1;
  private readonly inFlight = new Map<number, Outgoing>();
  private held: Held[] = [];
  /** this member's applied changes waiting until a quorum holds them */
  private readonly confirm: Confirmations;
  /** changes of other members applied here and not yet acknowledged to them: writer key -> last seq */
  private ackDue = new Map<string, number>();
  /** votes needed for quorum, as last known (a disconnected votequorum says 0: never lower the bar for that) */
  private votesNeeded = Infinity;
  private nodeVotes = new Map<number, number>();
  /**
   * The daemons in the group hold a quorum of votes. Without, a change could never be confirmed (confirm.ts): it is
   * refused, and since every member of a configuration sees the same members, all of them refuse it alike.
   */
  private groupQuorate = false;
  private readonly reassembly = new Map<string, Reassembler>();
  /** members that speak another protocol or sent garbage: ignored until they leave */
  private readonly foreign = new Set<string>();
  /** members that did not answer a state exchange: left out until they send a state */
  private readonly silent = new Set<string>();
  private askAfterRound = false;
  private roundTimer: NodeJS.Timeout | undefined;
  /** re-armed by every sign of progress of the exchange; when it fires, the exchange is asked for again */
  private stallTimer: NodeJS.Timeout | undefined;
  // verification
  private verifyTimer: NodeJS.Timeout | undefined;
  private verifying: {
    id: string;
    sums: Map<string, { nodeid: number; version: number; digest: string }>;
    done: ((r: VerifyResult) => void)[];
    timer?: NodeJS.Timeout;
  } | null = null;
  private closed = false;
  private wasQuorate = false;
  /**
   * Set when this node refused changes for want of quorum: members that were quorate at that point of the order
   * applied them (quorum is each node's own view and changes at slightly different points of the order, e.g. a
   * restarted corosync's CPG is back before its votequorum). Once quorate again this node asks for an exchange.
   */
  private refusedInquorate = false;

  constructor(private readonly opts: ClusterOptions) {
    this.store = opts.store;
    this.log = opts.log.child({ module: 'cluster' });
    this.gen = Number(this.store.getMeta('gen') ?? 0);
    this.lastSyncWith = JSON.parse(this.store.getMeta('lastSyncWith') ?? '{}') as Record<string, number>;
    const own = process.env.PMXCFS_ACK === 'own';
    this.confirm = new Confirmations(
      () => keyOf(this.nodeId, this.pid),
      {
        needed: () => this.votesNeeded,
        votesOf: (keys) => this.votesOf(keys),
        // members that speak another protocol or stayed silent in an exchange apply nothing: not waited for
        others: () => {
          const me = keyOf(this.nodeId, this.pid);
          return this.liveMembers().map((m) => keyOf(m.nodeid, m.pid)).filter((k) => k !== me);
        },
      },
      {
        waitAllMs: Number(process.env.PMXCFS_ACK_WAIT_MS ?? 1000),
        own,
        onLagging: (k) => this.log.warn({ member: k }, 'a member did not apply changes in time: not waiting for it until it catches up'),
      },
    );
    if (own) {
      this.log.warn('PMXCFS_ACK=own: changes are acknowledged once this node applied them, like the original; one made just before this node is cut off can be lost');
    }
    const retryMs = (this.retryMs = opts.retryMs ?? 3000);
    this.cpg = new CpgClient({ group: opts.group ?? CPG_GROUP, retryMs });
    this.quorum = new QuorumClient({ retryMs });
    this.cmap = new CmapClient({ retryMs, trackPrefixes: ['nodelist.', 'totem.cluster_name'] });
    this.cpg.on('connected', () => {
      this.nodeId = this.cpg.nodeId;
      this.log.info({ nodeid: this.nodeId }, 'joined the cluster group');
      this.phase = 'syncing';
    });
    this.cpg.on('disconnected', (err) => this.offline(err.message));
    this.cpg.on('membership', (m) => this.onMembership(m));
    this.cpg.on('message', (m) => this.onMessage(m.nodeid, m.pid, m.data));
    this.quorum.on('change', (q) => this.onQuorum(q));
    this.cmap.on('change', () => this.onNodelist());
    this.cmap.on('connected', () => this.onNodelist());
    this.opts.clusterlog.onAdd((e) => this.shareLog(e));
  }

  start(): void {
    this.quorum.start();
    this.cmap.start();
    this.cpg.start();
    const every = this.opts.verifyIntervalMs ?? 3600_000;
    if (every > 0) {
      this.verifyTimer = setInterval(() => {
        if (this.phase === 'synced' && this.isLowest()) void this.verify();
      }, every);
      this.verifyTimer.unref();
    }
  }

  close(): void {
    this.closed = true;
    if (this.verifyTimer) clearInterval(this.verifyTimer);
    this.failAll(E.EACCES);
    this.cpg.close();
    this.quorum.close();
    this.cmap.close();
  }

  /**
   * Writable: in the group, quorate, and the daemons in the group hold a quorum of votes. During a state exchange
   * changes wait; they are not refused.
   */
  quorate(): boolean {
    return this.phase !== 'offline' && this.quorum.quorate && this.groupQuorate;
  }

  /** Votes of the distinct nodes among these members ("nodeid:pid"). */
  private votesOf(keys: Iterable<string>): number {
    let sum = 0;
    for (const id of new Set([...keys].map((k) => Number(k.slice(0, k.indexOf(':')))))) sum += this.nodeVotes.get(id) ?? 1;
    return sum;
  }

  private updateGroupQuorum(): void {
    this.groupQuorate = this.votesOf(this.members.map((m) => keyOf(m.nodeid, m.pid))) >= this.votesNeeded;
  }

  commit(op: Op, kernel = false): Promise<ApplyResult> {
    if (!this.quorate()) return Promise.resolve({ errno: E.EACCES });
    return new Promise((resolve) => {
      this.outbox.push({ op, resolve, kernel });
      this.scheduleFlush();
    });
  }

  // ---- sending ----

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.phase !== 'synced' || this.outbox.length === 0) {
      this.sendAcks();
      return;
    }
    const batch = this.outbox.splice(0);
    const seq = this.seq;
    this.seq += batch.length;
    batch.forEach((o, i) => this.inFlight.set(seq + i, o));
    const acks = this.takeAcks();
    const msg: Msg = { t: 'ops', seq, ops: batch.map((o) => o.op), ...(acks ? { acks } : {}) };
    this.send(msg).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'a change could not be sent');
      for (let i = 0; i < batch.length; i++) {
        const o = this.inFlight.get(seq + i);
        if (!o) continue;
        this.inFlight.delete(seq + i);
        o.resolve({ errno: E.EACCES });
      }
    });
  }

  private takeAcks(): number[] | null {
    if (this.ackDue.size === 0) return null;
    const acks: number[] = [];
    for (const [k, last] of this.ackDue) {
      const i = k.indexOf(':');
      acks.push(Number(k.slice(0, i)), Number(k.slice(i + 1)), last);
    }
    this.ackDue.clear();
    return acks;
  }

  /** Tells the writers which of their changes this member applied (when no change of its own carries it). */
  private sendAcks(): void {
    const acks = this.takeAcks();
    if (acks && this.phase !== 'offline') this.sendQuietly({ t: 'ack', acks });
  }

  private onAcks(from: string, acks: number[]): void {
    if (!this.isMember(from)) return;
    for (let i = 0; i + 2 < acks.length; i += 3) {
      if (acks[i] === this.nodeId && acks[i + 1] === this.pid) this.confirm.acked(from, acks[i + 2]!);
    }
  }

  private async send(msg: Msg): Promise<void> {
    for (const part of fragment(encode(msg), FRAGMENT)) await this.cpg.send(part);
  }

  private sendQuietly(msg: Msg): void {
    this.send(msg).catch((err: Error) => this.log.warn({ err: err.message, t: msg.t }, 'cluster message not sent'));
  }

  /**
   * This member leaves the group: changes not sent fail with `errno`; changes sent or applied but not confirmed may
   * have reached others: their fate is unknown (EIO).
   */
  private failAll(errno: number): void {
    for (const o of this.outbox.splice(0)) o.resolve({ errno });
    for (const o of this.inFlight.values()) o.resolve({ errno: E.EIO });
    this.inFlight.clear();
    this.confirm.failAll();
    this.ackDue.clear();
  }

  // ---- receiving ----

  private onMessage(nodeid: number, pid: number, data: Buffer): void {
    const key = keyOf(nodeid, pid);
    if (this.foreign.has(key)) return;
    let msg: Msg;
    try {
      const d = decode(data);
      if ('foreign' in d) {
        this.foreign.add(key);
        this.log.error({ nodeid, pid }, `node ${nodeid} speaks cluster protocol version ${d.proto}, this node version ${PROTOCOL}: refusing it`);
        this.opts.clusterlog.add(this.entry(3, `refusing node ${nodeid}: protocol version ${d.proto}, ours ${PROTOCOL}`));
        this.maybeComplete();
        return;
      }
      if ('frag' in d) {
        let r = this.reassembly.get(key);
        if (!r) this.reassembly.set(key, (r = new Reassembler()));
        const whole = r.add(d.frag);
        if (!whole) return;
        const inner = decode(whole);
        if (!('msg' in inner)) throw new WireError('a fragmented message must hold a message');
        msg = inner.msg;
      } else msg = d.msg;
    } catch (err) {
      this.wireFault(nodeid, pid, (err as Error).message);
      return;
    }
    this.handle(nodeid, pid, msg);
  }

  /** A message that does not decode: nothing of it is applied; this node leaves and comes back through a resync. */
  private wireFault(nodeid: number, pid: number, why: string): void {
    this.log.error({ from: nodeid, pid, why }, 'malformed cluster message: leaving the group to resync');
    // its sender is ignored from now on (every member saw the same bytes and decides the same)
    this.foreign.add(keyOf(nodeid, pid));
    this.opts.clusterlog.add(this.entry(3, `malformed message from node ${nodeid} (${why}); resyncing`));
    this.reassembly.clear();
    // Coming back is a membership change for everyone: a full state exchange follows.
    this.cpg.reconnect('left the group after a malformed message');
  }

  private handle(nodeid: number, pid: number, msg: Msg): void {
    const key = keyOf(nodeid, pid);
    switch (msg.t) {
      case 'ops':
        if (msg.acks) this.onAcks(key, msg.acks);
        if (this.phase !== 'synced') this.held.push({ nodeid, pid, msg });
        else this.applyOps({ nodeid, pid, msg });
        return;
      case 'ack':
        this.onAcks(key, msg.acks);
        return;
      case 'sync':
        if (!this.isMember(key)) return;
        for (const k of msg.ignore ?? []) {
          this.silent.add(k);
          if (k === keyOf(this.nodeId, this.pid)) this.askAfterRound = true;
        }
        this.beginRound(msg.epoch);
        return;
      case 'state':
        if (msg.epoch !== this.epoch || !this.isMember(key)) return;
        this.silent.delete(key);
        this.watchStall(msg.epoch);
        this.states.set(key, { key, nodeid, pid, gen: msg.gen, version: msg.version, mtime: msg.mtime, lead: msg.lead, inodes: msg.inodes, digests: msg.digests });
        this.opts.clusterlog.merge(msg.log);
        this.maybeComplete();
        return;
      case 'update':
        if (msg.epoch !== this.epoch || this.leader?.key !== key) return;
        this.watchStall(msg.epoch);
        if (nodeid === this.nodeId && pid === this.pid) return; // the leader's own rows: it has them already
        for (const r of msg.rows) this.updates.set(r.inode, r);
        return;
      case 'end':
        if (msg.epoch !== this.epoch || this.leader?.key !== key) return;
        this.finishRound(msg);
        return;
      case 'verify':
        if (this.phase !== 'synced') return;
        this.verifying ??= { id: msg.id, sums: new Map(), done: [] };
        if (this.verifying.id !== msg.id) this.verifying = { ...this.verifying, id: msg.id, sums: new Map() };
        this.sendQuietly({ t: 'checksum', id: msg.id, digest: treeDigest(this.store.tree), version: this.store.tree.version });
        return;
      case 'checksum':
        if (this.verifying?.id !== msg.id || !this.isMember(key)) return;
        this.verifying.sums.set(key, { nodeid, version: msg.version, digest: msg.digest.toString('hex') });
        this.maybeVerified();
        return;
      case 'log':
        this.opts.clusterlog.merge(msg.entries);
        return;
      case 'confver':
        this.opts.onConfVersion?.(nodeid, msg.version);
        return;
    }
  }

  private applyOps(h: Held): void {
    const { nodeid, pid, msg } = h;
    const results: ApplyResult[] = [];
    const quorate = this.quorum.quorate && this.groupQuorate;
    const health = this.opts.health;
    let fault = 0;
    /** the batch committed here (not refused by a storage fault or a failed transaction) */
    let stored = false;
    const mine = nodeid === this.nodeId && pid === this.pid;
    try {
      fault = health?.check() ?? 0;
      if (fault) throw new Error('the database file was removed or replaced');
      this.store.batch(() => {
        msg.ops.forEach((op, i) => {
          if (skipApply !== null && skipApply(op)) results.push({ errno: 0 });
          else if (!quorate) {
            results.push({ errno: E.EACCES });
            this.refusedInquorate = true;
          } else {
            // this node's own change for its kernel: the reply tells the kernel, nothing to invalidate
            const kernel = mine && this.inFlight.get(msg.seq + i)?.kernel === true;
            results.push(this.store.asKernel(kernel, () => apply(this.store, op, nodeid)));
          }
        });
      });
      stored = true;
      health?.succeeded();
    } catch (err) {
      // This node could not store what every other node stored: it no longer holds the cluster's tree.
      const errno = fault || (health?.failed(err) ?? E.EIO);
      results.length = 0;
      for (let i = 0; i < msg.ops.length; i++) results.push({ errno });
      this.log.error({ err: (err as Error).message }, 'a replicated change could not be stored: resyncing');
      setTimeout(() => this.requestSync('storage failure'), 1000).unref();
    }
    if (this.log.isLevelEnabled('debug')) {
      msg.ops.forEach((op, i) => this.log.debug({ op: op.kind, from: nodeid, errno: results[i]!.errno, version: this.store.tree.version }, 'change'));
    }
    const last = msg.seq + msg.ops.length - 1;
    const applied = quorate && stored;
    if (!mine) {
      if (applied) {
        this.ackDue.set(keyOf(nodeid, pid), last);
        this.scheduleFlush();
      }
      return;
    }
    const outs: [Outgoing, ApplyResult][] = [];
    msg.ops.forEach((_, i) => {
      const o = this.inFlight.get(msg.seq + i);
      if (!o) return;
      this.inFlight.delete(msg.seq + i);
      outs.push([o, results[i]!]);
    });
    // refused here (no quorum, storage fault, failed transaction): nothing applied, nothing to confirm
    if (!applied) for (const [o, r] of outs) o.resolve(r);
    else {
      this.confirm.hold(last, (held) => {
        if (!held) this.log.warn({ ops: outs.length }, 'changes cut off before a quorum confirmed them: their fate is unknown (EIO)');
        for (const [o, r] of outs) o.resolve(held ? r : { errno: E.EIO });
      });
    }
  }

  // ---- membership and the state exchange ----

  private isMember(key: string): boolean {
    return this.members.some((m) => keyOf(m.nodeid, m.pid) === key);
  }

  private liveMembers(): CpgMember[] {
    const me = keyOf(this.nodeId, this.pid);
    return this.members.filter((m) => {
      const k = keyOf(m.nodeid, m.pid);
      return !this.foreign.has(k) && (k === me || !this.silent.has(k));
    });
  }

  /** This member's place among the live members, lowest first (-1: not among them). */
  private myRank(): number {
    const me = keyOf(this.nodeId, this.pid);
    return this.liveMembers()
      .sort((a, b) => a.nodeid - b.nodeid || a.pid - b.pid)
      .findIndex((m) => keyOf(m.nodeid, m.pid) === me);
  }

  private isLowest(): boolean {
    return this.myRank() === 0;
  }

  private onMembership(m: CpgMembership): void {
    const before = new Set(this.members.map((x) => keyOf(x.nodeid, x.pid)));
    this.members = m.members;
    // every member that moved on with this one delivered what this one delivered (extended virtual synchrony)
    this.confirm.membershipChanged(m.members.map((x) => keyOf(x.nodeid, x.pid)).filter((k) => before.has(k)));
    this.ackDue.clear();
    this.updateGroupQuorum();
    for (const gone of m.left) {
      this.reassembly.delete(keyOf(gone.nodeid, gone.pid));
      this.foreign.delete(keyOf(gone.nodeid, gone.pid));
      this.silent.delete(keyOf(gone.nodeid, gone.pid));
    }
    this.log.info({ members: m.members.map((x) => x.nodeid), joined: m.joined.map((x) => x.nodeid), left: m.left.map((x) => x.nodeid) }, 'membership changed');
    // Changes delivered since the last exchange were applied nowhere, and a newcomer never saw them: everybody drops
    // them; their writers send them again once the exchange is over.
    this.requeueHeld();
    this.phase = 'syncing';
    this.epoch = null;
    this.leader = null;
    this.states.clear();
    this.updates.clear();
    this.publishView();
    if (this.roundTimer) clearTimeout(this.roundTimer);
    const rank = this.myRank();
    if (rank === 0) this.requestSync('membership changed');
    else if (rank > 0) {
      // the lowest may be a member that never speaks: the next ones start the exchange in turn
      this.roundTimer = setTimeout(() => {
        if (this.epoch === null && this.phase === 'syncing') this.requestSync('the lowest member did not start the exchange');
      }, rank * SYNC_TIMEOUT_MS);
      this.roundTimer.unref();
    }
    this.watchStall(null);
    if (this.verifying) this.maybeVerified();
  }

  private requeueHeld(): void {
    const mine: Outgoing[] = [];
    for (const h of this.held) {
      if (h.nodeid !== this.nodeId || h.pid !== this.pid) continue;
      h.msg.ops.forEach((_, i) => {
        const o = this.inFlight.get(h.msg.seq + i);
        if (!o) return;
        this.inFlight.delete(h.msg.seq + i);
        mine.push(o);
      });
    }
    this.held = [];
    this.outbox.unshift(...mine);
  }

  /** Asks every member for a state exchange (any member may; the last `sync` delivered wins). */
  requestSync(why: string, ignore?: string[]): void {
    if (this.phase === 'offline') return;
    this.sendQuietly({ t: 'sync', epoch: `${this.nodeId}.${this.pid}.${++this.epochCounter}`, why, ...(ignore?.length ? { ignore } : {}) });
  }

  private beginRound(epoch: Epoch): void {
    if (this.phase === 'synced') this.phase = 'syncing';
    this.epoch = epoch;
    this.leader = null;
    this.states.clear();
    this.updates.clear();
    const { inodes, digests } = summarize(this.store.tree);
    const mtime = this.store.tree.root.mtime;
    // Every member watches the exchange: members that never answer (a stuck process, a stray group member) would
    // hold everybody; after the timeout they are named and left out. The lowest member first, the next ones later
    // in turn: the lowest may be the one that does not answer.
    if (this.roundTimer) clearTimeout(this.roundTimer);
    this.watchStall(epoch);
    // acknowledgements go before the state: at the end of the exchange the leader's writers know what it applied
    this.sendAcks();
    const rank = this.myRank();
    this.roundTimer = setTimeout(() => {
      if (this.epoch !== epoch || this.leader) return;
      const missing = this.liveMembers().map((m) => keyOf(m.nodeid, m.pid)).filter((k) => !this.states.has(k));
      if (missing.length === 0) return;
      this.log.warn({ missing }, 'members did not answer the state exchange: leaving them out');
      this.requestSync('members did not answer', missing);
    }, SYNC_TIMEOUT_MS * (1 + Math.max(0, rank)));
    this.roundTimer.unref();
    this.sendQuietly({
      t: 'state', epoch, gen: this.gen, version: this.store.tree.version, mtime, lead: !this.yieldLead, inodes, digests,
      log: this.opts.clusterlog.newest(50),
    });
  }

  /**
   * Any member still in the same exchange (or still waiting for one after a membership change: `epoch` null) after a
   * while without progress (no state, no update) asks for a new one: whatever held it (a `sync` or an `end` whose
   * send failed, members that chose different leaders), the next exchange starts from scratch. Progress re-arms it,
   * so a long catch-up is not cut short.
   */
  private watchStall(epoch: Epoch | null): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    // past every member's turn to name the silent ones (beginRound)
    const ms = (2 + this.members.length) * SYNC_TIMEOUT_MS + 5000;
    this.stallTimer = setTimeout(() => {
      if (this.epoch !== epoch || this.phase !== 'syncing') return;
      this.log.warn({ epoch, leader: this.leader?.nodeid, states: this.states.size }, 'the state exchange made no progress: asking for a new one');
      this.requestSync('the exchange made no progress');
    }, ms);
    this.stallTimer.unref();
  }

  private maybeComplete(): void {
    if (!this.epoch || this.leader) return;
    const live = this.liveMembers();
    if (live.length === 0 || !live.every((m) => this.states.has(keyOf(m.nodeid, m.pid)))) return;
    const states = live.map((m) => this.states.get(keyOf(m.nodeid, m.pid))!);
    this.leader = chooseLeader(states);
    if (this.leader.nodeid === this.nodeId && this.leader.pid === this.pid) void this.lead(this.epoch, states);
  }

  private async lead(epoch: Epoch, states: MemberState[]): Promise<void> {
    const tree = this.store.tree;
    const send = entriesToSend(this.leader!, states);
    let rows: Row[] = [];
    let bytes = 0;
    try {
      for (const inode of send) {
        if (this.epoch !== epoch) return; // a newer exchange began
        const n = tree.get(inode);
        if (!n) continue;
        rows.push(rowOf(n));
        bytes += (n.data?.length ?? 0) + n.name.length + 64;
        if (bytes >= UPDATE_BYTES) {
          await this.send({ t: 'update', epoch, rows });
          rows = [];
          bytes = 0;
        }
      }
      if (rows.length) await this.send({ t: 'update', epoch, rows });
      if (this.epoch !== epoch) return;
      const gen = Math.max(...states.map((s) => s.gen)) + (this.quorum.quorate ? 1 : 0);
      if (dropEnd !== null && tree.resolve(dropEnd)) {
        dropEnd = null;
        throw new Error('failpoint drop-end');
      }
      await this.send({ t: 'end', epoch, version: tree.version, gen, mtime: tree.root.mtime, writer: this.nodeId, count: send.length });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'state exchange interrupted');
    }
  }

  private finishRound(end: Extract<Msg, { t: 'end' }>): void {
    const leader = this.leader!;
    const tree = this.store.tree;
    const iLead = leader.nodeid === this.nodeId && leader.pid === this.pid;
    try {
      if (!iLead) {
        const since = this.lastSyncWith[String(leader.nodeid)] ?? Math.max(0, ...Object.values(this.lastSyncWith));
        const plan = planCatchUp(tree, leader, this.updates, since, this.opts.nodename, nowS());
        if (plan.puts.length || plan.dels.length || tree.version !== end.version) {
          this.store.replace(plan.puts, plan.dels, end.version, end.writer, end.mtime);
          this.log.info({ from: leader.nodeid, updated: plan.puts.length, removed: plan.dels.length, version: end.version }, 'caught up');
        }
        // nothing is lost where the cluster's tree holds the same content at the same path
        const lost = plan.discarded.filter((d) => {
          const now = tree.resolve(d.path);
          return !now || now.type !== d.type || (d.data !== null && !(now.data ?? Buffer.alloc(0)).equals(d.data));
        });
        if (lost.length) {
          this.store.recordDiscarded(lost);
          const msg = `${lost.length} local change(s) discarded by the catch-up from node ${leader.nodeid} (kept: pmxcfs --discarded)`;
          this.log.warn({ paths: lost.map((d) => d.path) }, msg);
          this.opts.clusterlog.add(this.entry(4, msg));
        }
      }
      this.confirm.exchanged(leader.key, [...this.states.keys()]);
      this.gen = end.gen;
      for (const s of this.states.values()) this.lastSyncWith[String(s.nodeid)] = end.version;
      this.store.setMeta('gen', String(this.gen));
      this.store.setMeta('lastSyncWith', JSON.stringify(this.lastSyncWith));
    } catch (err) {
      this.log.error({ err }, 'catch-up failed: trying again');
      this.updates.clear();
      setTimeout(() => this.requestSync('catch-up failed'), 1000).unref();
      return;
    }
    this.yieldLead = false;
    this.phase = 'synced';
    this.epoch = null;
    if (this.roundTimer) clearTimeout(this.roundTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (this.askAfterRound) {
      this.askAfterRound = false;
      this.requestSync('left out of the last exchange');
    }
    this.updates.clear();
    this.log.info({ leader: leader.nodeid, version: tree.version, gen: this.gen }, 'synced');
    const held = this.held;
    this.held = [];
    for (const h of held) this.applyOps(h);
    this.publishView();
    this.scheduleFlush();
    this.opts.onSynced?.();
  }

  private offline(why: string): void {
    if (this.phase !== 'offline') this.log.warn({ why }, 'not in the cluster group: read-only');
    else if (!this.startReported) {
      this.log.warn({ why }, `cannot reach corosync (is it running?): read-only until this node joins the cluster group; trying again every ${this.retryMs} ms`);
    }
    this.startReported = true;
    this.phase = 'offline';
    this.members = [];
    this.updateGroupQuorum();
    this.held = [];
    this.epoch = null;
    this.leader = null;
    this.failAll(E.EACCES);
    this.publishView();
  }

  private onQuorum(q: QuorumState): void {
    if (q.connected && q.quorum > 0 && q.quorum !== this.votesNeeded) {
      this.votesNeeded = q.quorum;
      this.updateGroupQuorum();
      this.confirm.recheck();
    }
    // this partition lost quorum: what waits for confirmation may or may not be held by the others
    if (!q.quorate && this.confirm.size) this.confirm.failAll();
    if (q.quorate !== this.wasQuorate) {
      this.log.info({ quorate: q.quorate, votes: q.totalVotes, expected: q.expectedVotes }, q.quorate ? 'quorate' : 'quorum lost: read-only');
      // Regained quorum: the lowest member asks for an exchange, so a history that went on elsewhere wins first; so
      // does a member that refused changes meanwhile (others may have applied them).
      if (q.quorate && this.phase !== 'offline' && (this.isLowest() || this.refusedInquorate)) {
        this.refusedInquorate = false;
        this.requestSync('quorum regained');
      }
      if (q.quorate && this.phase === 'synced') this.opts.onSynced?.();
    }
    this.wasQuorate = q.quorate;
    this.publishView();
  }

  private onNodelist(): void {
    try {
      if (this.cmap.connected) this.nodeVotes = new Map(this.cmap.nodelist().map((n) => [n.nodeid, n.quorumVotes]));
    } catch {
      /* corosync went away: keep the votes last seen */
    }
    this.updateGroupQuorum();
    this.confirm.recheck();
    this.publishView();
  }

  // ---- verification ----

  /**
   * Asks every member for a checksum of its tree; a member that differs from the others resyncs. Members that do not
   * answer within `timeoutMs` are left out of the verdict (`complete: false`).
   */
  verify(timeoutMs = 10_000): Promise<VerifyResult> {
    return new Promise((resolve) => {
      if (this.phase !== 'synced') return resolve({ agree: false, complete: false, members: [], differ: [], why: `this node is ${this.phase}, not synced` });
      const id = `${this.nodeId}.${this.pid}.${Date.now()}`;
      const timer = setTimeout(() => this.maybeVerified(true), timeoutMs);
      timer.unref();
      this.verifying = { id, sums: new Map(), done: [resolve], timer };
      this.sendQuietly({ t: 'verify', id });
    });
  }

  private maybeVerified(timedOut = false): void {
    const v = this.verifying;
    if (!v) return;
    const live = this.liveMembers();
    const complete = live.every((m) => v.sums.has(keyOf(m.nodeid, m.pid)));
    if (!complete && !timedOut) return;
    this.verifying = null;
    if (v.timer) clearTimeout(v.timer);
    const sums = [...v.sums.values()];
    const counts = new Map<string, number>();
    for (const s of sums) counts.set(s.digest, (counts.get(s.digest) ?? 0) + 1);
    const lowest = [...sums].sort((a, b) => a.nodeid - b.nodeid)[0];
    // most members' checksum wins; a tie goes to the lowest node's
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || Number(b[0] === lowest?.digest) - Number(a[0] === lowest?.digest))[0]?.[0];
    const mine = v.sums.get(keyOf(this.nodeId, this.pid));
    const agree = counts.size === 1 && complete;
    const differ = sums.filter((s) => s.digest !== best).map((s) => s.nodeid);
    if (differ.length) {
      this.log.warn({ differ }, 'verification: trees differ');
      if (mine && mine.digest !== best) {
        this.log.warn({ mine: mine.digest, cluster: best }, "verification: this node's tree differs from the cluster's; resyncing");
        this.opts.clusterlog.add(this.entry(3, `verification: this node's tree differs from the cluster's; resyncing`));
        this.yieldLead = true;
        this.requestSync('verification mismatch');
      }
    } else if (complete) this.log.info({ version: sums[0]?.version }, 'verification: all members agree');
    else this.log.warn({ answered: sums.map((s) => s.nodeid) }, 'verification: not every member answered');
    for (const d of v.done) d({ agree, complete, members: sums, differ });
  }

  /** Tells the members which corosync.conf version this node's corosync has on disk. */
  announceConfVersion(version: number): void {
    this.sendQuietly({ t: 'confver', version });
  }

  /** Node ids whose daemon is in the group now. */
  onlineNodeIds(): number[] {
    return [...new Set(this.members.map((m) => m.nodeid))];
  }

  // ---- cluster log and view ----

  private entry(pri: number, msg: string): Omit<LogEntry, 'uid'> {
    return { time: nowS(), pri, tag: 'pmxcfs', pid: this.pid, node: this.opts.nodename, user: 'root@pam', msg };
  }

  private shareLog(e: LogEntry): void {
    if (this.phase === 'offline' || e.node !== this.opts.nodename) return;
    this.sendQuietly({ t: 'log', entries: [e] });
  }

  view(): ClusterView {
    const online = new Set(this.members.map((m) => m.nodeid));
    let nodes: { nodeid: number; name: string; rings: string[] }[] = [];
    let name = '';
    let configVersion = 0;
    try {
      if (this.cmap.connected) {
        nodes = this.cmap.nodelist();
        name = this.cmap.getString('totem.cluster_name') ?? '';
        configVersion = this.cmap.configVersion() ?? 0;
      }
    } catch {
      /* corosync went away: the view shows what is left */
    }
    return {
      name,
      configVersion,
      quorate: this.quorum.quorate,
      members: nodes.map((n) => ({ nodeid: n.nodeid, name: n.name, ip: n.rings[0], online: online.has(n.nodeid) })),
    };
  }

  private publishView(): void {
    this.opts.onView?.(this.view());
  }
}
