// Picks the FUSE backend: the native libfuse3 one by default, fuse-native as the fallback.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { Backend } from './backend.js';

export type BackendName = 'native' | 'fuse-native';

/** The package root, from src/fuse or dist/src/fuse alike. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function nativeBackendBuilt(): boolean {
  const dir = join(packageRoot(), 'native', 'fuse', 'build', 'Release');
  return existsSync(dir) && existsSync(join(packageRoot(), 'dist', 'src', 'fuse', 'native.js'));
}

export async function createBackend(name: BackendName, log?: Logger): Promise<Backend> {
  if (name === 'native') {
    try {
      // a variable specifier: the native backend may be absent from a build
      const spec = './native.js';
      const mod = (await import(spec)) as { NativeBackend: new () => Backend };
      return new mod.NativeBackend();
    } catch (err) {
      log?.warn({ err }, 'native FUSE backend unavailable, falling back to fuse-native');
    }
  }
  const { FuseNativeBackend } = await import('./fuse-native.js');
  return new FuseNativeBackend();
}
