// Where pvecm finds things. The defaults are a Proxmox node's paths; every one can be moved by the environment, so
// tests (and unusual installs) run pvecm against a node in a temp dir and a network namespace.
//
//   PVECM_PVE_DIR        the cluster filesystem mount (/etc/pve)
//   PVECM_COROSYNC_DIR   corosync's config dir (/etc/corosync)
//   PVECM_DB             the daemon's database (/var/lib/pve-cluster/config.db); backups go next to it
//   PVECM_RUN_DIR        the daemon's run dir with pmxcfs.pid (/run/pve-cluster)
//   PVECM_JOIN_DIR       join certificate and tokens (/var/lib/pve-cluster/join)
//   PVECM_NODENAME       this node's name (the hostname up to the first dot)
//   PVECM_START_COROSYNC / PVECM_STOP_COROSYNC   shell commands (default: systemctl start/stop corosync)
//   PVECM_START_DAEMON / PVECM_STOP_DAEMON       shell commands (default: systemctl start/stop pve-cluster)
//   PVECM_COROSYNC_SET   extra settings for `pvecm create`, `key=value;key=value` with dotted keys
//                        (e.g. totem.token=500); for test clusters that need fast timeouts
//   PVECM_JOIN_TOKEN / PVECM_PASSWORD   secret for `pvecm add` when no terminal is there to ask
//   PVECM_SHADOW         shadow file the join service checks passwords against (/etc/shadow)

import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

export interface PvecmEnv {
  pveDir: string;
  corosyncDir: string;
  db: string;
  runDir: string;
  joinDir: string;
  nodename: string;
  startCorosync: string | undefined;
  stopCorosync: string | undefined;
  startDaemon: string | undefined;
  stopDaemon: string | undefined;
  corosyncSet: Array<[string, string]>;
  backupDir: string;
}

const systemd = () => existsSync('/run/systemd/system');

export function readEnv(env: NodeJS.ProcessEnv = process.env): PvecmEnv {
  const db = env.PVECM_DB ?? '/var/lib/pve-cluster/config.db';
  const sysd = (cmd: string) => (systemd() ? cmd : undefined);
  const corosyncSet: Array<[string, string]> = [];
  for (const part of (env.PVECM_COROSYNC_SET ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) corosyncSet.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
  }
  return {
    pveDir: env.PVECM_PVE_DIR ?? '/etc/pve',
    corosyncDir: env.PVECM_COROSYNC_DIR ?? '/etc/corosync',
    db,
    runDir: env.PVECM_RUN_DIR ?? '/run/pve-cluster',
    joinDir: env.PVECM_JOIN_DIR ?? join(dirname(db), 'join'),
    nodename: env.PVECM_NODENAME ?? hostname().split('.')[0]!,
    startCorosync: env.PVECM_START_COROSYNC ?? sysd('systemctl start corosync'),
    stopCorosync: env.PVECM_STOP_COROSYNC ?? sysd('systemctl stop corosync'),
    startDaemon: env.PVECM_START_DAEMON ?? sysd('systemctl start pve-cluster'),
    stopDaemon: env.PVECM_STOP_DAEMON ?? sysd('systemctl stop pve-cluster'),
    corosyncSet,
    backupDir: join(dirname(db), 'backup'),
  };
}
