// pvecm verify: every member computes a checksum of its whole tree; the command prints them side by side. A member
// whose tree differs from the cluster's says so in its log and the cluster log, and resyncs from the others.
import type { VerifyResult } from '../../cluster/cluster.js';
import { askDaemon, ControlError } from '../../control/client.js';
import type { PvecmEnv } from './env.js';
import { CommandError } from './util.js';

type Answer = VerifyResult & { names: Record<string, string> };

export async function cmdVerify(env: PvecmEnv, json: boolean, out: (s: string) => void): Promise<number> {
  let r: Answer;
  try {
    r = (await askDaemon(env.runDir, { cmd: 'verify' })) as Answer;
  } catch (e) {
    if (e instanceof ControlError) throw new CommandError(e.message, 2);
    throw e;
  }
  if (json) {
    out(JSON.stringify(r, null, 2) + '\n');
  } else {
    out(render(r));
  }
  return r.agree ? 0 : 1;
}

function render(r: Answer): string {
  if (r.why) return `Verification not possible: ${r.why}\n`;
  const rows = [...r.members].sort((a, b) => a.nodeid - b.nodeid);
  let s = 'Cluster filesystem verification\n' + '='.repeat(31) + '\n';
  s += `${'Nodeid'.padStart(10)} ${'Name'.padEnd(16)} ${'Version'.padStart(9)}  Checksum\n`;
  for (const m of rows) {
    const mark = r.differ.includes(m.nodeid) ? '  differs: resyncing' : '';
    s += `${String(m.nodeid).padStart(10)} ${(r.names[String(m.nodeid)] ?? '').padEnd(16)} ${String(m.version).padStart(9)}  ${m.digest.slice(0, 16)}${mark}\n`;
  }
  if (r.agree) s += `\nAll ${rows.length} members agree.\n`;
  else if (r.differ.length) s += `\nTrees differ: node${r.differ.length > 1 ? 's' : ''} ${r.differ.join(', ')} resync${r.differ.length > 1 ? '' : 's'} from the others.\n`;
  if (!r.complete) s += `\nNot every online member answered in time; only those above were compared.\n`;
  return s;
}
