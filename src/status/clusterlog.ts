// The cluster log shown in `.clusterlog`: a bounded ring of entries, newest first when read.
export interface LogEntry {
  uid: number;
  time: number;
  pri: number;
  tag: string;
  pid: number;
  node: string;
  user: string;
  msg: string;
}

// In cluster mode every node's entries are shared with all members and merged here; an entry is known by its node,
// its uid there and its time, so the same entry arriving twice (live, then again in a state exchange) is kept once.
export class ClusterLog {
  private readonly entries: LogEntry[] = [];
  private readonly seen = new Set<string>();
  private nextUid = 1;
  private readonly listeners: ((e: LogEntry) => void)[] = [];

  constructor(private readonly capacity = 5000) {}

  add(e: Omit<LogEntry, 'uid'>): void {
    const entry = { uid: this.nextUid++, ...e };
    this.insert(entry);
    for (const l of this.listeners) l(entry);
  }

  /** Called for every entry added on this node (to share it). */
  onAdd(cb: (e: LogEntry) => void): void {
    this.listeners.push(cb);
  }

  /** Entries from other nodes; duplicates are dropped, the order is by time. */
  merge(list: LogEntry[]): void {
    for (const e of list) this.insert(e);
  }

  private insert(e: LogEntry): void {
    const key = `${e.node}\0${e.uid}\0${e.time}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1]!.time > e.time) i--;
    this.entries.splice(i, 0, e);
    if (this.entries.length > this.capacity) {
      const old = this.entries.shift()!;
      this.seen.delete(`${old.node}\0${old.uid}\0${old.time}`);
    }
  }

  /** The newest `max` entries, newest first. */
  newest(max = 50): LogEntry[] {
    return this.entries.slice(-max).reverse();
  }
}
