// The daemon reads the kernel's fuse wake_here (src/fuse/wake.ts) to say in its log when requests cross CPUs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wakeHere } from '../../src/fuse/wake.js';

describe("the kernel's fuse wake_here", () => {
  const dir = mkdtempSync(join(tmpdir(), 'wake-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const param = (v: string): string => {
    const f = join(dir, `p${v.trim() || 'empty'}`);
    writeFileSync(f, v);
    return f;
  };

  it('reads Y and N as the kernel writes them (with a newline)', () => {
    expect(wakeHere(param('Y\n'))).toBe(true);
    expect(wakeHere(param('N\n'))).toBe(false);
  });

  it('is unknown on a kernel without the parameter, or with a value it does not know', () => {
    expect(wakeHere(join(dir, 'missing'))).toBeNull();
    expect(wakeHere(param('maybe'))).toBeNull();
  });
});
