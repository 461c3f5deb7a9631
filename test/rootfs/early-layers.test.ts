import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { assembleRootfs, materializeLayer } from '../../src/rootfs/index.js';
import { EarlyLayers } from '../../src/rootfs/early-layers.js';
import { startLayer } from '../../src/rootfs/layer-tar.js';
import type { Layer } from '../../src/rootfs/layer.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { iproute2Mirror } from './helpers.js';

const tmp = tempDir('dbco-early-layers-');
afterAll(() => tmp.cleanup());

/** A recipe over iproute2Mirror (the real rootfs64.gz and the iproute2 chain: libdb, db, iproute2). */
function recipe(): string {
  const mirror = iproute2Mirror(tmp.dir);
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
