// Size limits of the tree. The original reports 128 MiB and 256k inodes in statfs but never enforces them;
// we enforce them so a runaway writer cannot fill RAM and the database.
export interface Limits {
  /** bytes per file (EFBIG) */
  maxFileSize: number;
  /** bytes of file data in the whole tree (ENOSPC) */
  maxDataBytes: number;
  /** entries in the tree (ENOSPC) */
  maxEntries: number;
  /** bytes per name (ENAMETOOLONG) */
  maxNameLength: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxFileSize: 1024 * 1024,
  maxDataBytes: 128 * 1024 * 1024,
  maxEntries: 256 * 1024,
  maxNameLength: 255,
};

/** Limits from the environment: test-only overrides of the totals. */
export function limitsFromEnv(env: NodeJS.ProcessEnv): Limits {
  const num = (v: string | undefined, d: number) => {
    const n = v === undefined ? NaN : Number(v);
    return Number.isFinite(n) && n > 0 ? n : d;
  };
  return {
    ...DEFAULT_LIMITS,
    maxDataBytes: num(env.PMXCFS_MAX_FS_SIZE, DEFAULT_LIMITS.maxDataBytes),
    maxEntries: num(env.PMXCFS_MAX_ENTRIES, DEFAULT_LIMITS.maxEntries),
  };
}
