import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { loadRecipe } from '../../src/recipe/load.js';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const ok = 'name: demo\nrelease: "14.0"\narch: x86_64\nbase: corepure64.gz\nextensions: [openssh, scsi-KERNEL.tcz]\n';

export function stateCases(root: () => string): void {
  test('layout: blobs/sha256/<hex>', async () => {
    const cache = new Cache(path.join(root(), 'c1'));
    for (let i = 0; i < 50; i++) {
      const bytes = Buffer.from(`hello tiny core ${i}\n`);
      const got = await cache.putBytes(bytes);
      expect(got.path).toBe(path.join(cache.root, 'blobs/sha256', sha(bytes)));
      expect(await cache.has(sha(bytes))).toBe(true);
    }
  });
  test('metadata answers', async () => {
    const cache = new Cache(path.join(root(), 'c2'));
    for (let i = 0; i < 50; i++) {
      await cache.setMeta(`http://m/${i}.dep`, 'b.tcz\n');
      await cache.setMeta(`http://m/none${i}.dep`, null);
      expect(await cache.getMeta(`http://m/${i}.dep`)).toEqual({ url: `http://m/${i}.dep`, present: true, text: 'b.tcz\n' });
      expect(await cache.getMeta(`http://m/none${i}.dep`)).toEqual({ url: `http://m/none${i}.dep`, present: false });
    }
  });
  test('URL index', async () => {
    const cache = new Cache(path.join(root(), 'c3'));
    for (let i = 0; i < 50; i++) {
      const b = await cache.putBytes(Buffer.from(`payload ${i}`));
      await cache.record({ url: `http://m/p${i}.tcz`, sha256: b.sha256, md5: b.md5, size: b.size });
      expect(await cache.lookup(`http://m/p${i}.tcz`)).toEqual({ url: `http://m/p${i}.tcz`, sha256: b.sha256, md5: b.md5, size: b.size });
      await rm(b.path);
      expect(await cache.lookup(`http://m/p${i}.tcz`)).toBeUndefined();
    }
  });
  test('recipe memo', async () => {
    const dir = path.join(root(), 'r');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 20; i++) {
      const file = path.join(dir, `r${i}.yaml`);
      writeFileSync(file, `${ok}# ${i}\n`);
      const a = await loadRecipe(file, { cacheRoot: path.join(dir, 'cache') });
      const b = await loadRecipe(file, { cacheRoot: path.join(dir, 'cache') });
      expect(b.recipe).toEqual(a.recipe);
    }
    expect(readdirSync(path.join(dir, 'cache/recipes')).length).toBeGreaterThanOrEqual(20);
  });
}
