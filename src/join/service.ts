// The join service a member's daemon hosts: `pvecm add` on a new node connects here (TLS), authenticates with a
// one-time token or the root password, and gets corosync.conf (with the new node added, config_version + 1) and the
// corosync authkey. The tree changes only through `commitTreeFile`, the daemon's normal replicated write path (the
// daemon never touches its own mount). Nothing changes unless the caller authenticated, the cluster is quorate and
// the new config passes checkCorosyncConfUpdate; the token is used up only by a join that was committed.

import { readFileSync } from 'node:fs';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { addNode, bumpConfigVersion, checkCorosyncConfUpdate, getValue, listNodes, parseCorosyncConf, removeNode, writeCorosyncConf } from '../corosync/conf.js';
import { ensureIdentity } from './cert.js';
import { verifyPassword } from './password.js';
import { JOIN_PORT, MAX_LINE, type ErrorReply, type HelloReply, type JoinNode, type JoinReply, type JoinRequest, type Reply } from './protocol.js';
import { consumeToken, tokenValid } from './tokens.js';

export interface JoinLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface JoinServiceOptions {
  /** Where to listen (default all addresses, port 5406). */
  listen?: { host?: string; port?: number };
  /** Holds the certificate, key and token list (default /var/lib/pve-cluster/join). */
  certDir?: string;
  /** This node's name (certificate common name). */
  nodename: string;
  /** A file of the tree by path relative to its root (e.g. 'corosync.conf'), from the daemon's memory. */
  readTreeFile(path: string): Buffer | undefined;
  /** Writes a file of the tree through the replicated write path; resolves with 0 or an errno. */
  commitTreeFile(path: string, data: Buffer): Promise<number>;
  quorate(): boolean;
  log: JoinLog;
  /** The corosync authkey handed to the new node (default: read /etc/corosync/authkey). */
  readAuthkey?: () => Buffer;
  /** Shadow file for password checks (default /etc/shadow). */
  shadowPath?: string;
  /** Delay before answering a failed authentication (default 1000 ms; slows down guessing). */
  authFailDelayMs?: number;
}

export interface JoinService {
  port: number;
  fingerprint: string;
  close(): Promise<void>;
}

export const DEFAULT_JOIN_DIR = '/var/lib/pve-cluster/join';

const fail = (code: string, error: string): ErrorReply => ({ ok: false, code, error });

class JoinRefused extends Error {
  constructor(readonly reply: ErrorReply) {
    super(reply.error);
  }
}

function validNodeName(name: string): boolean {
  return /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name);
}

export async function startJoinService(opts: JoinServiceOptions): Promise<JoinService> {
  const dir = opts.certDir ?? DEFAULT_JOIN_DIR;
  const id = await ensureIdentity(dir, opts.nodename);
  const readAuthkey = opts.readAuthkey ?? (() => readFileSync('/etc/corosync/authkey'));
  // One join at a time: each reads corosync.conf and writes it back.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const currentConf = () => {
    const data = opts.readTreeFile('corosync.conf');
    if (!data) throw new JoinRefused(fail('invalid', `${opts.nodename} is not in a cluster (no corosync.conf in its cluster filesystem)`));
    try {
      return { data, conf: parseCorosyncConf(data.toString('utf8')) };
    } catch (e) {
      throw new JoinRefused(fail('invalid', `the cluster's corosync.conf is broken, fix it first: ${(e as Error).message}`));
    }
  };

  const hello = (): HelloReply => {
    const { conf } = currentConf();
    const nodes = listNodes(conf);
    const links = Object.keys(nodes[0]?.rings ?? { 0: '' }).map(Number);
    return {
      ok: true,
      op: 'hello',
      clusterName: getValue(conf, 'totem.cluster_name') ?? '',
      links,
      nodes: nodes.map((n) => ({ name: n.name, nodeid: n.nodeid })),
      quorate: opts.quorate(),
    };
  };

  const authenticate = async (req: Extract<JoinRequest, { op: 'join' }>): Promise<void> => {
    const auth = req.auth as { token?: unknown; password?: unknown } | undefined;
    let ok = false;
    if (auth && typeof auth.token === 'string') ok = tokenValid(dir, auth.token);
    else if (auth && typeof auth.password === 'string') ok = await verifyPassword(auth.password, 'root', opts.shadowPath);
    if (!ok) {
      await new Promise((r) => setTimeout(r, opts.authFailDelayMs ?? 1000));
      throw new JoinRefused(fail('auth', 'authentication failed (wrong or used-up join token, or wrong root password)'));
    }
  };

  const doJoin = async (req: Extract<JoinRequest, { op: 'join' }>, peer: string): Promise<JoinReply> => {
    await authenticate(req);
    if (!opts.quorate()) {
      throw new JoinRefused(fail('quorum', `${opts.nodename} has no quorum; a node can only join a quorate cluster`));
    }
    const node = req.node as JoinNode;
    if (!node || typeof node.name !== 'string' || !validNodeName(node.name)) {
      throw new JoinRefused(fail('invalid', `invalid node name ${JSON.stringify(node?.name)}`));
    }
    const { data: oldData, conf } = currentConf();
    const nodes = listNodes(conf);
    const clusterLinks = Object.keys(nodes[0]?.rings ?? {}).map(Number).sort((a, b) => a - b);
    const links: Record<number, string> = {};
    for (const [k, v] of Object.entries(node.links ?? {})) {
      if (!/^\d+$/.test(k) || typeof v !== 'string') throw new JoinRefused(fail('invalid', `invalid link ${k}`));
      links[Number(k)] = v;
    }
    const given = Object.keys(links).map(Number).sort((a, b) => a - b);
    if (clusterLinks.length && given.join(',') !== clusterLinks.join(',')) {
      const want = clusterLinks.map((l) => `--link${l}`).join(' ');
      throw new JoinRefused(fail('invalid', `the cluster uses link(s) ${clusterLinks.join(', ')}: give an address for each (${want}), got link(s) ${given.join(', ') || 'none'}`));
    }
    const existing = nodes.find((n) => n.name === node.name);
    if (existing && !req.force) {
      throw new JoinRefused(fail('conflict', `a node named '${node.name}' is already in the cluster (nodeid ${existing.nodeid}); remove it with 'pvecm delnode ${node.name}' or use --force`));
    }
    for (const n of nodes) {
      if (n.name === node.name) continue;
      for (const [l, addr] of Object.entries(links)) {
        if (Object.values(n.rings).includes(addr)) {
          throw new JoinRefused(fail('conflict', `address ${addr} (link ${l}) is already used by node '${n.name}'`));
        }
      }
      if (node.nodeid !== undefined && n.nodeid === node.nodeid) {
        throw new JoinRefused(fail('conflict', `nodeid ${node.nodeid} is already used by node '${n.name}'`));
      }
    }
    if (node.nodeid !== undefined && (!Number.isInteger(node.nodeid) || node.nodeid < 1)) {
      throw new JoinRefused(fail('invalid', `invalid nodeid ${node.nodeid}`));
    }
    if (node.votes !== undefined && (!Number.isInteger(node.votes) || node.votes < 0)) {
      throw new JoinRefused(fail('invalid', `invalid number of votes ${node.votes}`));
    }
    if (existing) removeNode(conf, node.name);
    let added;
    try {
      added = addNode(conf, { name: node.name, rings: links, nodeid: node.nodeid ?? existing?.nodeid, quorumVotes: node.votes });
    } catch (e) {
      throw new JoinRefused(fail('invalid', (e as Error).message));
    }
    const version = bumpConfigVersion(conf);
    const newData = Buffer.from(writeCorosyncConf(conf));
    const check = checkCorosyncConfUpdate(oldData, newData);
    if (check.errno !== 0) throw new JoinRefused(fail('invalid', check.reason ?? 'invalid corosync.conf'));
    let authkey: Buffer;
    try {
      authkey = readAuthkey();
    } catch (e) {
      throw new JoinRefused(fail('internal', `cannot read the corosync authkey on ${opts.nodename}: ${(e as Error).message}`));
    }
    // The token is checked again right before the commit: two joins racing with one token get one success.
    const auth = req.auth as { token?: string };
    if (typeof auth.token === 'string' && !tokenValid(dir, auth.token)) {
      throw new JoinRefused(fail('auth', 'authentication failed (the join token was used up meanwhile)'));
    }
    const errno = await opts.commitTreeFile('corosync.conf', newData);
    if (errno !== 0) {
      throw new JoinRefused(fail(errno === 13 ? 'quorum' : 'internal', `writing corosync.conf into the cluster filesystem failed (errno ${errno})`));
    }
    if (typeof auth.token === 'string') consumeToken(dir, auth.token);
    opts.log.info(`join: added node '${node.name}' (nodeid ${added.nodeid}) from ${peer}; corosync.conf config_version ${version}`);
    return {
      ok: true,
      op: 'join',
      clusterName: getValue(conf, 'totem.cluster_name') ?? '',
      nodeid: added.nodeid,
      configVersion: version,
      corosyncConf: newData.toString('utf8'),
      authkey: authkey.toString('base64'),
    };
  };

  const handle = async (line: string, peer: string): Promise<Reply> => {
    let req: JoinRequest;
    try {
      req = JSON.parse(line) as JoinRequest;
    } catch {
      return fail('invalid', 'request is not JSON');
    }
    try {
      if (req.op === 'hello') return hello();
      if (req.op === 'join') return await serial(() => doJoin(req, peer));
      return fail('invalid', `unknown request ${JSON.stringify((req as { op?: unknown }).op)}`);
    } catch (e) {
      if (e instanceof JoinRefused) {
        opts.log.warn(`join from ${peer} refused: ${e.reply.error}`);
        return e.reply;
      }
      opts.log.warn(`join from ${peer} failed: ${(e as Error).message}`);
      return fail('internal', (e as Error).message);
    }
  };

  const sockets = new Set<TLSSocket>();
  const server: Server = createServer({ cert: id.cert, key: id.key, minVersion: 'TLSv1.2' }, (sock: TLSSocket) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setTimeout(300_000, () => sock.destroy());
    sock.on('error', () => {});
    let buf = '';
    let busy: Promise<void> = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) {
        sock.end(JSON.stringify(fail('invalid', 'request too long')) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        busy = busy.then(async () => {
          const reply = await handle(line, peer);
          if (!sock.destroyed) sock.write(JSON.stringify(reply) + '\n');
        });
      }
    });
  });
  server.on('tlsClientError', () => {});
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen?.port ?? JOIN_PORT, opts.listen?.host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  opts.log.info(`join service listening on port ${port} (certificate fingerprint ${id.fingerprint})`);
  return {
    port,
    fingerprint: id.fingerprint,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

