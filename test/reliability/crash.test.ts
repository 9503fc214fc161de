// Crash safety in local mode, bounded (the long runs: bench/crash-kill.ts, recorded in docs/RELIABILITY.md): four
// writers change files through the mount, the daemon is killed at random moments and restarted; nothing
// acknowledged is lost, nothing half-written is visible, every restart succeeds. SIGTERM under the same load stops
// the daemon within the unit's TimeoutStopSec with the mount gone.
import { describe, expect, it } from 'vitest';
import { runCrashCycles } from '../../bench/crash-kill.js';
import { BACKENDS } from '../helpers/daemon.js';

const backend = BACKENDS.includes('native') ? 'native' : 'fuse-native';
const seed = Number(process.env.PMXCFS_TEST_SEED ?? Date.now() % 100_000);

describe('crash safety', () => {
  it(`25 SIGKILLs under 4 concurrent writers: no acknowledged change lost, nothing half-written (seed ${seed})`, async () => {
    const rep = await runCrashCycles({ kills: 25, writers: 4, seed, signal: 'KILL', backend, log: () => {} });
    expect(rep.failures).toEqual([]);
    expect(rep.cycles).toBe(25);
    expect(rep.acknowledged).toBeGreaterThan(100);
    expect({ lost: rep.lost, halfWritten: rep.halfWritten, unexpected: rep.unexpected, startFailures: rep.startFailures, integrity: rep.integrityFailures }).toEqual({
      lost: 0, halfWritten: 0, unexpected: 0, startFailures: 0, integrity: 0,
    });
  }, 240_000);

  it(`5 SIGTERMs under load: exit 0 within TimeoutStopSec, the mount gone, nothing acknowledged lost (seed ${seed})`, async () => {
    const rep = await runCrashCycles({ kills: 5, writers: 4, seed: seed + 1, signal: 'TERM', backend, log: () => {} });
    expect(rep.failures).toEqual([]);
    expect(rep.stopTimeouts).toBe(0);
    expect(rep.mountLeft).toBe(0);
  }, 120_000);
});
