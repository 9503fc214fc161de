// corosync.conf parsing and writing, as pvecm and the config sync use it.
import { describe, expect, it } from 'vitest';
import {
  ConfError,
  addNode,
  bumpConfigVersion,
  getConfigVersion,
  getValue,
  listNodes,
  parseCorosyncConf,
  removeNode,
  setValue,
  writeCorosyncConf,
} from '../../src/corosync/conf.js';
import { corosyncConf } from '../helpers/testnet.js';

// The layout Proxmox VE writes.
const PVE = `logging {
  debug: off
  to_syslog: yes
}

nodelist {
  node {
    name: pve1
    nodeid: 1
    quorum_votes: 1
    ring0_addr: 192.168.1.10
    ring1_addr: 10.10.10.1
  }
  node {
    name: pve2
    nodeid: 2
    quorum_votes: 1
    ring0_addr: 192.168.1.11
    ring1_addr: 10.10.10.2
  }
}

quorum {
  provider: corosync_votequorum
}

totem {
  cluster_name: prod
  config_version: 7
  interface {
    linknumber: 0
  }
  interface {
    linknumber: 1
  }
  ip_version: ipv4-6
  link_mode: passive
  secauth: on
  version: 2
}

`;

// corosync's example style: tabs, comments on their own lines, quorum options.
const UPSTREAM = `# Please read the corosync.conf.5 manual page
totem {
\tversion: 2

\t# Corosync itself works without a cluster name, but DLM needs one.
\tcluster_name: example
\tcrypto_cipher: aes256
\tcrypto_hash: sha256
\ttransport: knet
\tinterface {
\t\tlinknumber: 0
\t\tknet_transport: udp
\t}
}

logging {
\tfileline: off
\tto_stderr: yes
\tto_logfile: yes
\tlogfile: /var/log/corosync/corosync.log
\ttimestamp: on
\tlogger_subsys {
\t\tsubsys: QUORUM
\t\tdebug: off
\t}
}

quorum {
\t# Enable and configure quorum subsystem (default: off)
\tprovider: corosync_votequorum
\ttwo_node: 1
\twait_for_all: 1
}

nodelist {
\t# Change/uncomment/add node sections to match cluster configuration
\tnode {
\t\t# Hostname of the node
\t\tname: node1
\t\tnodeid: 1
\t\tring0_addr: 192.168.0.1
\t}
\tnode {
\t\tname: node2
\t\tnodeid: 2
\t\tring0_addr: 192.168.0.2
\t}
}
`;

function rejects(text: string, line: number, what: RegExp) {
  let err: unknown;
  try {
    parseCorosyncConf(text);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfError);
  expect((err as ConfError).line).toBe(line);
  expect((err as ConfError).message).toMatch(new RegExp(`line ${line}`));
  expect((err as ConfError).message).toMatch(what);
}

const NODES = `nodelist {
  node {
    name: a
    nodeid: 1
    ring0_addr: 10.0.0.1
  }
}
`;

describe('reading and writing corosync.conf', () => {
  it('writes a Proxmox-written file back byte for byte', () => {
    expect(writeCorosyncConf(parseCorosyncConf(PVE))).toBe(PVE);
  });

  it('writes corosync\'s tab-indented example with comments back byte for byte', () => {
    expect(writeCorosyncConf(parseCorosyncConf(UPSTREAM))).toBe(UPSTREAM);
  });

  it('writes the test cluster config back byte for byte', () => {
    const text = corosyncConf({ nodes: 5, nodeDir: '/tmp/x', token: 500, clusterName: 't', configVersion: 3 });
    expect(writeCorosyncConf(parseCorosyncConf(text))).toBe(text);
  });

  it('reads sections, nested sections, links and quorum options', () => {
    const conf = parseCorosyncConf(UPSTREAM);
    expect(getValue(conf, 'totem.cluster_name')).toBe('example');
    expect(getValue(conf, 'totem.interface.knet_transport')).toBe('udp');
    expect(getValue(conf, 'logging.logger_subsys.subsys')).toBe('QUORUM');
    expect(getValue(conf, 'quorum.two_node')).toBe('1');
    expect(getConfigVersion(conf)).toBeUndefined();
    expect(listNodes(parseCorosyncConf(PVE))).toEqual([
      { name: 'pve1', nodeid: 1, quorumVotes: 1, rings: { 0: '192.168.1.10', 1: '10.10.10.1' } },
      { name: 'pve2', nodeid: 2, quorumVotes: 1, rings: { 0: '192.168.1.11', 1: '10.10.10.2' } },
    ]);
  });

  it('accepts a value with colons (IPv6) and CRLF line ends', () => {
    const conf = parseCorosyncConf(NODES.replace('10.0.0.1', 'fd00::1').replace(/\n/g, '\r\n'));
    expect(listNodes(conf)[0]!.rings[0]).toBe('fd00::1');
  });
});

describe('refusing configs corosync would refuse', () => {
  it('refuses text after { on its line', () => rejects(`totem {\n  version: 2\n}\n${NODES}`.replace('totem {', 'totem { version: 2'), 1, /after '\{'/));
  it('refuses a # comment after a value', () => rejects(`totem {\n  token: 500 # fast\n}\n${NODES}`, 2, /'#' after a value/));
  it('refuses a line that is not key: value', () => rejects(`totem {\n  token 500\n}\n${NODES}`, 2, /key: value/));
  it('refuses a stray closing brace', () => rejects(`totem {\n}\n}\n${NODES}`, 3, /unbalanced/));
  it('refuses a section that is never closed, naming where it opened', () => rejects(`${NODES}quorum {\n  provider: corosync_votequorum\n`, 8, /never closed/));
  it('refuses a config without nodelist', () => {
    expect(() => parseCorosyncConf('totem {\n  version: 2\n}\n')).toThrow(/missing nodelist/);
  });
  it('refuses duplicate node ids', () =>
    rejects(NODES.replace('  }\n}', '  }\n  node {\n    name: b\n    nodeid: 1\n    ring0_addr: 10.0.0.2\n  }\n}'), 9, /duplicate nodeid 1/));
  it('refuses duplicate node names', () =>
    rejects(NODES.replace('  }\n}', '  }\n  node {\n    name: a\n    nodeid: 2\n    ring0_addr: 10.0.0.2\n  }\n}'), 8, /duplicate node name 'a'/));
  it('refuses a node without nodeid', () => rejects(NODES.replace('    nodeid: 1\n', ''), 2, /without nodeid/));
});

describe('changing the cluster config', () => {
  it('bumps config_version and changes nothing else', () => {
    const conf = parseCorosyncConf(PVE);
    expect(bumpConfigVersion(conf)).toBe(8);
    expect(writeCorosyncConf(conf)).toBe(PVE.replace('config_version: 7', 'config_version: 8'));
  });

  it('adds a node in the layout of the existing nodes and removes it again', () => {
    const conf = parseCorosyncConf(PVE);
    const added = addNode(conf, { name: 'pve3', rings: { 0: '192.168.1.12', 1: '10.10.10.3' } });
    expect(added.nodeid).toBe(3);
    const text = writeCorosyncConf(conf);
    expect(text).toContain(
      '  node {\n    name: pve3\n    nodeid: 3\n    quorum_votes: 1\n    ring0_addr: 192.168.1.12\n    ring1_addr: 10.10.10.3\n  }\n}\n',
    );
    expect(listNodes(parseCorosyncConf(text)).map((n) => n.name)).toEqual(['pve1', 'pve2', 'pve3']);
    expect(removeNode(conf, 'pve3')).toBe(true);
    expect(writeCorosyncConf(conf)).toBe(PVE);
    expect(removeNode(conf, 'nope')).toBe(false);
  });

  it('uses tabs for new lines in a tab-indented file', () => {
    const conf = parseCorosyncConf(UPSTREAM);
    addNode(conf, { name: 'node3', nodeid: 3, rings: { 0: '192.168.0.3' } });
    expect(writeCorosyncConf(conf)).toContain('\tnode {\n\t\tname: node3\n\t\tnodeid: 3\n');
    setValue(conf, 'totem.config_version', '2');
    expect(writeCorosyncConf(conf)).toContain('\tconfig_version: 2\n}');
  });

  it('refuses to add a node whose name or id is taken', () => {
    const conf = parseCorosyncConf(PVE);
    expect(() => addNode(conf, { name: 'pve1', rings: { 0: '1.2.3.4' } })).toThrow(/already exists/);
    expect(() => addNode(conf, { name: 'x', nodeid: 2, rings: { 0: '1.2.3.4' } })).toThrow(/already exists/);
  });

  it('removes a node by id', () => {
    const conf = parseCorosyncConf(PVE);
    expect(removeNode(conf, 1)).toBe(true);
    expect(listNodes(conf).map((n) => n.nodeid)).toEqual([2]);
  });
});
