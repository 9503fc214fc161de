// Nodes for pvecm's end-to-end tests: the testnet's network namespaces, and on each node a pmxcfs daemon and (once
// pvecm starts it) corosync, all set up the way pvecm expects a Proxmox node to be, but in temp dirs:
//   corosync runs through `corosync-wrapper`, which also bind-mounts the node's own etc-corosync, lib and log dirs
//   over /etc/corosync, /var/lib/corosync and /var/log/corosync (private mount namespace), so the cluster-wide
//   corosync.conf can use the standard paths; pvecm sees the same files as PVECM_COROSYNC_DIR.
//   The daemon runs in the test's mount namespace with the node's network namespace (nsenter --net), so its mount
//   is visible to the test and to pvecm, which runs the same way.
// Each daemon runs in cluster mode as on a Proxmox node: it hosts the join service and keeps its node's
// /etc/corosync/corosync.conf in step with the tree.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getConfigVersion, parseCorosyncConf } from '../../src/corosync/conf.js';
import { DAEMON_JS, forceUnmount, isMounted } from '../../bench/lib-daemon.js';
import { packageRoot, Testnet, type ExecResult } from './testnet.js';

export const PVECM_JS = join(packageRoot(), 'dist', 'src', 'cli', 'pvecm.js');

/** corosync settings for fast, stable test clusters (see corosync-testnet.md), applied by `pvecm create`. */
export const FAST_COROSYNC = [
  'totem.token=500',
  'totem.token_coefficient=0',
  'totem.consensus=600',
  'totem.join=50',
  'totem.interface.knet_ping_interval=125',
  'totem.interface.knet_ping_timeout=500',
  'logging.to_syslog=no',
  'logging.to_logfile=yes',
  'logging.logfile=/var/log/corosync/corosync.log',
  'logging.timestamp=hires',
  'logging.blackbox=off',
  'system.sched_rr=no',
].join(';');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PvecmNode {
  constructor(
    readonly net: PvecmNet,
    readonly id: number,
  ) {}
  get tn() {
    return this.net.net.node(this.id);
  }
  get name() {
    return `n${this.id}`;
  }
  get address() {
    return this.tn.address;
  }
  get dir() {
    return this.tn.dir;
  }
  get corosyncDir() {
    return join(this.dir, 'etc-corosync');
  }
  get mnt() {
    return join(this.dir, 'pve');
  }
  get db() {
    return join(this.dir, 'db', 'config.db');
  }
  get run() {
    return join(this.dir, 'pmxcfs-run');
  }
  get joinDir() {
    return join(this.dir, 'join');
  }
  get csWrapper() {
    return join(this.dir, 'corosync-wrapper');
  }
  get daemonCmd() {
    return `PMXCFS_SYSLOG_SOCKET=/nonexistent PMXCFS_JOIN_DIR=${this.joinDir} ${process.execPath} ${DAEMON_JS} --mount ${this.mnt} --db ${this.db} --run-dir ${this.run} --nodename ${this.name} --corosync-conf ${this.corosyncDir}/corosync.conf --fuse native </dev/null >/dev/null 2>>${this.run}/pmxcfs.log`;
  }
  get stopDaemonCmd() {
    return `p=$(cat ${this.run}/pmxcfs.pid 2>/dev/null) || exit 0; kill $p 2>/dev/null; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; true`;
  }
  get stopCorosyncCmd() {
    return `p=$(cat ${this.tn.runDir}/corosync.pid 2>/dev/null) || exit 0; kill $p 2>/dev/null; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; true`;
  }
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PVECM_PVE_DIR: this.mnt,
      PVECM_COROSYNC_DIR: this.corosyncDir,
      PVECM_DB: this.db,
      PVECM_RUN_DIR: this.run,
      PVECM_JOIN_DIR: this.joinDir,
      PVECM_NODENAME: this.name,
      PVECM_START_COROSYNC: `${this.csWrapper} corosync`,
      PVECM_STOP_COROSYNC: this.stopCorosyncCmd,
      PVECM_START_DAEMON: this.daemonCmd,
      PVECM_STOP_DAEMON: this.stopDaemonCmd,
      PVECM_COROSYNC_SET: FAST_COROSYNC,
      PMXCFS_COROSYNC_RETRY_MS: '300',
      ...extra,
    };
  }

  /** Runs a command in this node's network namespace (test's mount namespace). */
  exec(argv: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((res) => {
      const p = spawn('nsenter', [`--net=/run/netns/${this.tn.ns}`, '--', ...argv], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...this.env(), ...opts.env },
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      p.on('close', (code) => {
        clearTimeout(t);
        res({ code: code ?? -1, stdout, stderr });
      });
      p.stdin.on('error', () => {});
      p.stdin.end(opts.input ?? '');
    });
  }

  pvecm(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.exec([process.execPath, PVECM_JS, ...args], { timeoutMs: 120_000, ...opts });
  }

  sh(cmd: string, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.exec(['sh', '-c', cmd], opts);
  }

  async startDaemon(): Promise<void> {
    const r = await this.sh(this.daemonCmd);
    if (r.code !== 0) throw new Error(`daemon of ${this.name} did not start: ${r.stderr}${this.daemonLog()}`);
  }

  async stopDaemon(): Promise<void> {
    await this.sh(this.stopDaemonCmd);
    forceUnmount(this.mnt);
  }

  async stopCorosync(): Promise<void> {
    await this.sh(this.stopCorosyncCmd);
  }

  daemonLog(lines = 30): string {
    try {
      return readFileSync(join(this.run, 'pmxcfs.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  corosyncLog(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'log', 'corosync.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  members(): { cluster?: { quorate: number; nodes: number; version?: number }; nodelist?: Record<string, { id: number; online: number }> } | undefined {
    try {
      return JSON.parse(readFileSync(join(this.mnt, '.members'), 'utf8')) as ReturnType<PvecmNode['members']>;
    } catch {
      return undefined;
    }
  }

  /** Reads a file of this node's tree in a child process (never from the test process: a hung mount must not hang it). */
  async readTree(path: string): Promise<string | undefined> {
    const r = await this.exec(['cat', join(this.mnt, path)], { timeoutMs: 10_000 });
    return r.code === 0 ? r.stdout : undefined;
  }
}

export class PvecmNet {
  readonly nodes: PvecmNode[] = [];

  private constructor(readonly net: Testnet) {}

  static create(count: number): PvecmNet {
    const net = Testnet.create({ nodes: count });
    const p = new PvecmNet(net);
    for (let id = 1; id <= count; id++) {
      const n = new PvecmNode(p, id);
      p.nodes.push(n);
      for (const d of [n.corosyncDir, n.mnt, join(n.dir, 'db'), n.run, join(n.dir, 'log'), join(n.dir, 'lib')]) mkdirSync(d, { recursive: true });
      chmodSync(n.dir, 0o755);
      writeFileSync(
        n.csWrapper,
        `#!/bin/sh\n# corosync of node ${id}: its namespace, with its own /run, /etc/corosync, /var/lib/corosync, /var/log/corosync\n` +
          `exec ip netns exec ${n.tn.ns} sh -c 'mount --bind ${n.tn.runDir} /run && mount --bind ${n.corosyncDir} /etc/corosync && ` +
          `mount --bind ${n.dir}/lib /var/lib/corosync && mount --bind ${n.dir}/log /var/log/corosync && exec "$@"' corosync-wrapper "$@"\n`,
      );
      chmodSync(n.csWrapper, 0o755);
    }
    return p;
  }

  node(id: number): PvecmNode {
    return this.nodes[id - 1]!;
  }

  /** A second network (for link 1): eth1 with 10.98.0.N/24 on every node, on its own bridge. */
  addSecondNetwork(): void {
    const br = this.net.bridgeNs;
    const ip = (...a: string[]) => spawnSync('ip', a, { stdio: 'ignore', timeout: 10_000 });
    ip('-n', br, 'link', 'add', 'br1', 'type', 'bridge');
    ip('-n', br, 'link', 'set', 'br1', 'up');
    for (const n of this.nodes) {
      ip('-n', br, 'link', 'add', `w${n.id}`, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', n.tn.ns);
      ip('-n', br, 'link', 'set', `w${n.id}`, 'master', 'br1');
      ip('-n', br, 'link', 'set', `w${n.id}`, 'up');
      ip('-n', n.tn.ns, 'addr', 'add', `10.98.0.${n.id}/24`, 'dev', 'eth1');
      ip('-n', n.tn.ns, 'link', 'set', 'eth1', 'up');
    }
  }

  /** Takes node `id`'s interface down or up. */
  setLink(id: number, dev: string, up: boolean): void {
    spawnSync('ip', ['-n', this.node(id).tn.ns, 'link', 'set', dev, up ? 'up' : 'down'], { stdio: 'ignore', timeout: 10_000 });
  }

  /** The join service of node `id`'s daemon (cluster mode): its port and certificate fingerprint, from its log. */
  async startJoinHost(id: number): Promise<{ port: number; fingerprint: string }> {
    const n = this.node(id);
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      let log = '';
      try {
        log = readFileSync(join(n.run, 'pmxcfs.log'), 'utf8');
      } catch {
        /* not yet */
      }
      const lines = log.split('\n').filter((l) => l.includes('join service listening'));
      if (lines.length) {
        const m = JSON.parse(lines[lines.length - 1]!) as { port: number; fingerprint: string };
        return { port: m.port, fingerprint: m.fingerprint };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node ${id}'s daemon did not start its join service`);
  }

  /** Waits until node `id`'s corosync is quorate with `members` members (corosync-quorumtool in its namespace). */
  async waitQuorate(id: number, members: number, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      const r = await this.node(id).exec(['corosync-quorumtool', '-s'], { timeoutMs: 5000 });
      last = r.stdout + r.stderr;
      if (/^Quorate:\s+Yes/m.test(r.stdout) && new RegExp(`^Nodes:\\s+${members}$`, 'm').test(r.stdout)) return;
      await sleep(200);
    }
    throw new Error(`node ${id} not quorate with ${members} members: ${last}\n${this.node(id).corosyncLog()}`);
  }

  /** Waits until the daemon of each node reports quorate and can write (a probe file). */
  async waitWritable(ids: number[], timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last = '';
    for (const id of ids) {
      for (;;) {
        const n = this.node(id);
        const r = await n.sh(`echo x > ${n.mnt}/.pvct-probe && rm -f ${n.mnt}/.pvct-probe`, { timeoutMs: 10_000 });
        if (r.code === 0) break;
        last = r.stderr;
        if (Date.now() > end) throw new Error(`node ${id} not writable: ${last}\n${n.daemonLog()}`);
        await sleep(200);
      }
    }
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) {
      await n.stopDaemon().catch(() => {});
      if (isMounted(n.mnt)) forceUnmount(n.mnt);
    }
    await this.net.destroy();
    for (const n of this.nodes) if (existsSync(n.mnt) && isMounted(n.mnt)) spawnSync('umount', ['-l', n.mnt]);
  }
}

export function confVersion(text: string | undefined): number | undefined {
  return text === undefined ? undefined : getConfigVersion(parseCorosyncConf(text, { validate: false }));
}
