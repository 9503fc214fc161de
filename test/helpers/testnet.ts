// A real multi-node corosync cluster on one machine, for tests and benchmarks.
//
// Topology (see /work/shared/reference/corosync-testnet.md): one network namespace holds a bridge; each node has its
// own namespace with a veth `eth0` (10.99.0.N/24) whose peer sits on that bridge, so no traffic leaves the machine.
// corosync's IPC uses abstract unix sockets (per network namespace) and a fixed pid file under /run, so every node
// also gets its own run dir, bind-mounted over /run inside `ip netns exec` (which already gives a private mount
// namespace, so nothing leaks to the host). Clients must run the same way: `node.wrapper` does that.
//
// Every name starts with `pmxt-<owner pid>-`, so leftovers of earlier runs (dead owner) can be removed at start
// without touching a cluster another live process is using. Every wait is bounded.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PREFIX = 'pmxt-';
const SUBNET = '10.99.0';

/** The package root, found from this file both in test/helpers and in dist/test/helpers. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('package root not found');
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestnetOptions {
  nodes: number;
  /** corosync totem token in ms (default 500, measured stable here). */
  token?: number;
  clusterName?: string;
  configVersion?: number;
  /** Extra lines inside `quorum { }`, e.g. ['two_node: 1']. */
  quorumOptions?: string[];
}

export interface QuorumStatus {
  reachable: boolean;
  quorate: boolean;
  nodes: number;
  expectedVotes: number;
  totalVotes: number;
}

export class TestNode {
  proc: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly net: Testnet,
    readonly id: number,
    readonly ns: string,
    readonly dir: string,
  ) {}

  get name(): string {
    return `n${this.id}`;
  }
  get address(): string {
    return `${SUBNET}.${this.id}`;
  }
  get runDir(): string {
    return join(this.dir, 'run');
  }
  get confPath(): string {
    return join(this.dir, 'corosync.conf');
  }
  get logPath(): string {
    return join(this.dir, 'corosync.log');
  }
  /** Script that runs its arguments inside this node's namespace with this node's /run. */
  get wrapper(): string {
    return join(this.dir, 'in-node');
  }
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }
}

function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function trySh(cmd: string, args: string[], timeoutMs = 10_000): boolean {
  try {
    sh(cmd, args, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function listNamespaces(): string[] {
  let out = '';
  try {
    out = sh('ip', ['netns', 'list']);
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
}

function killNamespace(ns: string): void {
  let pids: number[] = [];
  try {
    pids = sh('ip', ['netns', 'pids', ns])
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    /* namespace already gone */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited */
    }
  }
  // Bounded wait so the namespace is really empty before it goes.
  const end = Date.now() + 3000;
  while (pids.some(pidAlive) && Date.now() < end) execFileSync('sleep', ['0.05']);
  trySh('ip', ['netns', 'del', ns]);
}

/** libqb ring buffers in /dev/shm carry the pids of both ends; remove those where any pid is dead. */
export function cleanShm(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith('qb-')) continue;
    const pids = (name.match(/-(\d+)-(\d+)-\d+-/) ?? []).slice(1, 3).map(Number);
    if (pids.length === 2 && pids.every(pidAlive)) continue;
    if (pids.length !== 2 && !/blackbox/.test(name)) continue;
    const bb = name.match(/blackbox-\w+-(\d+)/);
    if (pids.length !== 2 && bb && pidAlive(Number(bb[1]))) continue;
    rmSync(join('/dev/shm', name), { recursive: true, force: true });
  }
}

/** Removes namespaces, processes and temp dirs of earlier runs whose owner process is gone. */
export function cleanupLeftovers(): void {
  for (const ns of listNamespaces()) {
    const owner = Number(ns.slice(PREFIX.length).split('-')[0]);
    if (owner && owner !== process.pid && pidAlive(owner)) continue;
    killNamespace(ns);
  }
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const owner = Number(name.slice(PREFIX.length).split('-')[0]);
    if (owner && owner !== process.pid && pidAlive(owner)) continue;
    if (owner === process.pid && live.size > 0) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  cleanShm();
}

const live = new Set<Testnet>();
let exitHookInstalled = false;
let seq = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test runner exits without calling destroy(): everything here is synchronous.
  process.on('exit', () => {
    for (const net of [...live]) net.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const net of [...live]) net.destroySync();
      // Our listener is gone now: re-raise so the default action (or the runner's own handler) applies.
      process.kill(process.pid, sig);
    });
  }
}

export function corosyncConf(opts: {
  nodes: number;
  nodeDir: string;
  token: number;
  clusterName: string;
  configVersion: number;
  quorumOptions?: string[];
  nodeIds?: number[];
}): string {
  const ids = opts.nodeIds ?? Array.from({ length: opts.nodes }, (_, i) => i + 1);
  const nodes = ids
    .map(
      (id) => `  node {
    name: n${id}
    nodeid: ${id}
    quorum_votes: 1
    ring0_addr: ${SUBNET}.${id}
  }
`,
    )
    .join('');
  const quorumExtra = (opts.quorumOptions ?? []).map((l) => `  ${l}\n`).join('');
  return `totem {
  version: 2
  cluster_name: ${opts.clusterName}
  config_version: ${opts.configVersion}
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: ${opts.token}
  token_coefficient: 0
  consensus: ${Math.round(opts.token * 1.2)}
  join: 50
  interface {
    linknumber: 0
    knet_ping_interval: 125
    knet_ping_timeout: 500
  }
}

nodelist {
${nodes}}

quorum {
  provider: corosync_votequorum
${quorumExtra}}

logging {
  to_logfile: yes
  logfile: ${opts.nodeDir}/corosync.log
  to_syslog: no
  to_stderr: no
  timestamp: hires
  blackbox: off
}

system {
  state_dir: ${opts.nodeDir}/lib
  sched_rr: no
}
`;
}

export class Testnet {
  readonly nodes: TestNode[] = [];
  readonly bridgeNs: string;
  readonly dir: string;
  private destroyed = false;
  private readonly clients = new Set<ChildProcess>();
  private partitioned = new Set<number>();

  private constructor(
    readonly tag: string,
    readonly opts: Required<Omit<TestnetOptions, 'quorumOptions'>> & { quorumOptions: string[] },
  ) {
    this.bridgeNs = `${tag}-br`;
    this.dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  }

  /** Creates namespaces, bridge, veths, node dirs and configs (corosync not started yet). */
  static create(options: TestnetOptions): Testnet {
    if (options.nodes < 1 || options.nodes > 16) throw new Error('1..16 nodes');
    cleanupLeftovers();
    installExitHook();
    const tag = `${PREFIX}${process.pid}-${seq++}`;
    const net = new Testnet(tag, {
      nodes: options.nodes,
      token: options.token ?? 500,
      clusterName: options.clusterName ?? 'test',
      configVersion: options.configVersion ?? 1,
      quorumOptions: options.quorumOptions ?? [],
    });
    live.add(net);
    try {
      net.setup();
    } catch (e) {
      net.destroySync();
      throw e;
    }
    return net;
  }

  private setup(): void {
    const br = this.bridgeNs;
    sh('ip', ['netns', 'add', br]);
    sh('ip', ['-n', br, 'link', 'set', 'lo', 'up']);
    // br0 is the cluster; brp holds the nodes cut off by partition().
    for (const b of ['br0', 'brp']) {
      sh('ip', ['-n', br, 'link', 'add', b, 'type', 'bridge']);
      sh('ip', ['-n', br, 'link', 'set', b, 'up']);
    }
    for (let id = 1; id <= this.opts.nodes; id++) {
      const ns = `${this.tag}-n${id}`;
      const dir = join(this.dir, `n${id}`);
      const node = new TestNode(this, id, ns, dir);
      this.nodes.push(node);
      mkdirSync(join(dir, 'run'), { recursive: true });
      mkdirSync(join(dir, 'lib'), { recursive: true });
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', br, 'link', 'add', `v${id}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['-n', br, 'link', 'set', `v${id}`, 'master', 'br0']);
      sh('ip', ['-n', br, 'link', 'set', `v${id}`, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      writeFileSync(
        node.wrapper,
        `#!/bin/sh\n# Runs "$@" inside node ${id}'s network namespace with its own /run.\n` +
          `exec ip netns exec ${ns} sh -c 'mount --bind "$0" /run && exec "$@"' ${dir}/run "$@"\n`,
      );
      chmodSync(node.wrapper, 0o755);
      this.writeConf(id, this.opts.configVersion);
    }
  }

  node(id: number): TestNode {
    const n = this.nodes[id - 1];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Writes node `id`'s corosync.conf (all nodes of the net in the nodelist unless nodeIds is given). */
  writeConf(id: number, configVersion: number, nodeIds?: number[]): void {
    const node = this.node(id);
    writeFileSync(
      node.confPath,
      corosyncConf({
        nodes: this.opts.nodes,
        nodeDir: node.dir,
        token: this.opts.token,
        clusterName: this.opts.clusterName,
        configVersion,
        quorumOptions: this.opts.quorumOptions,
        nodeIds,
      }),
    );
  }

  /** Starts corosync on the given nodes (default all) and returns at once; see waitQuorate. */
  start(ids: number[] = this.nodes.map((n) => n.id)): void {
    for (const id of ids) {
      const node = this.node(id);
      if (node.running) continue;
      const out = openSync(join(node.dir, 'corosync.stdout'), 'a');
      // ip netns exec and sh both exec, so proc.pid is corosync's own pid.
      const proc = spawn(node.wrapper, ['corosync', '-f', '-c', node.confPath], { stdio: ['ignore', out, out] });
      closeSync(out);
      node.proc = proc;
      node.exited = new Promise<void>((r) => proc.once('exit', () => r()));
    }
  }

  /** SIGTERM and wait for the process to exit (it needs ~1 s); SIGKILL after the timeout. */
  async stop(id: number, timeoutMs = 10_000): Promise<void> {
    const node = this.node(id);
    if (!node.running || !node.proc) return;
    node.proc.kill('SIGTERM');
    const ok = await Promise.race([node.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!ok) await this.kill(id);
  }

  /** SIGKILL (the node crashes) and wait for the exit. */
  async kill(id: number): Promise<void> {
    const node = this.node(id);
    if (!node.running || !node.proc) return;
    node.proc.kill('SIGKILL');
    await Promise.race([node.exited, sleep(5000)]);
    cleanShm();
  }

  /** Cuts the given nodes off from the others (they still see each other): their ports move to another bridge. */
  partition(ids: number[]): void {
    for (const id of ids) {
      this.node(id);
      sh('ip', ['-n', this.bridgeNs, 'link', 'set', `v${id}`, 'master', 'brp']);
      this.partitioned.add(id);
    }
  }

  /** Joins every partitioned node back. */
  heal(): void {
    for (const id of this.partitioned) sh('ip', ['-n', this.bridgeNs, 'link', 'set', `v${id}`, 'master', 'br0']);
    this.partitioned.clear();
  }

  /** Takes a node's eth0 down (or up again) inside its namespace. */
  setLink(id: number, up: boolean): void {
    sh('ip', ['-n', this.node(id).ns, 'link', 'set', 'eth0', up ? 'up' : 'down']);
  }

  /** Runs a command inside node `id` (its namespace and /run). Never throws on a non-zero exit. */
  exec(id: number, cmd: string, args: string[] = [], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const node = this.node(id);
    return new Promise((res) => {
      const p = spawn(node.wrapper, [cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
      p.on('error', (e) => {
        clearTimeout(timer);
        res({ code: -1, stdout, stderr: stderr + String(e) });
      });
      p.on('close', (code, signal) => {
        clearTimeout(timer);
        res({ code: code ?? (signal ? -1 : 0), stdout, stderr });
      });
      // A command that exits before reading its input must not crash us with EPIPE.
      p.stdin.on('error', () => {});
      if (opts.input) p.stdin.end(opts.input);
      else p.stdin.end();
    });
  }

  /** Spawns a long-running client inside node `id`; it is killed by destroy(). */
  spawn(id: number, cmd: string, args: string[] = []): ChildProcess {
    const p = spawn(this.node(id).wrapper, [cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdin.on('error', () => {}); // EPIPE after the client died: the caller sees the exit instead
    this.clients.add(p);
    p.once('exit', () => this.clients.delete(p));
    return p;
  }

  /** Quorum as `corosync-quorumtool -s` sees it on node `id`. */
  async quorum(id: number): Promise<QuorumStatus> {
    const r = await this.exec(id, 'corosync-quorumtool', ['-s'], { timeoutMs: 5000 });
    const field = (name: string) => {
      const m = r.stdout.match(new RegExp(`^${name}:\\s+(\\S+)`, 'm'));
      return m?.[1] ?? '';
    };
    return {
      reachable: r.code === 0 || r.code === 2,
      quorate: field('Quorate') === 'Yes',
      nodes: Number(field('Nodes')) || 0,
      expectedVotes: Number(field('Expected votes')) || 0,
      totalVotes: Number(field('Total votes')) || 0,
    };
  }

  /** Waits until node `id` is quorate with `members` nodes (default: all nodes of the net). */
  async waitQuorate(id: number, members = this.opts.nodes, timeoutMs = 20_000): Promise<void> {
    await this.waitFor(id, (q) => q.quorate && q.nodes === members, `quorate with ${members} members`, timeoutMs);
  }

  /** Waits until node `id` is reachable but not quorate, with `members` nodes if given. */
  async waitNotQuorate(id: number, members?: number, timeoutMs = 20_000): Promise<void> {
    await this.waitFor(
      id,
      (q) => q.reachable && !q.quorate && (members === undefined || q.nodes === members),
      `not quorate${members ? ` with ${members} members` : ''}`,
      timeoutMs,
    );
  }

  async waitAllQuorate(timeoutMs = 20_000): Promise<void> {
    await Promise.all(this.nodes.filter((n) => n.running).map((n) => this.waitQuorate(n.id, this.opts.nodes, timeoutMs)));
  }

  private async waitFor(id: number, ok: (q: QuorumStatus) => boolean, what: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last: QuorumStatus | undefined;
    while (Date.now() < end) {
      last = await this.quorum(id);
      if (ok(last)) return;
      await sleep(100);
    }
    throw new Error(`node ${id} not ${what} within ${timeoutMs} ms (last: ${JSON.stringify(last)})\n${this.logTail(id)}`);
  }

  logTail(id: number, lines = 15): string {
    try {
      return readFileSync(this.node(id).logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Tears everything down: clients, corosync processes, namespaces, temp dir, stale shm. */
  async destroy(): Promise<void> {
    // Give corosync a chance to leave cleanly (fast), then the synchronous sweep kills whatever is left.
    for (const p of this.clients) p.kill('SIGKILL');
    await Promise.all(this.nodes.filter((n) => n.running).map((n) => this.stop(n.id, 3000)));
    this.destroySync();
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const p of this.clients) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const n of this.nodes) {
      if (n.running) n.proc?.kill('SIGKILL');
    }
    for (const n of this.nodes) killNamespace(n.ns);
    killNamespace(this.bridgeNs);
    rmSync(this.dir, { recursive: true, force: true });
    cleanShm();
  }
}

/** Path of a compiled helper script (e.g. 'cpg-client') in dist/test/helpers. */
export function helperScript(name: string): string {
  return resolve(packageRoot(), 'dist', 'test', 'helpers', `${name}.js`);
}
