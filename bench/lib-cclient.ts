// C programs of the benchmarks (bench/*.c): each compiled once per process on first use, removed at exit.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const built = new Map<string, Promise<string>>();

/** Path of bench/NAME.c compiled with `cc -O2` (and `pkg-config --cflags --libs PKG` for each of pkgs). */
export function compileC(name: string, pkgs: string[] = []): Promise<string> {
  let p = built.get(name);
  if (!p) {
    p = new Promise<string>((resolve, reject) => {
      const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', `${name}.c`);
      const out = join(tmpdir(), `pmxcfs-bench-${name}-${process.pid}`);
      const flags = pkgs.length ? `$(pkg-config --cflags --libs ${pkgs.join(' ')})` : '';
      spawn('sh', ['-c', `cc -O2 -o '${out}' '${src}' ${flags}`], { stdio: 'inherit' }).on('exit', (c) => {
        if (c !== 0) return reject(new Error(`cc ${src} failed`));
        process.on('exit', () => rmSync(out, { force: true }));
        resolve(out);
      });
    });
    built.set(name, p);
  }
  return p;
}

/** The C client of native-fuse-bench and `fs-bench --client c`; its arguments are `DIR NAME [N]`, it prints one JSON line. */
export function cClient(): Promise<string> {
  return compileC('native-fuse-client');
}
