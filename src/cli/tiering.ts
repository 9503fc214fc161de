// How soon V8 optimizes the serving daemon's code. V8 compiles a function with its optimizing compiler once it ran
// enough bytecode (its interrupt budget, V8's default 66 KiB). The daemon's hot paths are small functions called once
// per event (a FUSE request, a delivered change), so at that budget they stay in the baseline tier through thousands
// of events, which is all a burst of changes is. Set once the mount is up, not before: at start-up the smaller budget
// only makes V8 compile the loading code (+100-140 ms for 10,000 files). Measured in docs/BENCHMARKS.md ("tiering").
// PMXCFS_INTERRUPT_BUDGET: bytes of bytecode (0 keeps V8's default).
import { setFlagsFromString } from 'node:v8';

export const DEFAULT_INTERRUPT_BUDGET = 4000;

/** Applies the budget (V8 re-reads it whenever a function's budget runs out, so it reaches code already warm). */
export function tierUpSooner(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.PMXCFS_INTERRUPT_BUDGET ?? DEFAULT_INTERRUPT_BUDGET);
  if (!Number.isInteger(v) || v <= 0) return 0;
  setFlagsFromString(`--interrupt-budget=${v}`);
  return v;
}
