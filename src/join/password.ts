// Checks a password against root's entry in the shadow file, with the C library's crypt (through python3, which
// every Proxmox node has; it knows yescrypt, sha512-crypt and the rest). The password goes over a pipe, never argv.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';

const SCRIPT = 'import sys,crypt\nd=sys.stdin.buffer.read().split(b"\\0",1)\nsys.stdout.write(crypt.crypt(d[1].decode(),d[0].decode()) or "")';

export async function verifyPassword(password: string, user = 'root', shadowPath = '/etc/shadow'): Promise<boolean> {
  let hash: string | undefined;
  try {
    const line = readFileSync(shadowPath, 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
    hash = line?.split(':')[1];
  } catch {
    return false;
  }
  // '*', '!' or empty: no password login for this user.
  if (!hash || !hash.startsWith('$')) return false;
  const computed = await new Promise<string>((resolve) => {
    const p = execFile('python3', ['-W', 'ignore', '-c', SCRIPT], { timeout: 10_000 }, (err, stdout) => resolve(err ? '' : String(stdout)));
    p.stdin?.end(Buffer.concat([Buffer.from(hash!), Buffer.from([0]), Buffer.from(password)]));
  });
  const a = Buffer.from(computed);
  const b = Buffer.from(hash);
  return a.length === b.length && timingSafeEqual(a, b);
}
