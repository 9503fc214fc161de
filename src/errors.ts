import { constants } from 'node:os';

/** errno values by name (Linux). */
export const E = constants.errno;

/**
 * Errors at the filesystem edge carry a positive errno; the backends turn it into the kernel's negative reply.
 * They are answers, not faults (every create starts with a lookup that fails with ENOENT), so they carry no stack
 * trace: capturing one costs more than the rest of the lookup.
 */
export class FsError extends Error {
  readonly errno: number;

  constructor(errno: number, message?: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ?? `errno ${errno}`);
    Error.stackTraceLimit = limit;
    this.errno = errno;
  }
}

export function fail(errno: number, message?: string): never {
  throw new FsError(errno, message);
}
