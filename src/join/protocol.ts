// The join channel between `pvecm add` (on the new node) and the join service of a member's daemon.
//
// TLS (the member's self-signed certificate; the client pins its SHA-256 fingerprint, given with --fingerprint or
// trusted on first use), one JSON object per line each way. The client first asks `hello` (cluster name, links,
// no secret needed), then `join` with a one-time token (made by `pvecm jointoken` on that member) or the member's
// root password. No secret travels on a command line: tokens and passwords are read from the terminal, a file or
// the environment.

import { createHash, X509Certificate } from 'node:crypto';

/** TCP port of the join service (next to corosync's 5404/5405 UDP). */
export const JOIN_PORT = 5406;
/** Longest request line the service reads. */
export const MAX_LINE = 64 * 1024;

export type JoinAuth = { token: string } | { password: string };

export interface JoinNode {
  name: string;
  /** Address per link number. */
  links: Record<string, string>;
  nodeid?: number;
  votes?: number;
}

export type JoinRequest = { op: 'hello' } | { op: 'join'; auth: JoinAuth; node: JoinNode; force?: boolean };

export interface HelloReply {
  ok: true;
  op: 'hello';
  clusterName: string;
  /** Link numbers the cluster uses: the new node must give an address for each. */
  links: number[];
  nodes: { name: string; nodeid: number }[];
  quorate: boolean;
}

export interface JoinReply {
  ok: true;
  op: 'join';
  clusterName: string;
  nodeid: number;
  configVersion: number;
  corosyncConf: string;
  /** corosync authkey, base64. */
  authkey: string;
}

export interface ErrorReply {
  ok: false;
  /** 'auth' (wrong token or password), 'quorum', 'invalid', 'conflict', 'internal', 'busy' */
  code: string;
  error: string;
}

export type Reply = HelloReply | JoinReply | ErrorReply;

/** SHA-256 of the certificate (DER), as colon-separated upper-case hex pairs, like `openssl x509 -fingerprint`. */
export function fingerprintOfDer(der: Buffer): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .match(/../g)!
    .join(':');
}

export function fingerprintOfPem(pem: string | Buffer): string {
  return fingerprintOfDer(new X509Certificate(pem).raw);
}

/** Accepts a fingerprint with or without colons, any case. */
export function normalizeFingerprint(fp: string): string | undefined {
  const hex = fp.replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}
