// `pvecm delnode NAME` (removes the node from corosync.conf through the cluster filesystem) and `pvecm expected N`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bumpConfigVersion, listNodes, parseCorosyncConf, removeNode, writeCorosyncConf } from '../../corosync/conf.js';
import { NotRunning, setExpected } from './corosync-info.js';
import type { PvecmEnv } from './env.js';
import { CommandError, quorateNow } from './util.js';
import { UsageError } from './args.js';

export async function cmdDelnode(env: PvecmEnv, argv: string[], err: (s: string) => void): Promise<number> {
  if (argv.length !== 1 || argv[0]!.startsWith('-')) throw new UsageError('usage: pvecm delnode NAME');
  const name = argv[0]!;
  const treeConf = join(env.pveDir, 'corosync.conf');
  let text: string;
  try {
    text = readFileSync(treeConf, 'utf8');
  } catch {
    throw new CommandError(`this node is not in a cluster (no ${treeConf})`);
  }
  const conf = parseCorosyncConf(text);
  const nodes = listNodes(conf);
  const node = nodes.find((n) => n.name === name || String(n.nodeid) === name);
  if (!node) throw new CommandError(`no node named '${name}' in the cluster (nodes: ${nodes.map((n) => n.name).join(', ')})`);
  const q = quorateNow();
  if (node.name === env.nodename || (q.reachable && q.nodeId === node.nodeid)) {
    throw new CommandError(`cannot remove the local node '${node.name}': run 'pvecm delnode ${node.name}' on another member`);
  }
  if (!q.quorate) {
    throw new CommandError(
      q.reachable
        ? `this node has no quorum, so the cluster configuration cannot change; if the missing nodes are gone for good, lower the expected votes first ('pvecm expected ${q.totalVotes}'), then run 'pvecm delnode ${name}' again`
        : 'corosync is not running on this node; start it (systemctl start corosync) and try again',
    );
  }
  removeNode(conf, node.name);
  bumpConfigVersion(conf);
  try {
    writeFileSync(treeConf, writeCorosyncConf(conf));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new CommandError(`the cluster filesystem is read-only (no quorum); try 'pvecm expected ${q.totalVotes}' first`);
    throw new CommandError(`cannot write ${treeConf}: ${(e as Error).message}`);
  }
  // As in the original, success prints nothing on stdout; the reminder goes to stderr.
  err(`note: ${join(env.pveDir, 'nodes', node.name)} stays; remove it when you no longer need the node's files\n`);
  return 0;
}

export async function cmdExpected(argv: string[]): Promise<number> {
  if (argv.length !== 1 || !/^\d+$/.test(argv[0]!) || Number(argv[0]) < 1) throw new UsageError('usage: pvecm expected N (N >= 1)');
  try {
    setExpected(Number(argv[0]));
  } catch (e) {
    if (e instanceof NotRunning) throw new CommandError(`${e.message}; is corosync running?`);
    throw new CommandError((e as Error).message);
  }
  return 0;
}
