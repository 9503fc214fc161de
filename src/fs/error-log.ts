// Errno answers are part of the protocol; anything else a handler throws is a bug that the backends would turn
// into a silent EIO. The backends report every handler error (MountOptions.onHandlerError) where they turn it into
// an errno, so no wrapper runs per request; this logs those that are not FsErrors, with the operation's name.
import { FsError } from '../errors.js';
import type { Logger } from '../log.js';

export function handlerErrorLog(log: Logger): (op: string, err: unknown) => void {
  return (op, err) => {
    if (!(err instanceof FsError)) log.error({ err, op }, 'filesystem operation failed unexpectedly');
  };
}
