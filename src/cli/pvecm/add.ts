// `pvecm add HOST`: run on the new node, names any member. Contacts the member's join service (TLS, pinned
// certificate), authenticates with a one-time token or the member's root password, gets corosync.conf and the
// authkey, then takes the cluster's tree: backs up and discards its own database, starts corosync and the daemon,
// and waits until quorate and synced. Every local check runs before the member is asked, so a refusal changes
// nothing on either side; after the member committed, a failing step says what to run to finish or undo.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseCorosyncConf, getConfigVersion } from '../../corosync/conf.js';
import { writeFileAtomic } from '../../corosync/confsync.js';
import { JoinConnection, JoinError } from '../../join/client.js';
import { JOIN_PORT, normalizeFingerprint, type JoinAuth } from '../../join/protocol.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { checkLinksLocal, checkNotInCluster, defaultLinkAddress, LINK_OPTIONS, linksFromOptions } from './create.js';
import type { PvecmEnv } from './env.js';
import { CommandError, quorateNow, runShell, waitFor } from './util.js';
import { askLine, askSecret } from './prompt.js';

/** Guest configs this node holds (`nodes/*\/qemu-server/*.conf`, `nodes/*\/lxc/*.conf`). */
export function guestConfigs(pveDir: string): string[] {
  const found: string[] = [];
  let nodes: string[] = [];
  try {
    nodes = readdirSync(join(pveDir, 'nodes'));
  } catch {
    return found;
  }
  for (const n of nodes) {
    for (const kind of ['qemu-server', 'lxc']) {
      try {
        for (const f of readdirSync(join(pveDir, 'nodes', n, kind))) if (/^\d+\.conf$/.test(f)) found.push(`nodes/${n}/${kind}/${f}`);
      } catch {
        /* none */
      }
    }
  }
  return found;
}

async function secretFor(host: string, p: ReturnType<typeof parseArgs>): Promise<JoinAuth> {
  const tokenFile = p.options.get('token_file');
  const passwordFile = p.options.get('password_file');
  const read = (f: string) => readFileSync(f, 'utf8').replace(/\r?\n$/, '');
  if (typeof tokenFile === 'string') return { token: read(tokenFile) };
  if (typeof passwordFile === 'string') return { password: read(passwordFile) };
  if (process.env.PVECM_JOIN_TOKEN) return { token: process.env.PVECM_JOIN_TOKEN };
  if (process.env.PVECM_PASSWORD) return { password: process.env.PVECM_PASSWORD };
  if (!process.stdin.isTTY) {
    throw new CommandError(`no secret for ${host}: run on a terminal, or give --token-file FILE / --password-file FILE (or PVECM_JOIN_TOKEN / PVECM_PASSWORD)`);
  }
  const s = await askSecret(`Please enter superuser (root) password for '${host}' (or a join token from 'pvecm jointoken' there): `);
  // Tokens are 32 base64url characters; a root password of that exact shape is unlikely.
  return /^[A-Za-z0-9_-]{32}$/.test(s) ? { token: s } : { password: s };
}

export async function cmdAdd(env: PvecmEnv, argv: string[], out: (s: string) => void): Promise<number> {
  const p = parseArgs(argv, {
    flags: ['force', 'use_ssh'],
    values: [...LINK_OPTIONS, 'ring0_addr', 'ring1_addr', 'nodeid', 'votes', 'fingerprint', 'port', 'token_file', 'password_file'],
  });
  if (p.positional.length !== 1) {
    throw new UsageError('usage: pvecm add HOST [--link0 ADDR] [--link1 ADDR] [--nodeid N] [--votes N] [--force] [--fingerprint FP] [--token-file FILE | --password-file FILE]');
  }
  if (p.options.has('use_ssh')) throw new UsageError('--use_ssh is not supported: the join goes through the member\'s join service (TLS)');
  const host = p.positional[0]!;
  const nodeid = intOption(p, 'nodeid', 1, 0xffffffff);
  const votes = intOption(p, 'votes', 0, 1000);
  const port = intOption(p, 'port', 1, 65535) ?? JOIN_PORT;
  const fpOpt = p.options.get('fingerprint');
  const fingerprint = typeof fpOpt === 'string' ? normalizeFingerprint(fpOpt) : undefined;
  if (typeof fpOpt === 'string' && !fingerprint) throw new UsageError(`--fingerprint '${fpOpt}' is not a SHA-256 fingerprint (64 hex digits, colons optional)`);
  const notes: string[] = [];
  const { links } = linksFromOptions(p, notes);
  for (const n of notes) out(n + '\n');
  const force = p.options.has('force');

  // Local checks first: a refusal here changes nothing anywhere.
  checkNotInCluster(env);
  const guests = guestConfigs(env.pveDir);
  if (guests.length && !force) {
    throw new CommandError(
      `this node holds guest configs (${guests.join(', ')}); joining replaces its /etc/pve with the cluster's, and VMIDs could clash. ` +
        `Back them up (vzdump) and remove them, or use --force to join anyway (they are lost from /etc/pve)`,
    );
  }
  if (!links[0]) {
    const addr = await defaultLinkAddress(env.nodename);
    if (!addr) throw new CommandError(`cannot tell this node's cluster address ('${env.nodename}' does not resolve to an address of this host): give --link0 ADDR`);
    links[0] = { address: addr };
  }
  checkLinksLocal(links);
  for (const [what, cmd] of [['start corosync', env.startCorosync], ['start the cluster filesystem', env.startDaemon], ['stop the cluster filesystem', env.stopDaemon]] as const) {
    if (!cmd) throw new CommandError(`no way to ${what} here (no systemd): set PVECM_${what.includes('corosync') ? 'START_COROSYNC' : what.startsWith('start') ? 'START_DAEMON' : 'STOP_DAEMON'}`);
  }

  out(`Connecting to the join service of ${host}:${port}\n`);
  const conn = await JoinConnection.open(host, port, fingerprint, async (fp) => {
    out(`The certificate fingerprint of ${host} is ${fp}\n`);
    if (!process.stdin.isTTY) {
      out('Trusting it (first use, no --fingerprint given); compare it with the "Join fingerprint" of \'pvecm status\' there\n');
      return true;
    }
    return /^y(es)?$/i.test(await askLine('Are you sure you want to continue connecting (yes/no)? '));
  }).catch((e: unknown) => {
    throw new CommandError((e as Error).message);
  });
  let reply;
  try {
    const hello = await conn.hello();
    out(`Cluster '${hello.clusterName}' with ${hello.nodes.length} node(s): ${hello.nodes.map((n) => n.name).join(', ')}\n`);
    if (!hello.quorate) throw new CommandError(`${host} has no quorum now; a node can only join a quorate cluster`);
    if (hello.nodes.some((n) => n.name === env.nodename) && !force) {
      throw new CommandError(`the cluster already has a node named '${env.nodename}'; remove it there first ('pvecm delnode ${env.nodename}') or use --force`);
    }
    const missing = hello.links.filter((l) => !links[l]);
    if (missing.length) throw new CommandError(`the cluster uses link(s) ${hello.links.join(', ')}: give ${missing.map((l) => `--link${l} ADDR`).join(' ')}`);
    const auth = await secretFor(host, p);
    out('Asking the member to add this node\n');
    const linkAddrs: Record<string, string> = {};
    for (const [l, spec] of Object.entries(links)) linkAddrs[l] = spec.address;
    reply = await conn.join(auth, { name: env.nodename, links: linkAddrs, nodeid, votes }, force);
  } catch (e) {
    if (e instanceof JoinError) throw new CommandError(`${host} refused the join: ${e.message}; nothing changed`);
    throw e;
  } finally {
    conn.close();
  }
  out(`Added as nodeid ${reply.nodeid}; cluster config_version ${reply.configVersion}\n`);
  const undo = `to undo on the cluster: 'pvecm delnode ${env.nodename}' on a member (after 'pvecm expected N' if it lost quorum)`;
  const step = async (what: string, fn: () => Promise<void> | void, finish: string) => {
    out(`${what}\n`);
    try {
      await fn();
    } catch (e) {
      throw new CommandError(`${what} failed: ${(e as Error).message}\nto finish by hand: ${finish}\n${undo}`);
    }
  };
  const conf = parseCorosyncConf(reply.corosyncConf);
  const version = getConfigVersion(conf);
  const backup = join(env.backupDir, `config-${Math.floor(Date.now() / 1000)}.db`);
  await step(
    `Backing up the database ${env.db} to ${backup}`,
    async () => {
      if (!existsSync(env.db)) return;
      // The copy holds priv/ (keys, tokens): root only, whatever the caller's umask.
      mkdirSync(env.backupDir, { recursive: true, mode: 0o700 });
      chmodSync(env.backupDir, 0o700);
      const db = new Database(env.db, { readonly: true, fileMustExist: true });
      const umask = process.umask(0o077);
      try {
        await db.backup(backup);
        chmodSync(backup, 0o600);
      } finally {
        process.umask(umask);
        db.close();
      }
    },
    `copy ${env.db} somewhere safe`,
  );
  await step(
    'Stopping the cluster filesystem',
    async () => {
      const r = await runShell(env.stopDaemon!);
      if (r.code !== 0) throw new Error(`${env.stopDaemon}: exit ${r.code} ${r.output.trim()}`);
    },
    `stop pmxcfs, then run this command again`,
  );
  await step(
    `Installing the corosync authkey and corosync.conf in ${env.corosyncDir}`,
    () => {
      mkdirSync(env.corosyncDir, { recursive: true });
      writeFileAtomic(join(env.corosyncDir, 'authkey'), Buffer.from(reply.authkey, 'base64'), 0o400);
      writeFileAtomic(join(env.corosyncDir, 'corosync.conf'), reply.corosyncConf);
    },
    `write ${env.corosyncDir}/authkey and corosync.conf as on ${host}`,
  );
  await step(
    'Discarding the local tree (the cluster\'s replaces it)',
    () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(env.db + suffix, { force: true });
    },
    `remove ${env.db}`,
  );
  await step(
    'Starting corosync',
    async () => {
      const r = await runShell(env.startCorosync!);
      if (r.code !== 0) throw new Error(`${env.startCorosync}: exit ${r.code} ${r.output.trim()}`);
    },
    'systemctl start corosync',
  );
  await step(
    'Starting the cluster filesystem',
    async () => {
      const r = await runShell(env.startDaemon!);
      if (r.code !== 0) throw new Error(`${env.startDaemon}: exit ${r.code} ${r.output.trim()}`);
    },
    'systemctl start pve-cluster',
  );
  out('Waiting for quorum...');
  if (!(await waitFor(() => quorateNow().quorate, 60_000))) {
    out('\n');
    throw new CommandError(`this node did not become quorate within 60 s; check 'pvecm status' and 'journalctl -u corosync'\n${undo}`);
  }
  out(' OK\n');
  out('Waiting for the cluster filesystem to sync...');
  const synced = await waitFor(() => {
    try {
      const text = readFileSync(join(env.pveDir, 'corosync.conf'), 'utf8');
      return getConfigVersion(parseCorosyncConf(text)) === version;
    } catch {
      return false;
    }
  }, 60_000);
  if (!synced) {
    out('\n');
    throw new CommandError(`${env.pveDir}/corosync.conf did not reach config_version ${version} within 60 s; check the daemon's log`);
  }
  out(' OK\n');
  out(`Node '${env.nodename}' joined the cluster '${reply.clusterName}' (backup of the old database: ${backup})\n`);
  return 0;
}
