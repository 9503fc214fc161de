// This host's addresses and CIDR matching (link addresses must be local; mtunnel picks the migration address).
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export function localAddresses(): { address: string; family: 4 | 6; cidr: string | null }[] {
  const out: { address: string; family: 4 | 6; cidr: string | null }[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push({ address: a.address, family: a.family === 'IPv4' ? 4 : 6, cidr: a.cidr });
  }
  return out;
}

export function isLocalAddress(addr: string): boolean {
  return localAddresses().some((a) => a.address === addr);
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

function v6ToBig(a: string): bigint {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const parts = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return parts.reduce((acc, p) => (acc << 16n) + BigInt(parseInt(p || '0', 16)), 0n);
}

/** Parses "10.1.2.0/24" or "fd00::/64"; undefined when it is not a CIDR. */
export function parseCidr(cidr: string): { family: 4 | 6; base: string; bits: number } | undefined {
  const m = cidr.match(/^([^/]+)\/(\d{1,3})$/);
  if (!m) return undefined;
  const fam = isIP(m[1]!);
  const bits = Number(m[2]);
  if (fam === 0 || bits > (fam === 4 ? 32 : 128)) return undefined;
  return { family: fam as 4 | 6, base: m[1]!, bits };
}

export function inCidr(addr: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c || isIP(addr) !== c.family) return false;
  if (c.family === 4) {
    if (c.bits === 0) return true;
    const mask = c.bits === 32 ? 0xffffffff : ~((1 << (32 - c.bits)) - 1) >>> 0;
    return ((v4ToInt(addr) & mask) >>> 0) === ((v4ToInt(c.base) & mask) >>> 0);
  }
  const shift = BigInt(128 - c.bits);
  return v6ToBig(addr) >> shift === v6ToBig(c.base) >> shift;
}
