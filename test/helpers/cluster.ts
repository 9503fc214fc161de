// A real cluster of pmxcfs daemons for tests: the testnet's corosync nodes (network namespaces), and on each node a
// daemon in cluster mode inside that node's network namespace. The daemons stay in the test's mount namespace, so
// every node's mount is reachable from the test process (node i's /etc/pve is `mount(i)`).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeStateDir, startDaemon, run, sleep, type Daemon, type StateDir } from '../../bench/lib-daemon.js';
import { Testnet, type TestnetOptions } from './testnet.js';

/** Polls `ok` every 100 ms until it holds; throws naming `what` after `ms`. */
export async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A change is acknowledged once the writer's own node applied it; another node applies it when the message is
 * delivered there, a few ms later (more during a state exchange). Reads on other nodes wait this long for it.
 */
export const DELIVERY = { timeout: 5_000, interval: 20 };

export interface ClusterNode {
  id: number;
  state: StateDir;
  daemon: Daemon | null;
}

export class PveCluster {
  readonly nodes: ClusterNode[] = [];

  private constructor(readonly net: Testnet) {}

  /** Namespaces, corosync on every node (quorate), no daemons yet. */
  static async create(opts: TestnetOptions): Promise<PveCluster> {
    const net = Testnet.create(opts);
    const c = new PveCluster(net);
    for (let id = 1; id <= opts.nodes; id++) c.nodes.push({ id, state: makeStateDir(), daemon: null });
    net.start();
    await net.waitAllQuorate();
    return c;
  }

  node(id: number): ClusterNode {
    return this.nodes[id - 1]!;
  }

  mount(id: number): string {
    return this.node(id).state.mnt;
  }

  daemon(id: number): Daemon {
    const d = this.node(id).daemon;
    if (!d) throw new Error(`node ${id} has no daemon running`);
    return d;
  }

  /** Starts node `id`'s daemon (its tree imports the node's corosync.conf when empty) and waits for the mount. */
  async startDaemon(id: number, env: Record<string, string> = {}): Promise<Daemon> {
    const n = this.node(id);
    const tn = this.net.node(id);
    n.daemon = await startDaemon({
      dir: n.state.dir,
      backend: 'native',
      nodename: tn.name,
      cluster: true,
      prefix: ['nsenter', `--net=/run/netns/${tn.ns}`],
      args: ['--corosync-conf', tn.confPath],
      env: { PMXCFS_COROSYNC_RETRY_MS: '300', ...env },
      timeout: 15_000,
    });
    return n.daemon;
  }

  /** Starts every node's daemon not running yet (`env`: their environment) and waits until they are synced. */
  async startAll(env: Record<string, string> = {}): Promise<void> {
    for (const n of this.nodes) if (!n.daemon) await this.startDaemon(n.id, env);
    await this.waitSynced();
  }

  /** `.members` of node `id`, parsed. */
  members(id: number): { cluster?: { quorate: number; nodes: number }; nodelist?: Record<string, { id: number; online: number; ip?: string }> } {
    return JSON.parse(readFileSync(join(this.mount(id), '.members'), 'utf8')) as ReturnType<PveCluster['members']>;
  }

  /**
   * Waits until the given nodes' daemons see each other online, quorate, and can write: a probe file written on
   * one node is visible on all (proves the state exchange is over and changes flow). Quiet cluster: every node has
   * the same version afterwards. `busy` (clients keep writing meanwhile, so versions read one after the other never
   * match): the probe file is seen on every node instead.
   */
  async waitSynced(ids: number[] = this.nodes.filter((n) => n.daemon).map((n) => n.id), timeoutMs = 30_000, busy = false): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      try {
        const ok = ids.every((id) => {
          const m = this.members(id);
          return m.cluster?.quorate === 1 && ids.every((j) => m.nodelist?.[`n${j}`]?.online === 1);
        });
        if (ok && busy) {
          const name = `.probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
          const w = await run(['sh', '-c', `echo ${name} > ${this.mount(ids[0]!)}/${name}`], { timeout: 10_000 });
          if (w.code === 0) {
            const seen = await waitFor('the probe on every node', () => ids.every((id) => existsSync(join(this.mount(id), name))), 5_000).then(() => true, () => false);
            await run(['rm', '-f', join(this.mount(ids[0]!), name)], { timeout: 10_000 });
            if (seen) return;
            last = `probe ${name} not seen on every node: ${ids.filter((id) => !existsSync(join(this.mount(id), name))).join(',')}`;
          } else last = `probe write: ${w.stderr}`;
        } else if (ok) {
          const probe = `probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
          const w = await run(['sh', '-c', `echo ${probe} > ${this.mount(ids[0]!)}/.probe && rm -f ${this.mount(ids[0]!)}/.probe`], { timeout: 10_000 });
          // every node applied the probe: same global version everywhere (a node still catching up is behind)
          const versions = ids.map((id) => (JSON.parse(readFileSync(join(this.mount(id), '.version'), 'utf8')) as { version: number }).version);
          if (w.code === 0 && versions.every((v) => v === versions[0])) return;
          last = w.code === 0 ? `versions ${versions.join(',')}` : `probe write: ${w.stderr}`;
        } else last = JSON.stringify(ids.map((id) => this.members(id)));
      } catch (e) {
        last = String(e);
      }
      await sleep(200);
    }
    throw new Error(`nodes ${ids.join(',')} not synced within ${timeoutMs} ms: ${last}`);
  }

  async stopDaemon(id: number): Promise<void> {
    const n = this.node(id);
    if (n.daemon) await n.daemon.destroy();
    n.daemon = null;
  }

  async killDaemon(id: number): Promise<void> {
    const n = this.node(id);
    if (!n.daemon) return;
    await n.daemon.kill('SIGKILL');
    await n.daemon.destroy();
    n.daemon = null;
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) {
      if (n.daemon) await n.daemon.destroy().catch(() => {});
      n.daemon = null;
    }
    await this.net.destroy();
  }
}
