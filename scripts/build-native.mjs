#!/usr/bin/env node
// Builds each addon under native/ with node-gyp against the Node headers in /usr/include/node (offline).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const nodedir = existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [];
const only = process.argv.slice(2);

for (const name of readdirSync(join(root, 'native'))) {
  const dir = join(root, 'native', name);
  if (!existsSync(join(dir, 'binding.gyp'))) continue;
  if (only.length && !only.includes(name)) continue;
  console.log(`building native/${name}`);
  execFileSync(process.execPath, [gyp, 'rebuild', ...nodedir], { cwd: dir, stdio: 'inherit' });
}
