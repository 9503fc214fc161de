// A corosync client process for tests: runs inside a node's namespace (via the testnet wrapper) and speaks
// line-delimited JSON. Requests on stdin: {"id":1,"op":"...", ...}; replies on stdout: {"id":1,"ok":true,...} or
// {"id":1,"ok":false,"error":"..."}; unsolicited events: {"event":"...", ...}. Deliveries are recorded in memory
// (as "nodeid:pid:text") and fetched with op "deliveries", so floods do not flood stdout.

import { createInterface } from 'node:readline';
import { CfgClient, CmapClient, CpgClient, QuorumClient, type CsError } from '../../src/corosync/index.js';

type Req = { id: number; op: string } & Record<string, unknown>;

const out = (obj: unknown) =>
  process.stdout.write(JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');

let cpg: CpgClient | undefined;
let quorum: QuorumClient | undefined;
let cmap: CmapClient | undefined;
let cfg: CfgClient | undefined;
const delivered: string[] = [];
const waiters: { count: number; resolve: () => void }[] = [];

function wire(name: string, c: { on(ev: 'connected', fn: () => void): unknown; on(ev: 'disconnected', fn: (e: CsError) => void): unknown }) {
  c.on('connected', () => out({ event: 'connected', lib: name }));
  c.on('disconnected', (e) => out({ event: 'disconnected', lib: name, code: e.code, message: e.message }));
}

function connect(req: Req): Record<string, unknown> {
  const retryMs = typeof req.retryMs === 'number' ? req.retryMs : 500;
  const group = typeof req.group === 'string' ? req.group : 'test';
  cpg = new CpgClient({ group, retryMs });
  wire('cpg', cpg);
  cpg.on('message', (m) => {
    delivered.push(`${m.nodeid}:${m.pid}:${m.data.toString('latin1')}`);
    while (waiters.length && delivered.length >= waiters[0]!.count) waiters.shift()!.resolve();
  });
  cpg.on('membership', (c) => out({ event: 'membership', ...c }));
  cpg.on('totem', (r) => out({ event: 'totem', ...r }));
  quorum = new QuorumClient({ retryMs });
  wire('quorum', quorum);
  quorum.on('change', (s) => out({ event: 'quorum', ...s }));
  cmap = new CmapClient({ retryMs });
  wire('cmap', cmap);
  cmap.on('configVersion', (v) => out({ event: 'configVersion', version: v }));
  cfg = new CfgClient({ retryMs });
  wire('cfg', cfg);
  for (const c of [cpg, quorum, cmap, cfg]) c.start();
  return info();
}

function info(): Record<string, unknown> {
  return {
    pid: process.pid,
    nodeId: cpg?.nodeId ?? 0,
    maxMessageSize: cpg?.maxMessageSize ?? 0,
    connected: { cpg: !!cpg?.connected, quorum: !!quorum?.connected, cmap: !!cmap?.connected, cfg: !!cfg?.connected },
    members: cpg?.members ?? [],
    quorum: quorum?.state,
  };
}

function need<T>(v: T | undefined, what: string): T {
  if (!v) throw new Error(`${what}: not connected (send op connect first)`);
  return v;
}

async function handle(req: Req): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'connect':
      return connect(req);
    case 'info':
      return info();
    case 'send': {
      await need(cpg, 'cpg').send(Buffer.from(String(req.text), 'latin1'));
      return {};
    }
    case 'sendMany': {
      // Messages "tag:i" padded to size; all queued at once so backpressure is exercised.
      const c = need(cpg, 'cpg');
      const count = Number(req.count);
      const size = Number(req.size ?? 0);
      const tag = String(req.tag ?? cpg?.nodeId);
      const sends: Promise<void>[] = [];
      let maxQueued = 0;
      for (let i = 0; i < count; i++) {
        const text = `${tag}:${i}`;
        sends.push(c.send(Buffer.from(size > text.length ? text + ' '.repeat(size - text.length) : text, 'latin1')));
        maxQueued = Math.max(maxQueued, c.queuedSends);
      }
      await Promise.all(sends);
      // maxQueued > 0 means flow control (CS_ERR_TRY_AGAIN) held sends back.
      return { sent: count, maxQueued };
    }
    case 'waitDelivered': {
      const count = Number(req.count);
      const timeoutMs = Number(req.timeoutMs ?? 20_000);
      if (delivered.length < count) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`only ${delivered.length}/${count} delivered`)), timeoutMs);
          waiters.push({ count, resolve: () => (clearTimeout(t), resolve()) });
          waiters.sort((a, b) => a.count - b.count);
        });
      }
      return { delivered: delivered.length };
    }
    case 'deliveries':
      return { list: delivered.slice(Number(req.from ?? 0)).map((s) => s.trimEnd()) };
    case 'leave':
      need(cpg, 'cpg').leave();
      return {};
    case 'membership':
      return { members: need(cpg, 'cpg').membership() };
    case 'quorum':
      return { state: need(quorum, 'quorum').state };
    case 'setExpected':
      need(quorum, 'quorum').setExpected(Number(req.votes));
      return { state: quorum!.state };
    case 'cmapGet':
      return { value: need(cmap, 'cmap').get(String(req.key)) };
    case 'cmapEntries':
      return { entries: need(cmap, 'cmap').entries(String(req.prefix)) };
    case 'nodelist':
      return { nodes: need(cmap, 'cmap').nodelist(), configVersion: cmap!.configVersion() };
    case 'reload':
      need(cfg, 'cfg').reload();
      return {};
    case 'exit':
      setImmediate(() => process.exit(0));
      return {};
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let req: Req;
  try {
    req = JSON.parse(line) as Req;
  } catch {
    out({ event: 'badRequest', line });
    return;
  }
  handle(req).then(
    (r) => out({ id: req.id, ok: true, ...r }),
    (e: unknown) => out({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e), code: (e as { code?: unknown }).code }),
  );
});
// The test runner going away (stdin closed) ends this client too.
rl.on('close', () => process.exit(0));
