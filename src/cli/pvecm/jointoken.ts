// `pvecm jointoken`: a one-time token that lets one node join through this member's join service.
import { join } from 'node:path';
import { readFingerprint } from '../../join/cert.js';
import { createToken } from '../../join/tokens.js';
import { intOption, parseArgs, UsageError } from './args.js';
import type { PvecmEnv } from './env.js';

export async function cmdJoinToken(env: PvecmEnv, argv: string[], out: (s: string) => void): Promise<number> {
  const p = parseArgs(argv, { values: ['ttl'] });
  if (p.positional.length) throw new UsageError('usage: pvecm jointoken [--ttl SECONDS]');
  const ttl = intOption(p, 'ttl', 10, 7 * 24 * 3600) ?? 3600;
  const token = createToken(env.joinDir, ttl * 1000);
  const fp = readFingerprint(env.joinDir);
  out(`${token}\n`);
  process.stderr.write(
    `One-time join token for this node (${env.nodename}), valid ${ttl} s. On the new node run\n` +
      `  pvecm add <this node's address>${fp ? ` --fingerprint ${fp}` : ''}\n` +
      `and enter the token when asked (or pass it in a file with --token-file).\n` +
      (fp ? '' : `warning: no join certificate in ${join(env.joinDir)} yet: is the cluster filesystem running?\n`),
  );
  return 0;
}
