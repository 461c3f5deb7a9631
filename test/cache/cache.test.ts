import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cache, writeFileAtomic } from '../../src/cache/index.js';
import { tempDir } from '../helpers/env.js';
import { assertCacheSound } from '../mirror/cache-walk.js';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

describe('content-addressed cache', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cache: Cache;

  beforeEach(() => {
    tmp = tempDir('dbco-cache-');
    cache = new Cache(path.join(tmp.dir, 'c'));
  });
  afterEach(() => tmp.cleanup());

  it('stores bytes under blobs/sha256/<hex>, read-only, with md5 and size', async () => {
    const bytes = Buffer.from('hello tiny core\n');
    const got = await cache.putBytes(bytes);
    expect(got.sha256).toBe(sha(bytes));
    expect(got.md5).toBe(createHash('md5').update(bytes).digest('hex'));
    expect(got.size).toBe(bytes.length);
    expect(got.path).toBe(path.join(cache.root, 'blobs/sha256', sha(bytes)));
    expect(statSync(got.path).mode & 0o777).toBe(0o444);
    expect(await cache.has(sha(bytes))).toBe(true);
    expect(await cache.has(sha('other'))).toBe(false);
    expect(await cache.has('../../etc/passwd')).toBe(false);
    expect(() => cache.blobPath('../x')).toThrow(RangeError);
    assertCacheSound(cache.root);
  });

  it('a rejected verification or a failing source leaves no blob and no temp file', async () => {
    await expect(cache.putBytes(Buffer.from('bad'), () => { throw new Error('nope'); })).rejects.toThrow('nope');
    async function* failing() {
      yield Buffer.alloc(100_000, 1);
      throw new Error('source broke');
    }
    await expect(cache.putStream(failing())).rejects.toThrow('source broke');
    expect(assertCacheSound(cache.root)).toEqual([]);
  });

  it('twenty concurrent stores of the same content give one blob and no leftovers', async () => {
    const bytes = Buffer.alloc(300_000, 7);
    const all = await Promise.all(Array.from({ length: 20 }, () => cache.putBytes(bytes)));
    expect(new Set(all.map((a) => a.path)).size).toBe(1);
    expect(assertCacheSound(cache.root)).toEqual([sha(bytes)]);
  });

  it('metadata answers, including absent ones, are kept by URL', async () => {
    expect(await cache.getMeta('http://m/a.dep')).toBeUndefined();
    await cache.setMeta('http://m/a.dep', 'b.tcz\n');
    await cache.setMeta('http://m/none.dep', null);
    expect(await cache.getMeta('http://m/a.dep')).toEqual({ url: 'http://m/a.dep', present: true, text: 'b.tcz\n' });
    expect(await cache.getMeta('http://m/none.dep')).toEqual({ url: 'http://m/none.dep', present: false });
    await cache.deleteMeta('http://m/a.dep');
    expect(await cache.getMeta('http://m/a.dep')).toBeUndefined();
    // A damaged record reads as never written, not as an error.
    const metaDir = path.join(cache.root, 'meta');
    for (const f of readdirSync(metaDir)) writeFileSync(path.join(metaDir, f), '{"url": "http://m/none.d');
    expect(await cache.getMeta('http://m/none.dep')).toBeUndefined();
  });

  it('the URL index only answers while the blob exists', async () => {
    const b = await cache.putBytes(Buffer.from('payload'));
    await cache.record({ url: 'http://m/p.tcz', sha256: b.sha256, md5: b.md5, size: b.size });
    expect(await cache.lookup('http://m/p.tcz')).toEqual({ url: 'http://m/p.tcz', sha256: b.sha256, md5: b.md5, size: b.size });
    expect(await cache.lookup('http://m/q.tcz')).toBeUndefined();
    await rm(b.path);
    expect(await cache.lookup('http://m/p.tcz')).toBeUndefined();
  });

  it('temp files of crashed processes are removed once old, fresh ones are left alone', async () => {
    const tmpDir = path.join(cache.root, 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    writeFileSync(path.join(tmpDir, 'crashed'), 'partial');
    const old = (Date.now() - 7 * 3600 * 1000) / 1000;
    utimesSync(path.join(tmpDir, 'crashed'), old, old);
    writeFileSync(path.join(tmpDir, 'in-flight'), 'partial');
    await cache.tempFile().then(async (f) => {
      await f.finish();
      await cache.discard(f.path);
    });
    expect(readdirSync(tmpDir).sort()).toEqual(['in-flight']);
  });

  it('writeFileAtomic: concurrent writers leave one complete version, never a mix', async () => {
    const dest = path.join(tmp.dir, 'out/file.json');
    const versions = Array.from({ length: 12 }, (_, i) => String(i).repeat(50_000 + i));
    await Promise.all(versions.map((v) => writeFileAtomic(path.join(tmp.dir, 'tmp'), dest, v)));
    expect(versions).toContain(readFileSync(dest, 'utf8'));
    expect(existsSync(path.join(tmp.dir, 'tmp')) ? readdirSync(path.join(tmp.dir, 'tmp')) : []).toEqual([]);
  });
});
