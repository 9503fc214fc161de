// Errno answers are part of the protocol; anything else a handler throws is a bug that the backends would turn
// into a silent EIO. This wrapper logs those with the operation's name, and passes everything through unchanged.
import { FsError } from '../errors.js';
import type { FsOps } from '../fuse/backend.js';
import type { Logger } from '../log.js';

export function withErrorLog(ops: FsOps, log: Logger): FsOps {
  const report = (op: string, err: unknown): void => {
    if (!(err instanceof FsError)) log.error({ err, op }, 'filesystem operation failed unexpectedly');
  };
  const wrapped: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(ops)) as (keyof FsOps)[]) {
    const fn = (ops as unknown as Record<string, unknown>)[name];
    if (name === ('constructor' as string) || typeof fn !== 'function') continue;
    const f = fn as (...a: unknown[]) => unknown;
    // fixed arity (no FsOps method takes more than six arguments): no rest array and no apply per request
    wrapped[name] = (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, g: unknown) => {
      try {
        const r: unknown = f.call(ops, a, b, c, d, e, g);
        if (r instanceof Promise) {
          return r.catch((err: unknown) => {
            report(name, err);
            throw err;
          });
        }
        return r;
      } catch (err) {
        report(name, err);
        throw err;
      }
    };
  }
  if (ops.attrTimeout !== undefined) wrapped.attrTimeout = ops.attrTimeout;
  return wrapped as unknown as FsOps;
}
