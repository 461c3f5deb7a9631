import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { assembleRootfs, materializeLayer } from '../../src/rootfs/index.js';
import { EarlyLayers } from '../../src/rootfs/early-layers.js';
import { startLayer } from '../../src/rootfs/layer-tar.js';
import type { Layer } from '../../src/rootfs/layer.js';
import { sharedMirror, tempDir } from '../helpers/env.js';

const tmp = tempDir('dbco-early-layers-');
afterAll(() => tmp.cleanup());

/** A 6.x mirror folder with the real rootfs64.gz and the iproute2 chain (libdb, db, iproute2). */
function recipe(): string {
  const mirror = path.join(tmp.dir, 'mirror');
  const rel = '6.x/x86_64/release/distribution_files';
  mkdirSync(path.join(mirror, rel), { recursive: true });
  for (const f of ['rootfs64.gz', 'rootfs64.gz.md5.txt']) copyFileSync(path.join(sharedMirror(), rel, f), path.join(mirror, rel, f));
  const src14 = path.join(sharedMirror(), '14.x/x86_64/tcz');
  mkdirSync(path.join(mirror, '6.x/x86_64/tcz'), { recursive: true });
  for (const f of readdirSync(src14).filter((n) => /^(iproute2|db|libdb)\.tcz/.test(n))) copyFileSync(path.join(src14, f), path.join(mirror, '6.x/x86_64/tcz', f));
  const file = path.join(tmp.dir, 'recipe.yaml');
  writeFileSync(file, ['name: early', 'release: 6.4.1', 'arch: x86_64', 'base: rootfs64.gz', `mirror: ${mirror}`, 'extensions: [iproute2]', ''].join('\n'));
  return file;
}

describe('extension layers started while prepare() fetches', () => {
  it('prepare names each verified extension before it returns; assembleRootfs takes the started layers and their tars', async () => {
    const cache = new Cache(path.join(tmp.dir, 'cache'));
    const early = new EarlyLayers({ cache, epoch: 0 });
    const seen: string[] = [];
    const inputs = await prepare(recipe(), {
      cache: cache.root, kernel: false,
      onExtension: (ext) => { seen.push(ext.name); early.start(ext); },
    });
    expect(seen.sort()).toEqual(['db.tcz', 'iproute2.tcz', 'libdb.tcz']);
    const startedLayers = await Promise.all(inputs.extensions.map((e) => early.take(e)!));
    const rootfs = await assembleRootfs(inputs, { cache, epoch: 0, setup: 'none', startTars: true, early });
    const extLayers = rootfs.layers.filter((l) => l.id.startsWith('ext:'));
    expect(extLayers.map((l) => l.id)).toEqual(['ext:libdb.tcz', 'ext:db.tcz', 'ext:iproute2.tcz']);
    // The very objects started early (nothing read twice), each with its tar write under way.
    extLayers.forEach((l, i) => expect(l).toBe(startedLayers[i]));
    const opts = { cache, epoch: 0 };
    for (const l of extLayers) expect(materializeLayer(l, opts)).toBe(startLayer(l as Layer, opts));
    const blobs = await Promise.all(extLayers.map((l) => materializeLayer(l, opts)));
    expect(blobs.map((b) => b.reused)).toEqual([false, false, false]);

    // Same digests as a build that starts nothing early (fresh cache).
    const other = new Cache(path.join(tmp.dir, 'cache2'));
    const plain = await prepare(inputs.recipePath, { cache: other.root, kernel: false });
    const again = await assembleRootfs(plain, { cache: other, epoch: 0, setup: 'none' });
    const plainBlobs = await Promise.all(again.layers.filter((l) => l.id.startsWith('ext:')).map((l) => materializeLayer(l, { cache: other, epoch: 0 })));
    expect(plainBlobs.map((b) => b.diffId)).toEqual(blobs.map((b) => b.diffId));
  });

  it('settle() waits for every started layer and its tar, also one whose tcz is unreadable (its error stays for take())', async () => {
    const cache = new Cache(path.join(tmp.dir, 'cache3'));
    const early = new EarlyLayers({ cache, epoch: 0 });
    const bad = path.join(tmp.dir, 'bad.tcz');
    writeFileSync(bad, 'not a squashfs');
    const good = path.join(sharedMirror(), '7.x/x86/tcz/gamin.tcz');
    const { cachedFile } = await import('./helpers.js');
    early.start({ name: 'bad.tcz', file: cachedFile(bad) });
    early.start({ name: 'gamin.tcz', file: cachedFile(good) });
    await early.settle();
    await expect(early.take({ name: 'bad.tcz', file: cachedFile(bad) })!).rejects.toThrow(/bad\.tcz/);
    const layer = await early.take({ name: 'gamin.tcz', file: cachedFile(good) })!;
    expect(readdirSync(path.join(cache.root, 'derived/layers')).filter((n) => n.endsWith('.tar'))).toHaveLength(1);
    expect(readdirSync(path.join(cache.root, 'tmp'))).toEqual([]); // nothing left mid-write
    expect((await materializeLayer(layer, { cache, epoch: 0 })).reused).toBe(false);
  });
});
