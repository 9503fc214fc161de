#!/usr/bin/env node
// pvecm: the cluster manager (create, add, delnode, status, nodes, expected, mtunnel, jointoken).
import { cmdAdd } from './pvecm/add.js';
import { UsageError, parseArgs } from './pvecm/args.js';
import { cmdCreate } from './pvecm/create.js';
import { cmdDelnode, cmdExpected } from './pvecm/delnode.js';
import { readEnv } from './pvecm/env.js';
import { cmdJoinToken } from './pvecm/jointoken.js';
import { cmdMtunnel } from './pvecm/mtunnel.js';
import { cmdNodes, cmdStatus } from './pvecm/status.js';
import { cmdVerify } from './pvecm/verify.js';
import { CommandError } from './pvecm/util.js';

const USAGE = `USAGE: pvecm <COMMAND> [ARGS] [OPTIONS]
  pvecm create <clustername> [--link0 ADDR[,priority=N]] [--link1 ...] [--nodeid N] [--votes N]
                             [--two_node] [--wait_for_all] [--crypto on|off]
  pvecm add <hostname> [--link0 ADDR] [--link1 ADDR] [--nodeid N] [--votes N] [--force]
                       [--fingerprint FP] [--token-file FILE | --password-file FILE] [--port N]
  pvecm delnode <node>
  pvecm status [--output-format text|json]
  pvecm nodes [--output-format text|json]
  pvecm expected <expected>
  pvecm mtunnel --get_migration_ip [--migration_network CIDR]
  pvecm jointoken [--ttl SECONDS]      (one-time token for 'pvecm add' against this node)
  pvecm verify [--output-format text|json]   (every member compares a checksum of its cluster filesystem)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const env = readEnv();
  const out = (s: string) => process.stdout.write(s);
  const err = (s: string) => process.stderr.write(s);
  const format = () => {
    const p = parseArgs(rest, { values: ['output_format'] });
    if (p.positional.length) throw new UsageError(`unexpected argument '${p.positional[0]}'`);
    const f = p.options.get('output_format') ?? 'text';
    if (f !== 'text' && f !== 'json' && f !== 'json-pretty') throw new UsageError(`--output-format must be text or json`);
    return f !== 'text';
  };
  switch (cmd) {
    case 'create':
      return cmdCreate(env, rest, out);
    case 'add':
      return cmdAdd(env, rest, out);
    case 'delnode':
      return cmdDelnode(env, rest, err);
    case 'status':
      return cmdStatus(env, format(), out);
    case 'nodes':
      return cmdNodes(env, format(), out);
    case 'expected':
      return cmdExpected(rest);
    case 'mtunnel':
      return cmdMtunnel(env, rest, out);
    case 'jointoken':
      return cmdJoinToken(env, rest, out);
    case 'verify':
      return cmdVerify(env, format(), out);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`pvecm: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    if (e instanceof CommandError) {
      process.stderr.write(`pvecm: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`pvecm: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
