// Fault injection for tests, off unless PMXCFS_FAILPOINTS is set. Faults that no real component can be made to
// produce on demand, such as a member whose apply silently diverged (what verification exists to find).
//
//   PMXCFS_FAILPOINTS=skip-apply:PATH   replicated changes to PATH (tree path, no leading slash) are acknowledged
//                                       but not applied on this node
//   PMXCFS_FAILPOINTS=drop-end:PATH     the first `end` this node would send as an exchange's leader while its tree
//                                       holds PATH is not sent (as if the send had failed): the exchange stalls
import type { Op } from '../ops/op.js';

export function failpointSkipApply(env: NodeJS.ProcessEnv): ((op: Op) => boolean) | null {
  const spec = (env.PMXCFS_FAILPOINTS ?? '').split(',').find((f) => f.startsWith('skip-apply:'));
  if (!spec) return null;
  const path = spec.slice('skip-apply:'.length).replace(/^\/+/, '');
  return (op) => ('path' in op ? op.path : op.from).replace(/^\/+/, '') === path;
}

/** The path of drop-end:PATH, null when off. */
export function failpointDropEnd(env: NodeJS.ProcessEnv): string | null {
  const spec = (env.PMXCFS_FAILPOINTS ?? '').split(',').find((f) => f.startsWith('drop-end:'));
  return spec ? spec.slice('drop-end:'.length).replace(/^\/+/, '') : null;
}
