// The C benchmark client (bench/native-fuse-client.c): compiled once per process on first use, removed at exit.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let binary: Promise<string> | null = null;

/** Path of the compiled client; its arguments are `DIR NAME [N]` and it prints one JSON line. */
export function cClient(): Promise<string> {
  binary ??= new Promise<string>((resolve, reject) => {
    const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'native-fuse-client.c');
    const out = join(tmpdir(), `pmxcfs-bench-client-${process.pid}`);
    spawn('cc', ['-O2', '-o', out, src], { stdio: 'inherit' }).on('exit', (c) => {
      if (c !== 0) return reject(new Error(`cc ${src} failed`));
      process.on('exit', () => rmSync(out, { force: true }));
      resolve(out);
    });
  });
  return binary;
}
