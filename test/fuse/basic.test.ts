import { afterEach, describe, expect, it } from 'vitest';
import { mountMem, node, sh, type Mounted } from './util.js';

describe.each([
  ['immediate replies', false],
  ['deferred replies', true],
])('native backend, %s', (_label, deferAll) => {
  let m: Mounted | null = null;
  afterEach(async () => {
    await m?.close();
    m = null;
  });

  it('serves the basic operations', async () => {
    m = await mountMem({ deferAll });
    const d = m.dir;
    const r = await sh(`set -e; cd ${d}
      mkdir a; mkdir a/b; echo hello > a/f; cat a/f
      printf 'xyz' >> a/f; cat a/f; echo
      mv a/f a/b/g; ls a a/b | tr '\\n' ' '; echo
      stat -c '%s %F' a/b/g
      truncate -s 2 a/b/g; cat a/b/g; echo
      ln -s b/g a/link; readlink a/link; cat a/link; echo
      rm a/link a/b/g; rmdir a/b; ls -a a | tr '\\n' ' '; echo
      rmdir a 2>/dev/null; ls -A | wc -l
      df -P . | tail -1 | awk '{print $2}'`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'hello',
      'hello',
      'xyz',
      'a: b  a/b: g ',
      '9 regular file',
      'he',
      'b/g',
      'he',
      '. .. ',
      '0',
      String(32768 * 4),
      '',
    ]);
  });

  it('reports errors from handlers and refuses what the filesystem refuses', async () => {
    m = await mountMem({ deferAll });
    const r = await sh(`cd ${m.dir}; mkdir x; mkdir x 2>&1; rmdir nope 2>&1; touch x/f; rmdir x 2>&1; cat nope 2>&1; true`);
    expect(r.stdout).toMatch(/File exists/);
    expect(r.stdout).toMatch(/No such file or directory/);
    expect(r.stdout).toMatch(/not empty/);
  });

  it('returns a commit error from close() (FLUSH) and leaves the file as it was', async () => {
    m = await mountMem({ deferAll, maxFileSize: 100 });
    await sh(`printf small > ${m.dir}/f`);
    const r = await node(`import { open } from 'node:fs/promises';
      const fh = await open('${m.dir}/f', 'w');
      await fh.write(Buffer.alloc(200, 120));
      try { await fh.close(); console.log('closed'); } catch (e) { console.log(e.code); }`);
    expect(r.stdout.trim()).toBe('EFBIG');
    expect((await sh(`cat ${m.dir}/f`)).stdout).toBe('small');
  });

  it('lists a directory of 1000 entries completely, across several READDIR calls', async () => {
    m = await mountMem({ deferAll });
    const r = await sh(`cd ${m.dir} && mkdir d && cd d && for i in $(seq 1 1000); do : > file-with-a-longer-name-$i; done && ls | wc -l && ls -f | sort | uniq | wc -l`);
    expect(r.stdout.trim().split('\n')).toEqual(['1000', '1002']);
  });
});
