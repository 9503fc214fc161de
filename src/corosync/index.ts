// Typed corosync wrappers: CPG, votequorum, cmap, cfg, and corosync.conf handling.
export { CS, CsError, loadBinding } from './native.js';
export type { CmapEntry, CmapValue, CpgAddress, VotequorumInfo } from './native.js';
export type { ConnectionEvents, ConnectionOptions } from './reconnect.js';
export { CpgClient, reasonName } from './cpg.js';
export type { CpgEvents, CpgMember, CpgMembership, CpgMessage, CpgOptions, CpgReason, TotemRing } from './cpg.js';
export { QuorumClient } from './quorum.js';
export type { QuorumEvents, QuorumOptions, QuorumState } from './quorum.js';
export { CmapClient, toNumber } from './cmap.js';
export type { CmapChange, CmapEvents, CmapNode, CmapOptions } from './cmap.js';
export { CfgClient } from './cfg.js';
export type { CfgEvents, CfgOptions } from './cfg.js';
export {
  ConfError,
  addNode,
  bumpConfigVersion,
  getConfigVersion,
  getValue,
  listNodes,
  parseCorosyncConf,
  removeNode,
  setConfigVersion,
  setValue,
  validateCorosyncConf,
  writeCorosyncConf,
} from './conf.js';
export type { ConfItem, ConfNode, ConfSection, ConfValue, CorosyncConf } from './conf.js';
