// corosync.conf parser and writer.
//
// The tree keeps every line (comments, blank lines, indentation) so that an unmodified file is written back byte for
// byte, whether corosync's tab-indented examples or Proxmox's two-space layout; changed or new entries are written
// in the indentation of their siblings. The parser rejects what corosync's own parser rejects or misreads, naming
// the line: text after `{`, a `#` comment after a value, a line without `:`, unbalanced braces; and the validation
// rejects a config corosync would refuse to run: no nodelist, a node without nodeid, duplicate node ids or names.

export interface ConfValue {
  kind: 'value';
  key: string;
  value: string;
  line: number;
  /** The original line, reused by the writer while the value is unchanged. */
  raw?: string;
  indent?: string;
}

export interface ConfSection {
  kind: 'section';
  name: string;
  items: ConfItem[];
  line: number;
  openRaw?: string;
  closeRaw?: string;
  indent?: string;
}

export interface ConfComment {
  kind: 'comment';
  /** The whole line, indentation and `#` included. */
  raw: string;
  line: number;
}

export interface ConfBlank {
  kind: 'blank';
  raw: string;
  line: number;
}

export type ConfItem = ConfValue | ConfSection | ConfComment | ConfBlank;

export interface CorosyncConf {
  items: ConfItem[];
  /** Whether the source ended with a newline (kept by the writer). */
  finalNewline: boolean;
}

export class ConfError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(line > 0 ? `corosync.conf line ${line}: ${message}` : `corosync.conf: ${message}`);
    this.name = 'ConfError';
  }
}

/** Parses and (unless validate is false) validates a corosync.conf. Throws ConfError naming the line. */
export function parseCorosyncConf(text: string, opts: { validate?: boolean } = {}): CorosyncConf {
  const lines = text.split('\n');
  const finalNewline = text.endsWith('\n');
  if (finalNewline) lines.pop();
  const root: ConfSection = { kind: 'section', name: '', items: [], line: 0 };
  const stack: ConfSection[] = [root];
  lines.forEach((rawLine, i) => {
    const lineNo = i + 1;
    const raw = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const t = raw.trim();
    const cur = stack[stack.length - 1]!;
    const indent = raw.slice(0, raw.length - raw.trimStart().length);
    if (t === '') {
      cur.items.push({ kind: 'blank', raw: rawLine, line: lineNo });
      return;
    }
    if (t.startsWith('#')) {
      cur.items.push({ kind: 'comment', raw: rawLine, line: lineNo });
      return;
    }
    const brace = t.indexOf('{');
    if (brace >= 0) {
      if (t.slice(brace + 1).trim() !== '') throw new ConfError(`text after '{' (nothing may follow '{' on its line)`, lineNo);
      const name = t.slice(0, brace).trim();
      if (name === '') throw new ConfError(`section without a name`, lineNo);
      if (/[\s:}]/.test(name)) throw new ConfError(`invalid section name '${name}'`, lineNo);
      const sec: ConfSection = { kind: 'section', name, items: [], line: lineNo, openRaw: rawLine, indent };
      cur.items.push(sec);
      stack.push(sec);
      return;
    }
    if (t.startsWith('}')) {
      if (t !== '}') throw new ConfError(`text after '}'`, lineNo);
      if (stack.length === 1) throw new ConfError(`unbalanced '}' (no section is open)`, lineNo);
      cur.closeRaw = rawLine;
      stack.pop();
      return;
    }
    if (t.includes('}')) throw new ConfError(`'}' must be on its own line`, lineNo);
    const colon = t.indexOf(':');
    if (colon < 0) throw new ConfError(`expected 'key: value', '{' or '}'`, lineNo);
    const key = t.slice(0, colon).trim();
    const value = t.slice(colon + 1).trim();
    if (key === '' || /\s/.test(key)) throw new ConfError(`invalid key '${key}'`, lineNo);
    // corosync would take the comment as part of the value.
    if (value.includes('#')) throw new ConfError(`'#' after a value (comments must be on their own line)`, lineNo);
    cur.items.push({ kind: 'value', key, value, line: lineNo, raw: rawLine, indent });
  });
  if (stack.length > 1) {
    const open = stack[stack.length - 1]!;
    throw new ConfError(`unbalanced braces: section '${open.name}' opened here is never closed`, open.line);
  }
  const conf: CorosyncConf = { items: root.items, finalNewline };
  if (opts.validate !== false) validateCorosyncConf(conf);
  return conf;
}

/** Checks what corosync checks before it runs a config. Throws ConfError. */
export function validateCorosyncConf(conf: CorosyncConf): void {
  const nodelists = conf.items.filter((i): i is ConfSection => i.kind === 'section' && i.name === 'nodelist');
  if (nodelists.length === 0) throw new ConfError('missing nodelist section', 0);
  if (nodelists.length > 1) throw new ConfError('second nodelist section', nodelists[1]!.line);
  const ids = new Map<string, number>();
  const names = new Map<string, number>();
  for (const item of nodelists[0]!.items) {
    if (item.kind !== 'section') {
      if (item.kind === 'value') throw new ConfError(`unexpected key '${item.key}' in nodelist`, item.line);
      continue;
    }
    if (item.name !== 'node') throw new ConfError(`unexpected section '${item.name}' in nodelist`, item.line);
    const v = (k: string) => item.items.find((x): x is ConfValue => x.kind === 'value' && x.key === k);
    const id = v('nodeid');
    if (!id) throw new ConfError('node without nodeid', item.line);
    if (!/^\d+$/.test(id.value) || Number(id.value) < 1 || Number(id.value) > 0xffffffff) {
      throw new ConfError(`invalid nodeid '${id.value}'`, id.line);
    }
    const idKey = String(Number(id.value));
    if (ids.has(idKey)) throw new ConfError(`duplicate nodeid ${idKey} (first on line ${ids.get(idKey)})`, id.line);
    ids.set(idKey, id.line);
    const name = v('name');
    if (name) {
      if (names.has(name.value)) {
        throw new ConfError(`duplicate node name '${name.value}' (first on line ${names.get(name.value)})`, name.line);
      }
      names.set(name.value, name.line);
    }
    if (!item.items.some((x) => x.kind === 'value' && /^ring\d+_addr$/.test(x.key))) {
      throw new ConfError(`node ${idKey} has no ring0_addr`, item.line);
    }
  }
  const cv = getValue(conf, 'totem.config_version');
  if (cv !== undefined && !/^\d+$/.test(cv)) {
    throw new ConfError(`invalid config_version '${cv}'`, findValue(conf, 'totem.config_version')?.line ?? 0);
  }
}

/** The indentation of one level, as the file uses it (first indented entry of a top-level section). */
function indentUnit(conf: CorosyncConf): string {
  for (const top of conf.items) {
    if (top.kind !== 'section') continue;
    for (const i of top.items) if ((i.kind === 'value' || i.kind === 'section') && i.indent) return i.indent;
  }
  return '  ';
}

/** Writes the tree back; unchanged lines come out exactly as parsed. */
export function writeCorosyncConf(conf: CorosyncConf): string {
  const unit = indentUnit(conf);
  const out: string[] = [];
  const emit = (items: ConfItem[], depth: number) => {
    const pad = unit.repeat(depth);
    for (const item of items) {
      switch (item.kind) {
        case 'blank':
        case 'comment':
          out.push(item.raw);
          break;
        case 'value':
          out.push(item.raw ?? `${item.indent ?? pad}${item.key}: ${item.value}`);
          break;
        case 'section':
          out.push(item.openRaw ?? `${item.indent ?? pad}${item.name} {`);
          emit(item.items, depth + 1);
          out.push(item.closeRaw ?? `${item.indent ?? pad}}`);
          break;
      }
    }
  };
  emit(conf.items, 0);
  return out.join('\n') + (conf.finalNewline || out.length === 0 ? '\n' : '');
}

// ------------------------------------------------------------------------------------------------ access helpers

function sectionPath(conf: CorosyncConf, names: string[], create: boolean): ConfSection | undefined {
  let items = conf.items;
  let sec: ConfSection | undefined;
  for (const name of names) {
    let next = items.find((i): i is ConfSection => i.kind === 'section' && i.name === name);
    if (!next) {
      if (!create) return undefined;
      next = { kind: 'section', name, items: [], line: 0 };
      // A new top-level section gets a blank line before it, as the files we read have.
      if (items === conf.items && items.length > 0 && items[items.length - 1]!.kind !== 'blank') {
        items.push({ kind: 'blank', raw: '', line: 0 });
      }
      items.push(next);
    }
    sec = next;
    items = next.items;
  }
  return sec;
}

function findValue(conf: CorosyncConf, path: string): ConfValue | undefined {
  const parts = path.split('.');
  const key = parts.pop()!;
  const items = parts.length ? sectionPath(conf, parts, false)?.items : conf.items;
  return items?.find((i): i is ConfValue => i.kind === 'value' && i.key === key);
}

/** Value at a dotted path of first-found sections, e.g. 'totem.cluster_name', 'quorum.provider'. */
export function getValue(conf: CorosyncConf, path: string): string | undefined {
  return findValue(conf, path)?.value;
}

/** Sets (or adds) the value at a dotted path, creating sections as needed. */
export function setValue(conf: CorosyncConf, path: string, value: string): void {
  if (/[\n#{}]/.test(value)) throw new ConfError(`invalid value for ${path}: ${JSON.stringify(value)}`, 0);
  const existing = findValue(conf, path);
  if (existing) {
    if (existing.value !== value) {
      existing.value = value;
      delete existing.raw;
    }
    return;
  }
  const parts = path.split('.');
  const key = parts.pop()!;
  const items = parts.length ? sectionPath(conf, parts, true)!.items : conf.items;
  items.push({ kind: 'value', key, value, line: 0 });
}

export function getConfigVersion(conf: CorosyncConf): number | undefined {
  const v = getValue(conf, 'totem.config_version');
  return v === undefined ? undefined : Number(v);
}

export function setConfigVersion(conf: CorosyncConf, version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) throw new ConfError(`invalid config_version ${version}`, 0);
  setValue(conf, 'totem.config_version', String(version));
}

/** Raises config_version by one (a config with the same version is not taken by a reload). */
export function bumpConfigVersion(conf: CorosyncConf): number {
  const next = (getConfigVersion(conf) ?? 0) + 1;
  setConfigVersion(conf, next);
  return next;
}

export interface ConfNode {
  name: string;
  nodeid: number;
  quorumVotes: number;
  /** Addresses by link number (ring0_addr -> rings[0]). */
  rings: Record<number, string>;
}

function nodelist(conf: CorosyncConf): ConfSection | undefined {
  return sectionPath(conf, ['nodelist'], false);
}

function nodeSections(conf: CorosyncConf): ConfSection[] {
  return (nodelist(conf)?.items ?? []).filter((i): i is ConfSection => i.kind === 'section' && i.name === 'node');
}

function readNode(sec: ConfSection): ConfNode {
  const rings: Record<number, string> = {};
  let name = '';
  let nodeid = 0;
  let quorumVotes = 1;
  for (const i of sec.items) {
    if (i.kind !== 'value') continue;
    const ring = i.key.match(/^ring(\d+)_addr$/);
    if (ring) rings[Number(ring[1])] = i.value;
    else if (i.key === 'name') name = i.value;
    else if (i.key === 'nodeid') nodeid = Number(i.value);
    else if (i.key === 'quorum_votes') quorumVotes = Number(i.value);
  }
  return { name, nodeid, quorumVotes, rings };
}

export function listNodes(conf: CorosyncConf): ConfNode[] {
  return nodeSections(conf).map(readNode);
}

/**
 * Adds a node block at the end of the nodelist (lowest free nodeid unless given). Refuses a name or id in use.
 * Does not touch config_version: callers bump it once per change.
 */
export function addNode(conf: CorosyncConf, node: { name: string; rings: Record<number, string>; nodeid?: number; quorumVotes?: number }): ConfNode {
  const nodes = listNodes(conf);
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(node.name)) throw new ConfError(`invalid node name '${node.name}'`, 0);
  if (nodes.some((n) => n.name === node.name)) throw new ConfError(`node name '${node.name}' already exists`, 0);
  let nodeid = node.nodeid;
  if (nodeid === undefined) {
    nodeid = 1;
    while (nodes.some((n) => n.nodeid === nodeid)) nodeid++;
  }
  if (nodes.some((n) => n.nodeid === nodeid)) throw new ConfError(`nodeid ${nodeid} already exists`, 0);
  if (Object.keys(node.rings).length === 0) throw new ConfError('a node needs at least one ring address', 0);
  for (const addr of Object.values(node.rings)) {
    if (/[\s#{}]/.test(addr) || addr === '') throw new ConfError(`invalid address '${addr}'`, 0);
  }
  const list = sectionPath(conf, ['nodelist'], true)!;
  // New lines take the indentation of an existing node block, if there is one.
  const sample = nodeSections(conf)[0];
  const sampleValue = sample?.items.find((i): i is ConfValue => i.kind === 'value');
  const sec: ConfSection = { kind: 'section', name: 'node', items: [], line: 0, indent: sample?.indent };
  const valueIndent = sampleValue?.indent;
  const add = (key: string, value: string) => sec.items.push({ kind: 'value', key, value, line: 0, indent: valueIndent });
  add('name', node.name);
  add('nodeid', String(nodeid));
  add('quorum_votes', String(node.quorumVotes ?? 1));
  for (const link of Object.keys(node.rings).map(Number).sort((a, b) => a - b)) add(`ring${link}_addr`, node.rings[link]!);
  // Insert after the last node block, so trailing comments of the nodelist stay at its end.
  const lastIdx = list.items.reduce((acc, i, idx) => (i.kind === 'section' && i.name === 'node' ? idx : acc), -1);
  list.items.splice(lastIdx + 1, 0, sec);
  return readNode(sec);
}

/** Removes the node block with this name (or nodeid). Returns whether one was removed. */
export function removeNode(conf: CorosyncConf, nameOrId: string | number): boolean {
  const list = nodelist(conf);
  if (!list) return false;
  const idx = list.items.findIndex((i) => {
    if (i.kind !== 'section' || i.name !== 'node') return false;
    const n = readNode(i);
    return typeof nameOrId === 'number' ? n.nodeid === nameOrId : n.name === nameOrId;
  });
  if (idx < 0) return false;
  list.items.splice(idx, 1);
  return true;
}

// ------------------------------------------------------------------------------------------------ cluster configs

/** Why corosync (or the original pvecm) would not take this cluster name, or undefined if it is fine. */
export function clusterNameError(name: string): string | undefined {
  if (name === '') return 'the cluster name is empty';
  if (name.length > 15) return `cluster name '${name}' is ${name.length} characters long; at most 15 are allowed`;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name)) {
    return `cluster name '${name}' may hold only letters, digits and '-' (and must start with a letter or digit)`;
  }
  return undefined;
}

export interface LinkSpec {
  address: string;
  /** knet_link_priority (higher wins in passive mode). */
  priority?: number;
}

export interface NewClusterSpec {
  clusterName: string;
  nodeName: string;
  nodeid: number;
  votes: number;
  /** By link number. */
  links: Record<number, LinkSpec>;
  /** crypto_cipher aes256 + crypto_hash sha256 (default on). */
  crypto?: boolean;
  twoNode?: boolean;
  waitForAll?: boolean;
}

/** A corosync 3 (knet) config for a new one-node cluster, in Proxmox's two-space layout. */
export function buildCorosyncConf(spec: NewClusterSpec): string {
  const nameErr = clusterNameError(spec.clusterName);
  if (nameErr) throw new ConfError(nameErr, 0);
  const linkNos = Object.keys(spec.links).map(Number).sort((a, b) => a - b);
  if (linkNos.length === 0) throw new ConfError('a cluster needs at least one link', 0);
  const rings = linkNos.map((l) => `    ring${l}_addr: ${spec.links[l]!.address}\n`).join('');
  const interfaces = linkNos
    .map((l) => {
      const prio = spec.links[l]!.priority;
      return `  interface {\n    linknumber: ${l}\n${prio !== undefined ? `    knet_link_priority: ${prio}\n` : ''}  }\n`;
    })
    .join('');
  const quorumExtra = `${spec.twoNode ? '  two_node: 1\n' : ''}${spec.waitForAll !== undefined ? `  wait_for_all: ${spec.waitForAll ? 1 : 0}\n` : ''}`;
  const crypto = spec.crypto === false ? '  crypto_cipher: none\n  crypto_hash: none\n' : '  crypto_cipher: aes256\n  crypto_hash: sha256\n';
  const text =
    `logging {\n  debug: off\n  to_syslog: yes\n}\n\n` +
    `nodelist {\n  node {\n    name: ${spec.nodeName}\n    nodeid: ${spec.nodeid}\n    quorum_votes: ${spec.votes}\n${rings}  }\n}\n\n` +
    `quorum {\n  provider: corosync_votequorum\n${quorumExtra}}\n\n` +
    `totem {\n  cluster_name: ${spec.clusterName}\n  config_version: 1\n${crypto}${interfaces}  ip_version: ipv4-6\n` +
    `  link_mode: passive\n  secauth: on\n  transport: knet\n  version: 2\n}\n`;
  parseCorosyncConf(text); // what we write must pass our own checks
  return text;
}

/** Where corosync reads the shared key, as this config says (default /etc/corosync/authkey). */
export function keyfilePath(conf: CorosyncConf, corosyncDir = '/etc/corosync'): string {
  return getValue(conf, 'totem.keyfile') ?? `${corosyncDir}/authkey`;
}

export interface ConfCheck {
  /** 0 when the update may be applied, EINVAL otherwise. */
  errno: number;
  reason?: string;
}

const EINVAL = 22;

/**
 * Decides, without any I/O, whether the tree's corosync.conf may change from `oldData` to `newData`: the new file
 * must parse and validate, keep the cluster name, and carry a config_version above the old one (unless the content
 * is identical). The deterministic apply calls this, so every node reaches the same verdict, and a broken edit
 * through /etc/pve fails at close() with EINVAL instead of breaking corosync later.
 */
export function checkCorosyncConfUpdate(oldData: Buffer | undefined, newData: Buffer): ConfCheck {
  if (oldData && oldData.equals(newData)) return { errno: 0 };
  const text = newData.toString('utf8');
  if (text.trim() === '') return { errno: EINVAL, reason: 'corosync.conf: the new file is empty' };
  let conf: CorosyncConf;
  try {
    conf = parseCorosyncConf(text);
  } catch (e) {
    return { errno: EINVAL, reason: (e as Error).message };
  }
  if (!sectionPath(conf, ['totem'], false)) return { errno: EINVAL, reason: 'corosync.conf: missing totem section' };
  const nodes = listNodes(conf);
  if (nodes.length === 0) return { errno: EINVAL, reason: 'corosync.conf: the nodelist has no node' };
  const unnamed = nodeSections(conf).find((s) => !s.items.some((i) => i.kind === 'value' && i.key === 'name'));
  if (unnamed) return { errno: EINVAL, reason: `corosync.conf line ${unnamed.line}: node without name (it must be the node's hostname)` };
  const newName = getValue(conf, 'totem.cluster_name');
  if (newName === undefined) return { errno: EINVAL, reason: 'corosync.conf: missing totem.cluster_name' };
  const newVersion = getConfigVersion(conf);
  if (newVersion === undefined) return { errno: EINVAL, reason: 'corosync.conf: missing totem.config_version' };
  if (!oldData) return { errno: 0 };
  let old: CorosyncConf;
  try {
    old = parseCorosyncConf(oldData.toString('utf8'), { validate: false });
  } catch {
    return { errno: 0 }; // the old file was already broken: any valid file is an improvement
  }
  const oldName = getValue(old, 'totem.cluster_name');
  if (oldName !== undefined && oldName !== newName) {
    const line = findValue(conf, 'totem.cluster_name')?.line ?? 0;
    return { errno: EINVAL, reason: `corosync.conf line ${line}: the cluster name cannot change ('${oldName}' -> '${newName}')` };
  }
  const oldVersion = getConfigVersion(old) ?? 0;
  if (newVersion <= oldVersion) {
    const line = findValue(conf, 'totem.config_version')?.line ?? 0;
    return {
      errno: EINVAL,
      reason: `corosync.conf line ${line}: config_version ${newVersion} is not higher than the current ${oldVersion} (raise it with every change)`,
    };
  }
  return { errno: 0 };
}
