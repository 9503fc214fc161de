// Binding side of bench/corosync-bench.ts: the same measurement as bench/corosync-bench.c, through CpgClient.
//   node dist/bench/corosync-worker.js GROUP N SIZE MEMBERS [WINDOW]
// Sends N agreed messages of SIZE bytes as fast as flow control allows (trySend until CS_ERR_TRY_AGAIN or WINDOW
// messages are in flight, then again after the next delivery batch), each stamped at send time, and times each to
// its own delivery.

import { CpgClient } from '../src/corosync/index.js';

const [group = 'bench', nArg = '100000', sizeArg = '200', membersArg = '3', windowArg] = process.argv.slice(2);
const n = Number(nArg);
const size = Math.max(8, Number(sizeArg));
const want = Number(membersArg);
const window = windowArg ? Number(windowArg) : n;

const cpg = new CpgClient({ group, retryMs: 1000 });
cpg.on('disconnected', (e) => {
  console.error(`disconnected: ${e.message}`);
  process.exit(1);
});
cpg.start();
await cpg.waitConnected(10_000);
const me = cpg.nodeId;

await new Promise<void>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`only ${cpg.members.length} members`)), 20_000);
  const check = () => {
    if (cpg.members.length >= want) {
      clearTimeout(t);
      cpg.off('membership', check);
      resolve();
    }
  };
  cpg.on('membership', check);
  check();
});

const lat = new Float64Array(n);
const buf = Buffer.alloc(size);
let sent = 0;
let delivered = 0;
let scheduled = false;
let fallback: NodeJS.Timeout | undefined;
const start = process.hrtime.bigint();

const done = new Promise<void>((resolve) => {
  cpg.on('message', (m) => {
    if (m.nodeid === me && m.pid === process.pid) {
      if (delivered < n) lat[delivered] = Number(process.hrtime.bigint() - m.data.readBigUInt64LE(0)) / 1000;
      if (++delivered === n) resolve();
    }
    // Deliveries free room in corosync's queue: send more once this batch has been handled.
    if (!scheduled && sent < n) {
      scheduled = true;
      setImmediate(pump);
    }
  });
});

function pump(): void {
  scheduled = false;
  while (sent < n && sent - delivered < window) {
    buf.writeBigUInt64LE(process.hrtime.bigint(), 0);
    if (!cpg.trySend(buf)) break;
    sent++;
  }
  // If no delivery is pending to wake us, poll again shortly (never a busy loop).
  if (sent < n && sent - delivered < window && !fallback) fallback = setTimeout(() => ((fallback = undefined), pump()), 5);
}

pump();
const timeout = setTimeout(() => {
  console.error(`timeout: ${delivered}/${n} delivered`);
  process.exit(1);
}, 120_000);
await done;
clearTimeout(timeout);
if (fallback) clearTimeout(fallback);
const secs = Number(process.hrtime.bigint() - start) / 1e9;
const sorted = Array.from(lat).sort((a, b) => a - b);
const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
console.log(
  JSON.stringify({ msgs: n, seconds: +secs.toFixed(4), msgsPerSec: Math.round(n / secs), p50us: +p(0.5).toFixed(1), p99us: +p(0.99).toFixed(1) }),
);
cpg.close();
process.exit(0);
