// One-time join tokens: `pvecm jointoken` makes one on a member; the member's join service accepts it once.
// Only a SHA-256 hash and the expiry are stored (file 0600 in the join dir), so the file alone lets nobody join.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../corosync/confsync.js';

interface TokenEntry {
  hash: string;
  expires: number;
}

export const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;

const tokensPath = (dir: string) => join(dir, 'join-tokens.json');
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

function load(dir: string, now: number): TokenEntry[] {
  try {
    const list = JSON.parse(readFileSync(tokensPath(dir), 'utf8')) as TokenEntry[];
    return Array.isArray(list) ? list.filter((t) => typeof t.hash === 'string' && t.expires > now) : [];
  } catch {
    return [];
  }
}

function save(dir: string, list: TokenEntry[]): void {
  writeFileAtomic(tokensPath(dir), JSON.stringify(list), 0o600);
}

/** Makes a token valid for ttlMs and returns it (the only time it is visible). */
export function createToken(dir: string, ttlMs = DEFAULT_TOKEN_TTL_MS, now = Date.now()): string {
  const token = randomBytes(24).toString('base64url');
  const list = load(dir, now);
  list.push({ hash: hashOf(token), expires: now + ttlMs });
  save(dir, list);
  return token;
}

function find(list: TokenEntry[], token: string): number {
  const h = Buffer.from(hashOf(token), 'hex');
  return list.findIndex((t) => {
    const b = Buffer.from(t.hash, 'hex');
    return b.length === h.length && timingSafeEqual(b, h);
  });
}

/** Whether the token is valid now (does not use it up). */
export function tokenValid(dir: string, token: string, now = Date.now()): boolean {
  return find(load(dir, now), token) >= 0;
}

/** Uses the token up; returns whether it was valid. */
export function consumeToken(dir: string, token: string, now = Date.now()): boolean {
  const list = load(dir, now);
  const i = find(list, token);
  if (i < 0) return false;
  list.splice(i, 1);
  save(dir, list);
  return true;
}
