// Stand-in host of the join service for tests, until the daemon hosts it: a separate process next to a node's
// daemon that reads and writes the tree through that node's mount (a separate process may; the daemon itself must
// not). Usage: node join-host.js --mount DIR --join-dir DIR --corosync-dir DIR --nodename NAME --port N [--shadow F]
// Prints "ready <port> <fingerprint>" on stdout once it listens.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startJoinService } from '../../src/join/service.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const mount = args.get('mount')!;
const corosyncDir = args.get('corosync-dir')!;
const errnoOf: Record<string, number> = { EACCES: 13, EPERM: 1, EINVAL: 22, ENOENT: 2, EIO: 5, ENOSPC: 28, EFBIG: 27 };

const log = { info: (m: string) => process.stderr.write(`info: ${m}\n`), warn: (m: string) => process.stderr.write(`warn: ${m}\n`) };
const service = await startJoinService({
  listen: { port: Number(args.get('port') ?? 0) },
  certDir: args.get('join-dir')!,
  nodename: args.get('nodename')!,
  shadowPath: args.get('shadow'),
  authFailDelayMs: 200,
  readTreeFile: (p) => {
    try {
      return readFileSync(join(mount, p));
    } catch {
      return undefined;
    }
  },
  commitTreeFile: async (p, data) => {
    try {
      writeFileSync(join(mount, p), data);
      return 0;
    } catch (e) {
      return errnoOf[(e as NodeJS.ErrnoException).code ?? ''] ?? 5;
    }
  },
  quorate: () => {
    try {
      const m = JSON.parse(readFileSync(join(mount, '.members'), 'utf8')) as { cluster?: { quorate?: number } };
      return m.cluster?.quorate === 1;
    } catch {
      return false;
    }
  },
  readAuthkey: () => readFileSync(join(corosyncDir, 'authkey')),
  log,
});
process.stdout.write(`ready ${service.port} ${service.fingerprint}\n`);
process.on('SIGTERM', () => void service.close().then(() => process.exit(0)));
