// The mapping of SQLite's failures to what the caller gets, and the log-once rule (unit level; the same through a
// real mount and real faults: storage.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { severity, syslogLine } from '../../src/cli/logging.js';
import { E } from '../../src/errors.js';
import { classify, StorageHealth } from '../../src/store/storage-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'sect-unit-'));
const db = join(dir, 'config.db');
writeFileSync(db, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sqliteError = (code: string) => Object.assign(new Error(code), { code });

function capture(): { lines: () => Record<string, unknown>[]; log: ReturnType<typeof pino> } {
  const out: string[] = [];
  const w = new Writable({ write(c: Buffer, _e, cb) { out.push(c.toString()); cb(); } });
  return { lines: () => out.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), log: pino({ level: 'info' }, w) };
}

describe('storage errors', () => {
  it('SQLite codes map to the errno the caller sees', () => {
    expect(classify(sqliteError('SQLITE_FULL'), db)).toBe('disk-full');
    expect(classify(sqliteError('SQLITE_BUSY'), db)).toBe('busy');
    expect(classify(sqliteError('SQLITE_BUSY_SNAPSHOT'), db)).toBe('busy');
    expect(classify(sqliteError('SQLITE_READONLY'), db)).toBe('read-only');
    expect(classify(sqliteError('SQLITE_IOERR_WRITE'), db)).toBe('io');
    expect(classify(sqliteError('SQLITE_IOERR_WRITE'), join(dir, 'gone.db'))).toBe('removed');
  });

  it('an outage is logged once when it starts and once when it ends, however many requests it refuses', async () => {
    const c = capture();
    const h = new StorageHealth(db, c.log);
    for (let i = 0; i < 50; i++) expect(h.failed(sqliteError('SQLITE_FULL'))).toBe(E.ENOSPC);
    h.succeeded();
    h.succeeded();
    expect(h.failed(sqliteError('SQLITE_BUSY'))).toBe(E.EBUSY);
    h.succeeded();
    await new Promise((r) => setImmediate(r));
    const msgs = c.lines().map((l) => String(l.msg));
    expect(msgs.filter((m) => m.includes('filesystem is full'))).toHaveLength(1);
    expect(msgs.filter((m) => m.includes('write lock'))).toHaveLength(1);
    expect(msgs.filter((m) => m.includes('writable again'))).toHaveLength(2);
    expect(c.lines().find((l) => String(l.msg).includes('writable again'))).toMatchObject({ refused: 50, fault: 'disk-full' });
  });

  it('a database moved away is noticed before the write (EIO), and clears when it is back', () => {
    const c = capture();
    const f = join(dir, 'moved.db');
    writeFileSync(f, '');
    const h = new StorageHealth(f, c.log);
    expect(h.check()).toBe(0);
    rmSync(f);
    expect(h.check()).toBe(E.EIO);
    expect(h.fault).toBe('removed');
  });
});

describe('syslog lines', () => {
  it('carry the syslog priority (facility daemon) and the message on one line', () => {
    expect(severity(30)).toBe(6);
    expect(severity(50)).toBe(3);
    expect(syslogLine(JSON.stringify({ level: 30, time: 1, pid: 2, name: 'pmxcfs', msg: 'mounted', mount: '/etc/pve' }))).toBe('<30>mounted {"mount":"/etc/pve"}\n');
    expect(syslogLine(JSON.stringify({ level: 50, msg: 'a\nb' }))).toBe('<27>a | b\n');
  });
});
