// `pvecm create NAME`: makes this node a one-node cluster (corosync 3, knet, crypto on).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { buildCorosyncConf, clusterNameError, parseCorosyncConf, setValue, writeCorosyncConf, type LinkSpec } from '../../corosync/conf.js';
import { writeFileAtomic } from '../../corosync/confsync.js';
import { intOption, parseArgs, UsageError, type Parsed } from './args.js';
import type { PvecmEnv } from './env.js';
import { inCidr, isLocalAddress, localAddresses } from './netaddr.js';
import { CommandError, quorateNow, runShell, waitFor } from './util.js';

const LINKS = [0, 1, 2, 3, 4, 5, 6, 7];

/** Parses `ADDR[,priority=N]` (also `address=ADDR,priority=N`). */
export function parseLink(name: string, v: string): LinkSpec {
  const parts = v.split(',');
  let address: string | undefined;
  let priority: number | undefined;
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? 'address' : part.slice(0, eq);
    const val = eq < 0 ? part : part.slice(eq + 1);
    if (key === 'address') address = val;
    else if (key === 'priority') {
      if (!/^\d+$/.test(val) || Number(val) > 255) throw new UsageError(`--${name}: priority must be 0..255, got '${val}'`);
      priority = Number(val);
    } else throw new UsageError(`--${name}: unknown property '${key}' (known: address, priority)`);
  }
  if (!address) throw new UsageError(`--${name} needs an address`);
  return { address, priority };
}

export const LINK_OPTIONS = LINKS.map((l) => `link${l}`);
const OLD_OPTIONS = ['ring0_addr', 'ring1_addr', 'bindnet0_addr', 'bindnet1_addr', 'rrp_mode'];

/** Link options, with the seed's older words mapped to knet links (notes say what they became). */
export function linksFromOptions(p: Parsed, notes: string[]): { links: Record<number, LinkSpec>; linkMode?: string } {
  const links: Record<number, LinkSpec> = {};
  for (const l of LINKS) {
    const v = p.options.get(`link${l}`);
    if (typeof v === 'string') links[l] = parseLink(`link${l}`, v);
  }
  for (const l of [0, 1]) {
    const ring = p.options.get(`ring${l}_addr`);
    const bind = p.options.get(`bindnet${l}_addr`);
    if (typeof ring === 'string') {
      if (links[l]) throw new UsageError(`--ring${l}_addr and --link${l} both given; use --link${l}`);
      links[l] = { address: ring };
      notes.push(`note: --ring${l}_addr ${ring} is knet link ${l} (--link${l} ${ring})`);
    }
    if (typeof bind === 'string') {
      if (!links[l]) {
        // bindnetX_addr named the network; the link needs this node's own address in it.
        const mine = localAddresses().find((a) => a.cidr && a.address !== bind && inCidr(bind, a.cidr) && !a.address.startsWith('127.'));
        const exact = localAddresses().find((a) => a.address === bind);
        const addr = exact?.address ?? mine?.address;
        if (!addr) throw new CommandError(`--bindnet${l}_addr ${bind}: this host has no address in that network; give --link${l} ADDR`);
        links[l] = { address: addr };
        notes.push(`note: --bindnet${l}_addr ${bind} became knet link ${l} with this node's address ${addr} (--link${l} ${addr}); knet binds to the link addresses itself`);
      } else {
        notes.push(`note: --bindnet${l}_addr ${bind} is not needed with knet (it binds to the link ${l} address ${links[l]!.address}); ignored`);
      }
    }
  }
  let linkMode: string | undefined;
  const rrp = p.options.get('rrp_mode');
  if (typeof rrp === 'string') {
    if (!['none', 'passive', 'active'].includes(rrp)) throw new UsageError(`--rrp_mode must be none, passive or active, got '${rrp}'`);
    linkMode = rrp === 'active' ? 'active' : 'passive';
    notes.push(`note: --rrp_mode ${rrp} became knet link_mode ${linkMode}`);
  }
  return { links, linkMode };
}

/** The address of this node's name, if it is on this host (the default for link 0). */
export async function defaultLinkAddress(nodename: string): Promise<string | undefined> {
  try {
    const r = await lookup(nodename);
    if (isLocalAddress(r.address) && !r.address.startsWith('127.') && r.address !== '::1') return r.address;
  } catch {
    /* no name */
  }
  return undefined;
}

export function checkLinksLocal(links: Record<number, LinkSpec>): void {
  for (const [l, spec] of Object.entries(links)) {
    if (isIP(spec.address) === 0) throw new CommandError(`link ${l}: '${spec.address}' is not an IP address (use the address, names may not resolve on every node)`);
    if (!isLocalAddress(spec.address)) {
      throw new CommandError(`link ${l}: address ${spec.address} is not configured on this host (its addresses: ${localAddresses().map((a) => a.address).join(', ')})`);
    }
  }
}

/** Refuses when this node already belongs to a cluster. */
export function checkNotInCluster(env: PvecmEnv): void {
  const found = [join(env.pveDir, 'corosync.conf'), join(env.corosyncDir, 'corosync.conf'), join(env.corosyncDir, 'authkey')].filter((p) => existsSync(p));
  if (found.length) {
    throw new CommandError(`this node is already part of a cluster (${found.join(', ')} exists); to leave it, follow "separate a node" (pvecm manual 5.5.1)`);
  }
}

export async function cmdCreate(env: PvecmEnv, argv: string[], out: (s: string) => void): Promise<number> {
  const p = parseArgs(argv, { flags: ['two_node', 'wait_for_all'], values: [...LINK_OPTIONS, ...OLD_OPTIONS, 'nodeid', 'votes', 'crypto'] });
  if (p.positional.length !== 1) throw new UsageError('usage: pvecm create NAME [--link0 ADDR[,priority=N]] [--link1 ...] [--nodeid N] [--votes N] [--two_node] [--wait_for_all]');
  const name = p.positional[0]!;
  const nameErr = clusterNameError(name);
  if (nameErr) throw new CommandError(nameErr);
  const nodeid = intOption(p, 'nodeid', 1, 0xffffffff) ?? 1;
  const votes = intOption(p, 'votes', 0, 1000) ?? 1;
  const crypto = p.options.get('crypto');
  if (crypto !== undefined && crypto !== 'on' && crypto !== 'off') throw new UsageError(`--crypto must be on or off`);
  const notes: string[] = [];
  const { links, linkMode } = linksFromOptions(p, notes);
  checkNotInCluster(env);
  if (!links[0]) {
    const addr = await defaultLinkAddress(env.nodename);
    if (!addr) throw new CommandError(`cannot tell this node's cluster address ('${env.nodename}' does not resolve to an address of this host): give --link0 ADDR`);
    links[0] = { address: addr };
  }
  checkLinksLocal(links);
  try {
    if (!statSync(env.pveDir).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new CommandError(`the cluster filesystem ${env.pveDir} is not there (${(e as Error).message}); is pve-cluster (pmxcfs) running?`);
  }
  if (!env.startCorosync) throw new CommandError('no way to start corosync here (no systemd): set PVECM_START_COROSYNC to the command that starts it');

  let text = buildCorosyncConf({
    clusterName: name,
    nodeName: env.nodename,
    nodeid,
    votes,
    links,
    crypto: crypto !== 'off',
    twoNode: p.options.has('two_node'),
    waitForAll: p.options.has('wait_for_all') ? true : undefined,
  });
  if (linkMode || env.corosyncSet.length) {
    const conf = parseCorosyncConf(text);
    if (linkMode) setValue(conf, 'totem.link_mode', linkMode);
    for (const [k, v] of env.corosyncSet) setValue(conf, k, v);
    text = writeCorosyncConf(conf);
    parseCorosyncConf(text);
  }
  for (const n of notes) out(n + '\n');

  const authkey = join(env.corosyncDir, 'authkey');
  const localConf = join(env.corosyncDir, 'corosync.conf');
  const treeConf = join(env.pveDir, 'corosync.conf');
  mkdirSync(env.corosyncDir, { recursive: true });
  out(`Generating corosync authentication key ${authkey}\n`);
  writeFileAtomic(authkey, randomBytes(256), 0o400);
  out(`Writing corosync config to ${treeConf}\n`);
  // Written aside and renamed into place: the daemon turns to cluster mode as soon as corosync.conf exists in the
  // tree, and after that the tree is read-only until corosync is quorate, so the file must arrive whole.
  const aside = join(env.pveDir, `.corosync.conf.pvecm-${process.pid}`);
  try {
    if (existsSync(treeConf)) throw new Error('it exists already');
    writeFileSync(aside, text, { flag: 'wx' });
    renameSync(aside, treeConf);
  } catch (e) {
    rmSync(aside, { force: true });
    rmSync(authkey, { force: true });
    throw new CommandError(`cannot write ${treeConf}: ${(e as Error).message}; nothing changed`);
  }
  writeFileAtomic(localConf, text);
  out('Starting corosync\n');
  const r = await runShell(env.startCorosync);
  const undo = `to undo: stop corosync, then rm ${treeConf} ${localConf} ${authkey}`;
  if (r.code !== 0) throw new CommandError(`starting corosync failed (${env.startCorosync}: exit ${r.code}) ${r.output.trim()}\n${undo}`);
  out('Waiting for quorum...');
  const ok = await waitFor(() => quorateNow().quorate, 30_000);
  if (!ok) {
    out('\n');
    throw new CommandError(`corosync started but this node did not become quorate within 30 s (see 'journalctl -u corosync')\n${undo}`);
  }
  out(' OK\n');
  out(`Cluster '${name}' created: this node (${env.nodename}, nodeid ${nodeid}) is its only member. Add nodes with 'pvecm add ${links[0].address}' on them.\n`);
  return 0;
}
