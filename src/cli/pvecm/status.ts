// `pvecm status` and `pvecm nodes`, in the seed guide's layout (5.4/5.5), or JSON for scripts.
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConfError, listNodes, parseCorosyncConf } from '../../corosync/conf.js';
import { readFingerprint } from '../../join/cert.js';
import { clusterInfo, NotRunning, type ClusterInfo } from './corosync-info.js';
import type { PvecmEnv } from './env.js';

const hex = (id: number) => `0x${id.toString(16).padStart(8, '0')}`;

function section(title: string): string {
  return `${title}\n${'~'.repeat(title.length)}\n`;
}

const row = (label: string, value: string | number) => `${`${label}:`.padEnd(18)}${value}\n`;

/** ctime(3)-style date, as the original prints it ("Mon Apr 20 12:30:13 2015"). */
export function ctimeDate(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** Problems of the cluster's corosync.conf an admin should hear about (5.8.2: names that do not resolve). */
export async function confProblems(env: PvecmEnv): Promise<string[]> {
  const problems: string[] = [];
  let text: string | undefined;
  for (const p of [join(env.pveDir, 'corosync.conf'), join(env.corosyncDir, 'corosync.conf')]) {
    try {
      text = readFileSync(p, 'utf8');
      break;
    } catch {
      /* next */
    }
  }
  if (text === undefined) return problems;
  try {
    const conf = parseCorosyncConf(text);
    for (const n of listNodes(conf)) {
      for (const [link, addr] of Object.entries(n.rings)) {
        if (isIP(addr)) continue;
        try {
          await lookup(addr);
        } catch {
          problems.push(
            `node '${n.name}': ring${link}_addr '${addr}' does not resolve to an address; corosync cannot use this node ` +
              `(its log says "nodelist or quorum.expected_votes must be configured"). Use an IP address or fix name resolution.`,
          );
        }
      }
    }
  } catch (e) {
    problems.push(e instanceof ConfError ? e.message : String(e));
  }
  return problems;
}

function notRunningMessage(e: Error, problems: string[]): string {
  return `Cannot get the cluster state: ${e.message}\nIs corosync running on this node? ('systemctl status corosync')\n${problems.map((p) => `warning: ${p}\n`).join('')}`;
}

function renderMembers(info: ClusterInfo, decimal: boolean): string {
  let out = section('Membership information');
  out += decimal ? `${'Nodeid'.padStart(10)} ${'Votes'.padStart(10)} Name\n` : `${'Nodeid'.padStart(10)} ${'Votes'.padStart(10)} Name\n`;
  for (const m of info.members) {
    const id = decimal ? String(m.nodeid).padStart(10) : hex(m.nodeid);
    const name = decimal ? m.name : m.address || m.name;
    out += `${id} ${String(m.votes).padStart(10)} ${name}${m.local ? ' (local)' : ''}\n`;
  }
  return out;
}

export function renderStatus(info: ClusterInfo, extra: { fingerprint?: string; problems: string[] }): string {
  let out = '';
  out += section('Cluster information');
  out += row('Name', info.clusterName ?? '');
  out += row('Config Version', info.configVersion ?? '');
  out += row('Transport', info.transport ?? 'knet');
  if (extra.fingerprint) out += row('Join fingerprint', extra.fingerprint);
  out += '\n';
  out += section('Quorum information');
  out += row('Date', ctimeDate(info.date));
  out += row('Quorum provider', 'corosync_votequorum');
  out += row('Nodes', info.members.length);
  out += row('Node ID', hex(info.nodeId));
  out += row('Ring ID', info.ringId);
  out += row('Quorate', info.quorate ? 'Yes' : 'No');
  out += '\n';
  out += section('Votequorum information');
  out += row('Expected votes', info.expectedVotes);
  out += row('Highest expected', info.highestExpected);
  out += row('Total votes', info.totalVotes);
  out += row('Quorum', `${info.quorum}${info.quorate ? '' : ' Activity blocked'}`);
  out += row('Flags', info.flags.join(' '));
  out += '\n';
  out += renderMembers(info, false);
  if (info.offline.length) {
    out += `Not members now: ${info.offline.map((n) => `${n.name} (${n.nodeid})`).join(', ')}\n`;
  }
  out += '\n';
  out += section('Link status');
  out += `${'Nodeid'.padStart(10)} ${'Link'.padStart(5)} Address                                  State\n`;
  for (const l of info.links) {
    const state = l.self ? 'local' : l.connected ? 'connected' : 'down';
    const addr = l.self ? `${l.local}` : `${l.local ?? '?'} -> ${l.remote ?? '?'}`;
    out += `${hex(l.nodeid)} ${String(l.link).padStart(5)} ${addr.padEnd(40)} ${state}\n`;
  }
  for (const p of extra.problems) out += `warning: ${p}\n`;
  return out;
}

export function statusJson(info: ClusterInfo, extra: { fingerprint?: string; problems: string[] }): unknown {
  return {
    cluster: { name: info.clusterName, configVersion: info.configVersion, transport: info.transport, joinFingerprint: extra.fingerprint },
    quorum: { date: info.date.toISOString(), provider: 'corosync_votequorum', nodes: info.members.length, nodeId: info.nodeId, ringId: info.ringId, quorate: info.quorate },
    votequorum: { expectedVotes: info.expectedVotes, highestExpected: info.highestExpected, totalVotes: info.totalVotes, quorum: info.quorum, flags: info.flags },
    members: info.members,
    offline: info.offline,
    links: info.links,
    warnings: extra.problems,
  };
}

export async function cmdStatus(env: PvecmEnv, json: boolean, out: (s: string) => void): Promise<number> {
  const problems = await confProblems(env);
  let info: ClusterInfo;
  try {
    info = await clusterInfo();
  } catch (e) {
    if (e instanceof NotRunning) {
      process.stderr.write(notRunningMessage(e, problems));
      return 2;
    }
    throw e;
  }
  const extra = { fingerprint: readFingerprint(env.joinDir), problems };
  out(json ? JSON.stringify(statusJson(info, extra), null, 2) + '\n' : renderStatus(info, extra));
  return 0;
}

export async function cmdNodes(env: PvecmEnv, json: boolean, out: (s: string) => void): Promise<number> {
  let info: ClusterInfo;
  try {
    info = await clusterInfo();
  } catch (e) {
    if (e instanceof NotRunning) {
      process.stderr.write(notRunningMessage(e, await confProblems(env)));
      return 2;
    }
    throw e;
  }
  out(json ? JSON.stringify(info.members.map((m) => ({ nodeid: m.nodeid, votes: m.votes, name: m.name, local: m.local })), null, 2) + '\n' : renderMembers(info, true));
  return 0;
}
