// The whole stored tree under a mount as sorted lines "path type size sha1" (the root's symlinks and generated files
// left out), to compare nodes' trees.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const VIRTUAL = new Set(['local', 'qemu-server', 'lxc', 'openvz', '.version', '.members', '.vmlist', '.clusterlog', '.rrd', '.debug']);

export function treeListing(mnt: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (!rel && VIRTUAL.has(name)) continue;
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.push(`${r}/ dir`);
        walk(p, r);
      } else out.push(`${r} ${st.size} ${createHash('sha1').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(mnt, '');
  return out;
}
