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

export class ClusterLog {
  private readonly entries: LogEntry[] = [];
  private nextUid = 1;

  constructor(private readonly capacity = 5000) {}

  add(e: Omit<LogEntry, 'uid'>): void {
    this.entries.push({ uid: this.nextUid++, ...e });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** The newest `max` entries, newest first. */
  newest(max = 50): LogEntry[] {
    return this.entries.slice(-max).reverse();
  }
}
