import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/fuse/index.js';
import { NativeBackend } from '../../src/fuse/native.js';

describe('createBackend', () => {
  it('gives the native backend when the addon is built', async () => {
    expect(NativeBackend.available()).toBe(true);
    const b = await createBackend('native');
    expect(b.name).toBe('native');
    await b.unmount(); // not mounted: a no-op
  });

  it('gives fuse-native on request', async () => {
    const b = await createBackend('fuse-native');
    expect(b.name).toBe('fuse-native');
  });
});
