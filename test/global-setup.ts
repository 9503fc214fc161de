// Once around the whole suite: daemons started by tests mount fusectl for their mount guard; where it was not
// mounted before the suite, it is unmounted after, once no FUSE connection is left (bench/lib-daemon.ts).
import { watchFusectl } from '../bench/lib-daemon.js';

export default function setup(): () => void {
  return watchFusectl();
}
