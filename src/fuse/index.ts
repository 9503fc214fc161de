// Backend factory: the native libfuse3 backend by default, fuse-native when the addon is not built.
import type { Backend } from './backend.js';
import { NativeBackend } from './native.js';

export type BackendName = 'native' | 'fuse-native';

export async function createBackend(name: BackendName = 'native'): Promise<Backend> {
  if (name === 'native' && NativeBackend.available()) return new NativeBackend();
  // Imported lazily: it needs libfuse2 and the fuse-native package only when actually used.
  const spec = './fuse-native.js';
  const mod = (await import(spec)) as Record<string, unknown>;
  const Ctor = (mod.FuseNativeBackend ?? mod.default) as (new () => Backend) | undefined;
  if (typeof Ctor !== 'function') throw new Error('src/fuse/fuse-native.ts exports no FuseNativeBackend');
  return new Ctor();
}
