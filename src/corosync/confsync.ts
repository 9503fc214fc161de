// Keeps /etc/corosync/corosync.conf in step with the tree's corosync.conf.
//
// The daemon calls `treeChanged(data, { madeHere })` after every applied change of the tree's corosync.conf (and at
// start and after a state sync, with madeHere false). Every node validates the file the same way
// (checkCorosyncConfUpdate against its local file); a valid file whose config_version is above the local one is
// written atomically (temp file, fsync, rename). The node that made the change then waits until every member reports
// that it has the version (`peerHas`, fed by the daemon from its members' messages) and asks corosync to re-read
// its config (each corosync re-reads its own local file, so it must be everywhere first). An invalid file, or one
// whose version did not grow, is written nowhere; the reason, with the line, goes to the log and the cluster log,
// and the running configuration stays.

import { execFile } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { checkCorosyncConfUpdate, getConfigVersion, listNodes, parseCorosyncConf } from './conf.js';

export interface ConfSyncLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface ConfSyncOptions {
  /** Directory of the local corosync.conf (default /etc/corosync). */
  corosyncDir?: string;
  log: ConfSyncLog;
  /** Also tell the cluster log (pri 3 error, 4 warning, 6 info). */
  clusterLog?: (pri: number, msg: string) => void;
  /** Tell the other members that this node's local file now has `version` (the daemon broadcasts it). */
  announce?: (version: number) => void;
  /** Node ids of the members whose daemon is online now (the reload waits for these). */
  members?: () => number[];
  /** The local node id (it needs no announcement from itself). */
  localNodeId?: () => number;
  /** How corosync is told to re-read (default `corosync-cfgtool -R`). */
  reload?: () => Promise<void>;
  /** How long the reload waits for the members (default 10 s; then it reloads anyway and warns). */
  barrierTimeoutMs?: number;
}

export type ConfSyncResult =
  | { action: 'written'; version: number; reloaded: boolean }
  | { action: 'unchanged' }
  | { action: 'removed-from-tree' }
  | { action: 'refused'; reason: string };

function runReload(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('corosync-cfgtool', ['-R'], { timeout: 15_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`corosync-cfgtool -R failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** Writes a file so that a reader sees the old or the new content, never a mix (same directory, rename). */
export function writeFileAtomic(path: string, data: Buffer | string, mode = 0o644): void {
  const tmp = `${path}.tmp.${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** Existing nodes whose address of an existing link changed: corosync refuses those on reload. */
function addressChanges(oldData: Buffer, conf: ReturnType<typeof parseCorosyncConf>): string[] {
  let old;
  try {
    old = listNodes(parseCorosyncConf(oldData.toString('utf8'), { validate: false }));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of listNodes(conf)) {
    const o = old.find((x) => x.nodeid === n.nodeid);
    if (!o) continue;
    for (const [link, addr] of Object.entries(n.rings)) {
      const was = o.rings[Number(link)];
      if (was !== undefined && was !== addr) out.push(`node ${n.name} link ${link}: ${was} -> ${addr}`);
    }
  }
  return out;
}

export class CorosyncConfSync {
  readonly path: string;
  private readonly peerVersions = new Map<number, number>();
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: ConfSyncOptions) {
    this.path = join(opts.corosyncDir ?? '/etc/corosync', 'corosync.conf');
  }

  private localData(): Buffer | undefined {
    try {
      return readFileSync(this.path);
    } catch {
      return undefined;
    }
  }

  /** config_version of the local file (undefined when there is none or it does not parse). */
  localVersion(): number | undefined {
    const data = this.localData();
    if (!data) return undefined;
    try {
      return getConfigVersion(parseCorosyncConf(data.toString('utf8'), { validate: false }));
    } catch {
      return undefined;
    }
  }

  private seenVersion: number | undefined = undefined;
  private seenPresent = false;
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * For the daemon's commit hook: give the tree's corosync.conf entry as it is after each commit (or undefined).
   * Calls treeChanged when the entry changed since the last call (entry version), with madeHere when this node
   * wrote it. Calls are serialized; the result promise is for tests and logs.
   */
  observe(entry: { data: Buffer | null; version: number; writer: number } | undefined, localNodeId: number): Promise<ConfSyncResult | undefined> {
    const present = entry !== undefined && entry.data !== null;
    if (present === this.seenPresent && (!present || entry!.version === this.seenVersion)) return Promise.resolve(undefined);
    const first = this.seenVersion === undefined && !this.seenPresent;
    this.seenPresent = present;
    this.seenVersion = present ? entry!.version : undefined;
    const data = present ? Buffer.from(entry!.data!) : undefined;
    // The first look (daemon start, or after a sync) is never "made here": no reload for what corosync already runs.
    const madeHere = !first && present && entry!.writer === localNodeId && localNodeId !== 0;
    const run = this.chain.then(() => this.treeChanged(data, { madeHere }));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** A member says its local corosync.conf now has `version`. */
  peerHas(nodeid: number, version: number): void {
    this.peerVersions.set(nodeid, Math.max(version, this.peerVersions.get(nodeid) ?? 0));
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private refuse(reason: string): ConfSyncResult {
    this.opts.log.error(`corosync.conf from the cluster filesystem not applied: ${reason}`);
    this.opts.clusterLog?.(3, `corosync.conf not applied: ${reason}`);
    return { action: 'refused', reason };
  }

  /**
   * The tree's corosync.conf after an applied change (undefined: it was removed). `madeHere`: this node's client made
   * the change, so this node triggers the reload.
   */
  async treeChanged(data: Buffer | undefined, origin: { madeHere: boolean }): Promise<ConfSyncResult> {
    if (data === undefined) {
      // Removing the file from the tree is how a node is separated (5.5.1); corosync's own file is the admin's.
      this.opts.log.warn('corosync.conf was removed from the cluster filesystem; /etc/corosync/corosync.conf left as it is');
      return { action: 'removed-from-tree' };
    }
    const local = this.localData();
    if (local && local.equals(data)) {
      const v = this.localVersion();
      if (v !== undefined) this.opts.announce?.(v);
      return { action: 'unchanged' };
    }
    const check = checkCorosyncConfUpdate(local, data);
    if (check.errno !== 0) return this.refuse(check.reason ?? 'invalid');
    const conf = parseCorosyncConf(data.toString('utf8'));
    const version = getConfigVersion(conf)!;
    // Names that do not resolve make corosync fail with "nodelist or quorum.expected_votes must be configured" (5.8.2).
    for (const n of listNodes(conf)) {
      for (const [link, addr] of Object.entries(n.rings)) {
        if (isIP(addr)) continue;
        try {
          await lookup(addr);
        } catch {
          return this.refuse(`node '${n.name}' ring${link}_addr '${addr}' does not resolve to an address (use an IP address or fix name resolution)`);
        }
      }
    }
    const restart = local ? addressChanges(local, conf) : [];
    if (restart.length) {
      const msg = `corosync.conf config_version ${version} changes link addresses (${restart.join('; ')}): corosync cannot take that by a reload, restart it on every node, one at a time (systemctl restart corosync)`;
      this.opts.log.warn(msg);
      this.opts.clusterLog?.(4, msg);
    }
    try {
      writeFileAtomic(this.path, data);
    } catch (e) {
      return this.refuse(`cannot write ${this.path}: ${(e as Error).message}`);
    }
    this.opts.log.info(`wrote ${this.path} (config_version ${version})`);
    this.opts.clusterLog?.(6, `corosync.conf config_version ${version} written to ${this.path}`);
    this.opts.announce?.(version);
    if (!origin.madeHere) return { action: 'written', version, reloaded: false };
    await this.waitMembers(version);
    try {
      await (this.opts.reload ?? runReload)();
      this.opts.log.info(`corosync reloaded its configuration (config_version ${version})`);
    } catch (e) {
      this.opts.log.error(`corosync reload failed: ${(e as Error).message}`);
      this.opts.clusterLog?.(3, `corosync reload failed: ${(e as Error).message}`);
      return { action: 'written', version, reloaded: false };
    }
    return { action: 'written', version, reloaded: true };
  }

  /** Resolves when every online member (but this one) has announced `version`, or after the timeout. */
  private async waitMembers(version: number): Promise<void> {
    const members = this.opts.members;
    if (!members) return;
    const self = this.opts.localNodeId?.();
    const missing = () => members().filter((id) => id !== self && (this.peerVersions.get(id) ?? 0) < version);
    const end = Date.now() + (this.opts.barrierTimeoutMs ?? 10_000);
    while (missing().length > 0) {
      const left = end - Date.now();
      if (left <= 0) {
        this.opts.log.warn(`reloading corosync although nodes ${missing().join(', ')} did not confirm config_version ${version}`);
        return;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
