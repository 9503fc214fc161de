// Small shared steps of pvecm's commands: shell commands for services, waiting for quorum, output.
import { spawn } from 'node:child_process';
import { loadBinding } from '../../corosync/native.js';

export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs a shell command (service start/stop); resolves with its exit code and output. */
export function runShell(cmd: string, timeoutMs = 60_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: -1, output: output + String(e) });
    });
    // 'exit', not 'close': a daemon started by the command may keep our pipes open.
    p.on('exit', (code) => {
      clearTimeout(t);
      setImmediate(() => resolve({ code: code ?? -1, output }));
    });
  });
}

/** Quorate according to the local votequorum (false when corosync is not reachable). */
export function quorateNow(): { reachable: boolean; quorate: boolean; totalVotes: number; nodeId: number } {
  try {
    const vq = new (loadBinding().Votequorum)(() => {});
    try {
      const info = vq.getInfo(0);
      return { reachable: true, quorate: (info.flags & 2) !== 0, totalVotes: info.totalVotes, nodeId: info.nodeId };
    } finally {
      vq.finalize();
    }
  } catch {
    return { reachable: false, quorate: false, totalVotes: 0, nodeId: 0 };
  }
}

export async function waitFor(what: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await what()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
