#!/usr/bin/env node
// pmxcfs: mounts the cluster configuration filesystem. Wiring only: flags, lock file, signals, detaching.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCommitter, type Committer } from '../cluster/committer.js';
import type { ModeCommitter } from '../cluster/mode.js';
import type { VerifyResult } from '../cluster/cluster.js';
import { importCorosyncConf, setUpCluster } from './cluster-mode.js';
import { printDiscarded } from './discarded.js';
import { handlerErrorLog } from '../fs/error-log.js';
import { Filesystem } from '../fs/filesystem.js';
import { createBackend, type BackendName } from '../fuse/index.js';
import { DamagedDatabaseError } from '../store/check.js';
import { limitsFromEnv } from '../store/limits.js';
import { Store } from '../store/store.js';
import { secureStateFiles } from '../store/files.js';
import { StorageHealth } from '../store/storage-errors.js';
import { Status } from '../status/status.js';
import { DEFAULT_LOCK_EXPIRY_S } from '../fs/locks.js';
import { acquireLockFile, type LockFile } from './lockfile.js';
import { guardMount } from './guard.js';
import { clearStaleMount } from './mounts.js';
import { notifyReady } from './sdnotify.js';
import { tierUpSooner } from './tiering.js';
import { createDaemonLogger, DETACHED_ENV, LOG_FILE } from './logging.js';
import { CONTROL_SOCKET, ControlServer } from '../control/server.js';
import { wakeHere, WAKE_HERE_PARAM } from '../fuse/wake.js';

interface Options {
  foreground: boolean;
  debug: boolean;
  local: boolean;
  mount: string;
  db: string;
  runDir: string;
  nodename: string;
  fuse: BackendName;
  corosyncConf: string;
  discarded: boolean;
}

const USAGE = `usage: pmxcfs [-f|--foreground] [-d|--debug] [-l|--local] [--mount DIR] [--db FILE] [--run-dir DIR]
              [--nodename NAME] [--fuse native|fuse-native] [--corosync-conf FILE]
       pmxcfs --discarded [--db FILE]      list what catch-ups took away from this node`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    foreground: false,
    debug: false,
    local: false,
    mount: '/etc/pve',
    db: '/var/lib/pve-cluster/config.db',
    runDir: '/run/pve-cluster',
    nodename: hostname().split('.')[0]!,
    fuse: 'native',
    corosyncConf: '/etc/corosync/corosync.conf',
    discarded: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v!;
    };
    switch (a) {
      case '-f': case '--foreground': o.foreground = true; break;
      case '-d': case '--debug': o.debug = true; break;
      case '-l': case '--local': o.local = true; break;
      case '--mount': o.mount = resolve(value()); break;
      case '--db': o.db = resolve(value()); break;
      case '--run-dir': o.runDir = resolve(value()); break;
      case '--nodename': o.nodename = value(); break;
      case '--corosync-conf': o.corosyncConf = resolve(value()); break;
      case '--discarded': o.discarded = true; break;
      case '--fuse': {
        const v = value();
        if (v !== 'native' && v !== 'fuse-native') usage(`unknown FUSE backend ${v}`);
        o.fuse = v as BackendName;
        break;
      }
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default: usage(`unknown option ${a}`);
    }
  }
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(o.nodename)) usage(`invalid node name ${JSON.stringify(o.nodename)}`);
  return o;
}

function usage(msg: string): never {
  process.stderr.write(`pmxcfs: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

/** Without -f: start a foreground copy detached, wait until it says the mount is ready, exit with its verdict. */
async function detach(o: Options): Promise<never> {
  const script = fileURLToPath(import.meta.url);
  // The detached daemon logs to syslog (src/cli/logging.ts), never into the caller's terminal or pipe; its stderr
  // (what Node itself may print when it dies) goes to a private file in the run dir.
  mkdirSync(o.runDir, { recursive: true });
  const stderr = openSync(resolve(o.runDir, LOG_FILE), 'a', 0o600);
  const child = spawn(process.execPath, [script, '-f', ...process.argv.slice(2)], {
    detached: true,
    stdio: ['ignore', 'ignore', stderr, 'pipe'],
    env: { ...process.env, PMXCFS_READY_FD: '3', [DETACHED_ENV]: '1' },
  });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let said = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (d: string) => (said += d));
  const code = await new Promise<number>((res) => {
    pipe.on('end', () => res(said.startsWith('ready') ? 0 : 1));
    child.on('exit', (c) => res(c ?? 1));
  });
  if (code !== 0 && said && !said.startsWith('ready')) process.stderr.write(said);
  child.unref();
  process.exit(code);
}

/** Tells the command that started this detached daemon how the start went (synchronously: exit may follow). */
function tellParent(msg: string): void {
  const fd = Number(process.env.PMXCFS_READY_FD);
  if (!Number.isInteger(fd) || fd < 0) return;
  delete process.env.PMXCFS_READY_FD;
  try {
    writeSync(fd, msg);
    closeSync(fd);
  } catch {
    // the starting command is gone; nobody to tell
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.discarded) process.exit(printDiscarded(o.db));
  if (!o.foreground) await detach(o);

  const log = createDaemonLogger(o).logger;
  const failStart = (msg: string): never => {
    log.error(msg);
    // a detached daemon tells the command that started it, which prints it
    if (process.env.PMXCFS_READY_FD) tellParent(`pmxcfs: ${msg}\n`);
    else process.stderr.write(`pmxcfs: ${msg}\n`);
    process.exit(1);
  };

  let lock: LockFile | null = null;
  let store: Store | null = null;
  try {
    mkdirSync(dirname(o.db), { recursive: true });
    mkdirSync(o.runDir, { recursive: true });
    lock = acquireLockFile(resolve(dirname(o.db), '.pmxcfs.lockfile'));
    secureStateFiles(o, log);
  } catch (err) {
    failStart((err as Error).message);
  }

  try {
    store = Store.open(o.db, limitsFromEnv(process.env), {
      backgroundCheckpoints: true,
      onCheckpointFailure: (message) => log.warn({ db: o.db }, `${message}; checkpointing in commits again`),
      onCheckpointError: (message) => log.warn({ db: o.db }, message),
    });
  } catch (err) {
    lock?.release();
    if (err instanceof DamagedDatabaseError) failStart(err.message);
    failStart(`cannot open database ${o.db}: ${(err as Error).message}`);
  }

  const health = new StorageHealth(o.db, log);
  const local = new LocalCommitter(store!, log, health);
  const status = new Status(store!, o.nodename);
  let fs: Filesystem | null = null;
  let committer: Committer = local;
  let mode: ModeCommitter | null = null;
  let stopCluster: () => Promise<void> = async () => {};
  if (!o.local) {
    const wiring = {
      store: store!, status, log, local, corosyncConf: o.corosyncConf, retryMs: Number(process.env.PMXCFS_COROSYNC_RETRY_MS ?? 1000),
      health,
      joinDir: process.env.PMXCFS_JOIN_DIR ?? resolve(dirname(o.db), 'join'),
      joinPort: process.env.PMXCFS_JOIN_PORT === undefined ? 5406 : Number(process.env.PMXCFS_JOIN_PORT) || 0,
    };
    try {
      importCorosyncConf(wiring);
    } catch (err) {
      failStart((err as Error).message);
    }
    const c = setUpCluster(wiring, () => fs);
    committer = mode = c.mode;
    stopCluster = c.stop;
  }
  status.clusterlog.add({ time: status.starttime, pri: 6, tag: 'pmxcfs', pid: process.pid, node: o.nodename, user: 'root@pam', msg: `starting pmxcfs${mode?.clustered ? '' : ' in local mode'}` });
  const expiry = Number(process.env.PMXCFS_LOCK_EXPIRY);
  fs = new Filesystem({
    store: store!,
    committer,
    status,
    lockExpiryMs: (Number.isFinite(expiry) && expiry > 0 ? expiry : DEFAULT_LOCK_EXPIRY_S) * 1000,
    // the write bits follow quorum, which no invalidation reports: a node that may be clustered caches for 1 s
    cacheSeconds: o.local ? 10 : 1,
    setDebug: (on) => (log.level = on || o.debug ? 'debug' : 'info'),
  });
  // in cluster mode the directories are made once the node is quorate and synced (its tree may still change)
  if (!mode?.clustered) {
    try {
      await fs.ensureLayout();
    } catch (err) {
      failStart(`cannot create the node's directories: ${(err as Error).message}`);
    }
  }

  const backend = await createBackend(o.fuse);
  try {
    await clearStaleMount(o.mount, log);
    mkdirSync(o.mount, { recursive: true });
    await backend.mount(fs, {
      mountpoint: o.mount, fsname: 'pmxcfs', allowOther: true, debug: o.debug, onHandlerError: handlerErrorLog(log),
    });
  } catch (err) {
    store!.close();
    lock?.release();
    failStart(`cannot mount ${o.mount}: ${(err as Error).message}`);
  }
  const pidFile = resolve(o.runDir, 'pmxcfs.pid');
  writeFileSync(pidFile, `${process.pid}\n`);
  const control = new ControlServer(resolve(o.runDir, CONTROL_SOCKET), { verify: () => verify('control socket') }, log);
  // Stopping works from here on: the mount is there, and the first request is answered only after this turn.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    try {
      await backend.unmount();
    } catch (err) {
      log.error({ err }, 'unmount failed');
    }
    await control.close().catch(() => {});
    await stopCluster();
    store!.close();
    lock?.release();
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => log.info('SIGHUP ignored'));
  try {
    await control.listen();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no control socket: pvecm verify will not reach this daemon');
  }
  log.info({ mount: o.mount, db: o.db, backend: backend.name, nodename: o.nodename }, 'mounted');
  if (wakeHere() === false) {
    log.info({ param: WAKE_HERE_PARAM }, 'the kernel wakes this daemon where it last ran, not on the requesting CPU (fuse wake_here N): each FUSE round trip crosses CPUs (about 4x slower on a 2-vCPU VM); the package sets Y at boot');
  }
  await guardMount(o.mount, log);
  tierUpSooner();
  tellParent('ready\n');
  notifyReady(log, `${o.mount} mounted`);

  // on demand (pvecm verify through the control socket, or SIGUSR1): every member compares a checksum of its tree
  process.on('SIGUSR1', () => void verify('SIGUSR1'));
  async function verify(by: string): Promise<VerifyResult & { names: Record<string, string> }> {
    const cluster = mode?.clustered;
    if (!cluster) {
      log.info({ by }, 'verification asked for, but this node is not in a cluster');
      throw new Error('this node is not in a cluster: there is nothing to compare with');
    }
    log.info({ by }, 'verification asked for');
    const r = await cluster.verify();
    const names: Record<string, string> = {};
    for (const m of cluster.view().members) names[String(m.nodeid)] = m.name;
    return { ...r, names };
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`pmxcfs: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
