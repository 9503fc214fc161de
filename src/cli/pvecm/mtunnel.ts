// `pvecm mtunnel --get_migration_ip [--migration_network CIDR]`: this node's address in the migration network.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, UsageError } from './args.js';
import type { PvecmEnv } from './env.js';
import { inCidr, localAddresses, parseCidr } from './netaddr.js';
import { CommandError } from './util.js';

export interface MigrationSetting {
  type?: 'secure' | 'insecure';
  network?: string;
}

/** Reads datacenter.cfg's `migration:` line; a line that does not parse is an error naming it. */
export function migrationFromDatacenterCfg(text: string, file = 'datacenter.cfg'): MigrationSetting | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = line.match(/^\s*migration\s*:\s*(.*?)\s*$/);
    if (!m) continue;
    const bad = (why: string): never => {
      throw new CommandError(`${file} line ${i + 1}: ${why}: '${line}'`);
    };
    const out: MigrationSetting = {};
    for (const part of m[1]!.split(',')) {
      const eq = part.indexOf('=');
      const key = eq < 0 ? 'type' : part.slice(0, eq).trim();
      const val = (eq < 0 ? part : part.slice(eq + 1)).trim();
      if (key === 'type') {
        if (val !== 'secure' && val !== 'insecure') bad(`migration type must be secure or insecure, not '${val}'`);
        out.type = val as 'secure' | 'insecure';
      } else if (key === 'network') {
        if (!parseCidr(val)) bad(`migration network '${val}' is not a CIDR (like 10.1.2.0/24)`);
        out.network = val;
      } else bad(`unknown migration property '${key}' (known: type, network)`);
    }
    if (out.network && !out.type) bad('the migration type must be set with the network (migration: secure,network=CIDR)');
    return out;
  }
  return undefined;
}

export async function cmdMtunnel(env: PvecmEnv, argv: string[], out: (s: string) => void): Promise<number> {
  const p = parseArgs(argv, { flags: ['get_migration_ip'], values: ['migration_network'] });
  if (!p.options.has('get_migration_ip')) {
    throw new UsageError('usage: pvecm mtunnel --get_migration_ip [--migration_network CIDR] (the tunnel itself is not part of this build)');
  }
  let network = p.options.get('migration_network') as string | undefined;
  if (network !== undefined && !parseCidr(network)) throw new UsageError(`--migration_network '${network}' is not a CIDR (like 10.1.2.0/24)`);
  if (network === undefined) {
    const file = join(env.pveDir, 'datacenter.cfg');
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      /* no datacenter.cfg: no migration network */
    }
    if (text !== undefined) network = migrationFromDatacenterCfg(text, file)?.network;
  }
  if (network === undefined) return 0; // no migration network: the cluster network is used, nothing to print
  const mine = localAddresses().filter((a) => inCidr(a.address, network!));
  if (mine.length === 0) throw new CommandError(`this node has no address in the migration network ${network}`);
  if (mine.length > 1) throw new CommandError(`this node has several addresses in the migration network ${network} (${mine.map((a) => a.address).join(', ')}); it must have exactly one`);
  out(`ip: '${mine[0]!.address}'\n`);
  return 0;
}
