// WAL checkpoints off the thread that answers FUSE.
//
// SQLite's automatic checkpoint runs inside the commit that crosses 1000 WAL pages: that commit copies the pages
// into the database file and waits for two fsyncs, on the daemon's only JS thread, while a FUSE request waits for
// its reply (measured: +12-17 us per transaction on average, all of it in a few slow requests). Here the daemon's
// connection does not checkpoint by itself; a worker thread with its own connection runs a PASSIVE checkpoint every
// CHECKPOINT_EVERY WAL pages, and once the writes pause. Nothing about durability changes: a committed transaction is
// in the WAL either way (synchronous = NORMAL), and the WAL is replayed at the next open.
//
// SQLite starts the WAL over (instead of growing it) only at a write that finds every frame copied. Under steady
// writes the thread's checkpoint never copies the frames written while it ran, so once RESTART_AFTER pages went
// into the WAL since it last started over, the daemon's connection copies the few frames left itself (`finish`)
// after the thread's checkpoint, and the next commit starts the WAL over: the file stays near RESTART_AFTER pages
// plus what is written during one checkpoint of the thread. (Pages are counted from the changes' sizes: an
// estimate, which is all the thresholds need.)
//
// A failed checkpoint (a full disk) is reported and tried again at the next threshold, or IDLE_MS later when the
// writes stopped: the WAL keeps every commit meanwhile. Only a thread that died sends the daemon back to SQLite's
// checkpoints inside commits.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The thread: its own connection, one PASSIVE checkpoint per message (it never waits for the daemon's writes and
// never blocks them). Inline, so that it runs the same from the sources (tests) and from dist.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e && e.message) });
  }
});
`;
const SQLITE = createRequire(import.meta.url).resolve('better-sqlite3');

/** WAL pages (4 KiB) between two checkpoints of the thread (SQLite's own default is 1000) */
const CHECKPOINT_EVERY = 500;
/** WAL pages after which the daemon's connection finishes a checkpoint, so that the WAL starts over (8 MiB) */
const RESTART_AFTER = 2000;
/** commits not yet checkpointed get their checkpoint within this long (ms), also when the writes stop */
const IDLE_MS = 2000;

export interface CheckpointerOptions {
  /** checkpoint the frames the thread's checkpoint left, on the caller's connection */
  finish: () => void;
  /** the thread died: the caller goes back to checkpointing in its own commits */
  onFailure?: (message: string) => void;
  /** a checkpoint failed (once per stretch of failures) */
  onError?: (message: string) => void;
}

export class Checkpointer {
  /** checkpoints the thread ran, and the daemon's own (finish) ones */
  readonly counts = { thread: 0, finish: 0 };
  /** null once closed or dead */
  private worker: Worker | null;
  private sinceLast = 0;
  private running = false;
  private idle: NodeJS.Timeout | undefined;
  /** pages since the WAL last started over */
  private sinceRestart = 0;
  /** a checkpoint failed and none succeeded since */
  private erring = false;
  /** pages written while the thread's checkpoint ran (frames it did not copy) */
  private during = 0;
  /** pages the running checkpoint was asked to copy */
  private requested = 0;

  constructor(file: string, private readonly opts: CheckpointerOptions) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, sqlite: SQLITE } });
    // the daemon's exit never waits for its checkpointer
    this.worker.unref();
    this.worker.on('message', (m: { ok: boolean; error?: string }) => {
      this.running = false;
      if (!m.ok) return this.failed(m.error ?? 'unknown error');
      this.erring = false;
      this.counts.thread++;
      // nothing written while it ran: the next commit starts the WAL over
      if (this.during === 0) this.sinceRestart = 0;
      else if (this.sinceRestart >= RESTART_AFTER) {
        this.sinceRestart = 0;
        try {
          this.opts.finish();
          this.counts.finish++;
        } catch (e) {
          return this.failed((e as Error).message);
        }
        this.sinceLast = 0;
      }
      if (this.sinceLast >= CHECKPOINT_EVERY) this.request();
      else if (this.sinceLast > 0) this.armIdle(); // the idle timer may have gone off while this one ran
    });
    this.worker.on('error', (e) => this.die(`checkpoint thread failed: ${e.message}`));
    this.worker.on('exit', () => this.die('checkpoint thread exited'));
  }

  /** Whether checkpoints still run here (false once closed, or after the thread died: the caller checkpoints). */
  get active(): boolean {
    return this.worker !== null;
  }

  /** A transaction that wrote about `pages` WAL pages committed. */
  committed(pages: number): void {
    if (this.running) this.during += pages;
    this.sinceRestart += pages;
    if ((this.sinceLast += pages) >= CHECKPOINT_EVERY) {
      if (!this.running) this.request();
      return;
    }
    this.armIdle();
  }

  /** Commits not checkpointed yet get their checkpoint within IDLE_MS, also when the writes stop. */
  private armIdle(): void {
    if (this.idle || !this.worker) return;
    this.idle = setTimeout(() => {
      this.idle = undefined;
      if (this.sinceLast > 0 && !this.running) this.request();
    }, IDLE_MS);
    this.idle.unref();
  }

  /** Stops the thread (its connection closes after a checkpoint under way). */
  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const w = this.worker;
    this.worker = null;
    w?.postMessage('close');
  }

  private request(): void {
    if (!this.worker) return;
    this.requested = this.sinceLast;
    this.sinceLast = 0;
    this.during = 0;
    this.running = true;
    this.worker.postMessage('checkpoint');
  }

  /** A checkpoint failed: its pages still wait for one, also when no commit follows (the idle timer tries again). */
  private failed(message: string): void {
    if (!this.erring) this.opts.onError?.(`WAL checkpoint failed (the WAL keeps every change; tried again later): ${message}`);
    this.erring = true;
    this.sinceLast += this.requested;
    this.armIdle();
  }

  /** The thread died (not closed): stop using it. */
  private die(message: string): void {
    if (!this.worker) return;
    const w = this.worker;
    this.worker = null;
    void w.terminate();
    this.opts.onFailure?.(message);
  }
}
