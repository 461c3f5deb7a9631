import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseLayer } from '../../src/rootfs/base-layer.js';
import { extensionLayer } from '../../src/rootfs/tcz-layer.js';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { treeOfDir, treeOfEntries } from '../helpers/tree.js';
import { BASE64, cachedFile, extension, gunzipCpioInto, ROOTFS_TREE } from './helpers.js';

const tmp = tempDir('dbco-rootfs-layers-');
afterAll(() => tmp.cleanup());

describe('base and extension layers hold exactly what the archives hold', () => {
  it('base layer = GNU cpio extraction of rootfs64.gz (6.4.1), mtimes = epoch', async () => {
    const dir = path.join(tmp.dir, 'base-x');
    mkdirSync(dir);
    gunzipCpioInto(BASE64(), dir);
    const layer = await baseLayer(cachedFile(BASE64()), { cacheRoot: path.join(tmp.dir, 'c1'), epoch: 1234 });
    expect(layer.entries.length).toBeGreaterThan(600);
    expect(layer.entries.every((e) => e.mtime === 1234)).toBe(true);
    expect(layer.cacheKey).toMatch(/^base:[0-9a-f]{64}:v2:epoch=1234$/);
    expect(await treeOfEntries(layer.entries, ROOTFS_TREE)).toEqual(treeOfDir(dir, ROOTFS_TREE));
  });

  it.each([
    ['14.x/x86_64', /\.tcz$/, 10],
    // 32-bit, incl. 128 KiB-block images and the empty meta-extension compiletc
    ['7.x/x86', /^(aterm|gamin|gtk2|curl)\.tcz$/, 4],
    ['3.x/x86', /^(compiletc|mc|sed)\.tcz$/, 3],
  ])('%s tcz layers = unsquashfs extraction', async (sub, pick, count) => {
    requireTool('unsquashfs');
    const tczDir = path.join(sharedMirror(), sub, 'tcz');
    const names = readdirSync(tczDir).filter((n) => pick.test(n));
    expect(names.length).toBeGreaterThanOrEqual(count);
    for (const name of names) {
      const dir = path.join(tmp.dir, `x-${name}`);
      execFileSync('unsquashfs', ['-q', '-n', '-d', dir, path.join(tczDir, name)], { stdio: 'pipe' });
      const layer = await extensionLayer(extension(path.join(tczDir, name)), { cacheRoot: path.join(tmp.dir, 'c1'), epoch: 0 });
      expect(layer.id).toBe(`ext:${name}`);
      expect(await treeOfEntries(layer.entries, ROOTFS_TREE), name).toEqual(treeOfDir(dir, ROOTFS_TREE));
    }
  });
});
