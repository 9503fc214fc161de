// The join service's TLS identity: a self-signed certificate made once per node (openssl), kept in the join dir.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintOfPem } from './protocol.js';

export interface JoinIdentity {
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
}

export const certPath = (dir: string) => join(dir, 'join-cert.pem');
export const keyPath = (dir: string) => join(dir, 'join-key.pem');

/** The fingerprint of this node's join certificate, or undefined if it has none yet. */
export function readFingerprint(dir: string): string | undefined {
  try {
    return fingerprintOfPem(readFileSync(certPath(dir)));
  } catch {
    return undefined;
  }
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, _o, stderr) => {
      if (err) reject(new Error(`openssl ${args[0]} failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** Loads the certificate and key, creating them (EC P-256, 10 years) when missing. */
export async function ensureIdentity(dir: string, commonName: string): Promise<JoinIdentity> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(certPath(dir)) || !existsSync(keyPath(dir))) {
    const tmpCert = `${certPath(dir)}.tmp`;
    const tmpKey = `${keyPath(dir)}.tmp`;
    await openssl([
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', tmpKey, '-out', tmpCert, '-days', '3650', '-subj', `/CN=${commonName.replace(/[^A-Za-z0-9.-]/g, '')}`,
    ]);
    chmodSync(tmpKey, 0o600);
    renameSync(tmpKey, keyPath(dir));
    renameSync(tmpCert, certPath(dir));
  }
  const cert = readFileSync(certPath(dir));
  return { cert, key: readFileSync(keyPath(dir)), fingerprint: fingerprintOfPem(cert) };
}
