// Start-up check of the rows read from the database: a broken tree is refused with the offending rows named,
// instead of being served.
import { DT_DIR, DT_REG, ROOT_INODE, VERSION_ROW_NAME, type Row } from './tree.js';

export class DamagedDatabaseError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`database ${file} is damaged, refusing to start:\n  ${problems.join('\n  ')}\n(restore a backup or copy the database from another node: see README, "Recovering the database")`);
  }
}

function describe(r: Row): string {
  return `inode ${r.inode} (parent ${r.parent}, name ${JSON.stringify(r.name)})`;
}

/** Returns a list of problems; empty when the rows form a sound tree. */
export function checkRows(rows: Row[]): string[] {
  const problems: string[] = [];
  const byInode = new Map<number, Row>();
  let versionRow: Row | undefined;
  for (const r of rows) {
    if (r.inode === ROOT_INODE) {
      versionRow = r;
      if (r.name !== VERSION_ROW_NAME) problems.push(`inode 0 must be named ${VERSION_ROW_NAME}, found ${JSON.stringify(r.name)}`);
      continue;
    }
    byInode.set(r.inode, r);
  }
  if (!versionRow) problems.push(`the ${VERSION_ROW_NAME} row (inode 0) is missing`);

  const names = new Map<string, Row>();
  for (const r of byInode.values()) {
    if (r.type !== DT_DIR && r.type !== DT_REG) problems.push(`${describe(r)} has unknown type ${r.type}`);
    if (!r.name || r.name.includes('/') || r.name === '.' || r.name === '..') problems.push(`${describe(r)} has an invalid name`);
    if (r.type === DT_DIR && r.data !== null && r.data.length > 0) problems.push(`${describe(r)} is a directory holding data`);
    if (versionRow && r.version > versionRow.version) {
      problems.push(`${describe(r)} has version ${r.version}, above the global version ${versionRow.version}`);
    }
    if (r.parent !== ROOT_INODE) {
      const p = byInode.get(r.parent);
      if (!p) problems.push(`${describe(r)} is an orphan: parent ${r.parent} does not exist`);
      else if (p.type !== DT_DIR) problems.push(`${describe(r)} lies under inode ${p.inode}, which is not a directory`);
    }
    const key = `${r.parent}/${r.name}`;
    const twin = names.get(key);
    if (twin) problems.push(`${describe(r)} and inode ${twin.inode} share one name in directory ${r.parent}`);
    else names.set(key, r);
  }

  // Cycles: walk up from every entry; a walk longer than the number of rows never reaches the root.
  const reported = new Set<number>();
  for (const r of byInode.values()) {
    let cur: Row | undefined = r;
    let steps = 0;
    while (cur && cur.parent !== ROOT_INODE && steps <= byInode.size) {
      cur = byInode.get(cur.parent);
      steps++;
    }
    if (cur && steps > byInode.size && !reported.has(r.inode)) {
      reported.add(r.inode);
      problems.push(`${describe(r)} lies in a cycle of parents that never reaches the root`);
    }
  }
  return problems;
}
