// What the local corosync says about the cluster: votequorum (votes, flags, members, ring id), cmap (nodelist as
// running, config version, cluster name) and knet link states (`corosync-cfgtool -n`).
import { execFile } from 'node:child_process';
import { CS, CS_TRACK_CURRENT, CsError, loadBinding, type RawVotequorumEvent, type VotequorumInfo } from '../../corosync/native.js';
import { CmapClient } from '../../corosync/cmap.js';

export const VQ_FLAGS: Array<[number, string]> = [
  [1, '2Node'],
  [2, 'Quorate'],
  [4, 'WaitForAll'],
  [8, 'LastManStanding'],
  [16, 'AutoTieBreaker'],
  [32, 'AllowDownscale'],
  [64, 'Qdevice'],
];

export interface MemberInfo {
  nodeid: number;
  votes: number;
  name: string;
  /** ring0_addr (or the lowest link's address) from the running nodelist. */
  address: string;
  local: boolean;
}

export interface LinkState {
  nodeid: number;
  link: number;
  /** local address -> remote address as knet sees it, when known. */
  local?: string;
  remote?: string;
  enabled: boolean;
  connected: boolean;
  /** The local node's own link. */
  self?: boolean;
}

export interface ClusterInfo {
  date: Date;
  nodeId: number;
  ringId: string;
  quorate: boolean;
  expectedVotes: number;
  highestExpected: number;
  totalVotes: number;
  quorum: number;
  flags: string[];
  members: MemberInfo[];
  clusterName: string | undefined;
  configVersion: number | undefined;
  transport: string | undefined;
  links: LinkState[];
  /** Nodes in the running nodelist that are not members now. */
  offline: { nodeid: number; name: string }[];
}

export class NotRunning extends Error {}

/** Asks votequorum for the current members and ring id (one tracked snapshot), then per-node votes. */
async function votequorum(): Promise<{ info: VotequorumInfo; members: number[]; ring: string; votes: Map<number, number> }> {
  const binding = loadBinding();
  let members: number[] | undefined;
  let ring = '';
  let got: () => void = () => {};
  const done = new Promise<void>((r) => (got = r));
  let vq;
  try {
    vq = new binding.Votequorum((events: RawVotequorumEvent[]) => {
      for (const ev of events) {
        if (ev.type === 'quorum') members = ev.nodes.filter((n) => n.state === 1).map((n) => n.nodeid);
        if (ev.type === 'nodelist') {
          ring = `${ev.ringNodeid.toString(16)}.${ev.ringSeq.toString(16)}`;
          if (!members) members = [...ev.nodes];
        }
      }
      if (members && ring) got();
    });
  } catch (e) {
    throw new NotRunning(`cannot connect to corosync's quorum service: ${(e as Error).message}`);
  }
  try {
    const rc = vq.trackStart(CS_TRACK_CURRENT);
    if (rc !== CS.OK) throw new CsError(`votequorum_trackstart failed: cs_error ${rc}`, rc);
    await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
    const info = vq.getInfo(0);
    const list = (members ?? [info.nodeId]).sort((a, b) => a - b);
    const votes = new Map<number, number>();
    for (const id of list) {
      try {
        votes.set(id, vq.getInfo(id).nodeVotes);
      } catch {
        votes.set(id, 0);
      }
    }
    return { info, members: list, ring, votes };
  } finally {
    vq.finalize();
  }
}

function cfgtoolLinks(): Promise<LinkState[]> {
  return new Promise((resolve) => {
    execFile('corosync-cfgtool', ['-n'], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve([]);
      const out: LinkState[] = [];
      let nodeid = 0;
      for (const line of String(stdout).split('\n')) {
        const n = line.match(/^nodeid:\s*(\d+)/);
        if (n) nodeid = Number(n[1]);
        const l = line.match(/^\s*LINK:\s*(\d+)\s+\S+\s+\(([^)]*)\)\s*(.*)$/);
        if (l && nodeid) {
          const [local, remote] = l[2]!.split('->');
          const words = l[3]!.split(/\s+/);
          out.push({ nodeid, link: Number(l[1]), local, remote, enabled: words.includes('enabled'), connected: words.includes('connected') });
        }
      }
      resolve(out);
    });
  });
}

/** One entry per node and link of the running nodelist: knet's state, 'down' when knet does not list it. */
function allLinks(nodelist: ReturnType<CmapClient['nodelist']>, self: number, seen: LinkState[]): LinkState[] {
  const out: LinkState[] = [];
  for (const n of nodelist) {
    n.rings.forEach((addr, link) => {
      if (addr === undefined) return;
      if (n.nodeid === self) {
        out.push({ nodeid: n.nodeid, link, local: addr, remote: addr, enabled: true, connected: true, self: true });
        return;
      }
      const s = seen.find((l) => l.nodeid === n.nodeid && l.link === link);
      out.push(s ?? { nodeid: n.nodeid, link, remote: addr, enabled: false, connected: false });
    });
  }
  return out;
}

export async function clusterInfo(): Promise<ClusterInfo> {
  const vq = await votequorum();
  const cmap = new CmapClient({ retryMs: 60_000 });
  let nodelist: ReturnType<CmapClient['nodelist']> = [];
  let clusterName: string | undefined;
  let configVersion: number | undefined;
  let transport: string | undefined;
  if (cmap.start()) {
    try {
      nodelist = cmap.nodelist();
      clusterName = cmap.getString('totem.cluster_name');
      configVersion = cmap.configVersion();
      transport = cmap.getString('totem.transport');
    } finally {
      cmap.close();
    }
  }
  const byId = new Map(nodelist.map((n) => [n.nodeid, n]));
  const flags = VQ_FLAGS.filter(([bit]) => (vq.info.flags & bit) !== 0).map(([, name]) => name);
  return {
    date: new Date(),
    nodeId: vq.info.nodeId,
    ringId: vq.ring,
    quorate: (vq.info.flags & 2) !== 0,
    expectedVotes: vq.info.nodeExpectedVotes,
    highestExpected: vq.info.highestExpected,
    totalVotes: vq.info.totalVotes,
    quorum: vq.info.quorum,
    flags,
    members: vq.members.map((id) => {
      const n = byId.get(id);
      const rings = n?.rings ?? [];
      return { nodeid: id, votes: vq.votes.get(id) ?? 0, name: n?.name || `node${id}`, address: rings.find((r) => r) ?? '', local: id === vq.info.nodeId };
    }),
    clusterName,
    configVersion,
    transport,
    links: allLinks(nodelist, vq.info.nodeId, await cfgtoolLinks()),
    offline: nodelist.filter((n) => !vq.members.includes(n.nodeid)).map((n) => ({ nodeid: n.nodeid, name: n.name })),
  };
}

/** Sets expected votes (votequorum_setexpected). */
export function setExpected(votes: number): void {
  const binding = loadBinding();
  let vq;
  try {
    vq = new binding.Votequorum(() => {});
  } catch (e) {
    throw new NotRunning(`cannot connect to corosync's quorum service: ${(e as Error).message}`);
  }
  try {
    const rc = vq.setExpected(votes);
    if (rc === CS.ERR_INVALID_PARAM) {
      const total = vq.getInfo(0).totalVotes;
      throw new Error(`corosync refused expected votes ${votes}: it must be at least the votes present now (${total})`);
    }
    if (rc !== CS.OK) throw new Error(`corosync refused expected votes ${votes} (cs_error ${rc})`);
  } finally {
    vq.finalize();
  }
}
