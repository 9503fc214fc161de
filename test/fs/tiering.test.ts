// The serving daemon asks V8 to optimize its code sooner (src/cli/tiering.ts; figures in docs/BENCHMARKS.md).
import { describe, expect, it } from 'vitest';
import { DEFAULT_INTERRUPT_BUDGET, tierUpSooner } from '../../src/cli/tiering.js';

describe('V8 tiering of the serving daemon', () => {
  it('uses the default budget unless PMXCFS_INTERRUPT_BUDGET says otherwise', () => {
    expect(tierUpSooner({})).toBe(DEFAULT_INTERRUPT_BUDGET);
    expect(tierUpSooner({ PMXCFS_INTERRUPT_BUDGET: '8000' })).toBe(8000);
  });

  it('PMXCFS_INTERRUPT_BUDGET=0, or a value that is not a whole number, keeps V8 as it is', () => {
    for (const v of ['0', '-5', 'fast', '1.5']) expect(tierUpSooner({ PMXCFS_INTERRUPT_BUDGET: v })).toBe(0);
  });
});
