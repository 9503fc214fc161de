#!/usr/bin/env node
// pvecm: the cluster manager. Its commands arrive with the cluster issues; until then it says so plainly.
const cmd = process.argv[2];
process.stderr.write(`pvecm: ${cmd ? `command '${cmd}' is` : 'cluster management is'} not available in this build yet\n`);
process.exit(1);
