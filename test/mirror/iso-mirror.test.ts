import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { DigestMismatchError, OfflineError } from '../../src/errors.js';
import { openIsoMirror } from '../../src/mirror/index.js';
import { serveFolder } from '../helpers/static-server.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { tcStaging, xorrisoIso } from '../formats/iso9660-fixture.js';
import { assertCacheSound } from './cache-walk.js';

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('a TC ISO served as a mirror', () => {
  let tmp: ReturnType<typeof tempDir>;
  let iso: string;
  let isoSha: string;
  const src = (rel: string) => path.join(sharedMirror(), '7.x/x86/tcz', rel);

  beforeAll(() => {
    tmp = tempDir('dbco-isomirror-');
    iso = xorrisoIso(tcStaging(tmp.dir), path.join(tmp.dir, 'tc.iso'), ['-R', '-J']);
    isoSha = sha(iso);
  });
  afterAll(() => tmp.cleanup());

  it('maps tcz/ to /cde/optional and distribution_files/ to /boot, extracting into the cache', async () => {
    const cacheDir = path.join(tmp.dir, 'c1');
    const m = await openIsoMirror(iso, isoSha, { cache: new Cache(cacheDir), arch: 'x86', major: '7' });
    try {
      expect(m.kernel).toBe('7.x/x86/release/distribution_files/vmlinuz');
      expect(m.initramfs).toBe('7.x/x86/release/distribution_files/core.gz');
      expect(await m.text('7.x/x86/tcz/gtk2.tcz.dep')).toBe(readFileSync(src('gtk2.tcz.dep'), 'utf8'));
      expect(await m.text('7.x/x86/tcz/no-such.tcz.dep')).toBeNull();
      const f = await m.fetch('7.x/x86/tcz/gtk2.tcz');
      expect(f!.sha256).toBe(sha(src('gtk2.tcz')));
      expect(f!.md5).toBe(readFileSync(src('gtk2.tcz.md5.txt'), 'utf8').slice(0, 32));
      expect(f!.origin).toBe(`iso:${iso}!/cde/optional/gtk2.tcz`);
      const k = await m.fetch(m.kernel!);
      expect(k!.sha256).toBe(sha(path.join(sharedMirror(), '7.x/x86/release/distribution_files/vmlinuz')));
      // Another release or arch is not in this ISO.
      expect(await m.fetch('6.x/x86_64/tcz/gtk2.tcz')).toBeNull();
      expect(await m.fetch('7.x/x86_64/tcz/gtk2.tcz')).toBeNull();
      expect(await m.fetch('7.x/x86/tcz/no-such.tcz')).toBeNull();
      expect(await m.exists!('7.x/x86/tcz/curl.tcz')).toBe(true);
      expect(await m.exists!('7.x/x86/tcz/no-such.tcz')).toBe(false);
      expect(await m.exists!('7.x/x86/tcz')).toBe(false);
      // The ISO itself is a verified blob of the cache.
      expect(m.isoPath).toBe(path.join(cacheDir, 'blobs/sha256', isoSha));
      assertCacheSound(cacheDir);
    } finally {
      await m.close();
    }
  });

  it('a wrong ISO sha256 is a DigestMismatchError and caches nothing', async () => {
    const cacheDir = path.join(tmp.dir, 'c2');
    await expect(openIsoMirror(iso, 'e'.repeat(64), { cache: new Cache(cacheDir), arch: 'x86', major: '7' })).rejects.toBeInstanceOf(DigestMismatchError);
    expect(assertCacheSound(cacheDir)).toEqual([]);
    await expect(openIsoMirror(iso, 'abc', { cache: new Cache(cacheDir), arch: 'x86', major: '7' })).rejects.toThrow(/ISO sha256 must be 64 hex digits/);
    await expect(openIsoMirror(path.join(tmp.dir, 'missing.iso'), isoSha, { cache: new Cache(cacheDir), arch: 'x86', major: '7' })).rejects.toThrow(/missing\.iso: cannot read ISO: ENOENT/);
  });

  it('an ISO URL is downloaded into the cache once; offline works warm and names the ISO cold', async () => {
    const server = await serveFolder(tmp.dir);
    try {
      const url = `${server.url}/tc.iso`;
      const cacheDir = path.join(tmp.dir, 'c3');
      const m = await openIsoMirror(url, isoSha, { cache: new Cache(cacheDir), arch: 'x86', major: '7' });
      expect((await m.fetch('7.x/x86/tcz/curl.tcz'))!.sha256).toBe(sha(src('curl.tcz')));
      await m.close();
      const n = server.requests.length;
      const warm = await openIsoMirror(url, isoSha, { cache: new Cache(cacheDir), arch: 'x86', major: '7', offline: true });
      expect((await warm.fetch('7.x/x86/tcz/curl.tcz'))!.sha256).toBe(sha(src('curl.tcz')));
      await warm.close();
      expect(server.requests.length).toBe(n);
      await expect(openIsoMirror(url, isoSha, { cache: new Cache(path.join(tmp.dir, 'c4')), arch: 'x86', major: '7', offline: true })).rejects.toThrow(
        `--offline: ISO ${url} (sha256 ${isoSha}) is not in the cache`,
      );
      await expect(openIsoMirror(url, isoSha, { cache: new Cache(path.join(tmp.dir, 'c4')), arch: 'x86', major: '7', offline: true })).rejects.toBeInstanceOf(OfflineError);
    } finally {
      await server.close();
    }
  });
});
