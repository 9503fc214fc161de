import { constants } from 'node:os';

/** errno values by name (Linux). */
export const E = constants.errno;

/** Errors at the filesystem edge carry a positive errno; the backends turn it into the kernel's negative reply. */
export class FsError extends Error {
  constructor(
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? `errno ${errno}`);
  }
}

export function fail(errno: number, message?: string): never {
  throw new FsError(errno, message);
}
