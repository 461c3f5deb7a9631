import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { assembleRootfs, flattenLayers, materializeLayer } from '../../src/rootfs/index.js';
import { tempDir } from '../helpers/env.js';
import { iproute2Mirror, textOf } from './helpers.js';

const tmp = tempDir('dbco-rootfs-prepare-');
afterAll(() => tmp.cleanup());

describe('through prepare()', () => {
  it('a recipe on a mirror folder (6.x base + 14.x iproute2 chain): layers in tce-load install order', async () => {
    const mirror = iproute2Mirror(tmp.dir);
    const recipePath = path.join(tmp.dir, 'recipe.yaml');
    writeFileSync(recipePath, [
      'name: viaprepare', 'release: 6.4.1', 'arch: x86_64', 'base: rootfs64.gz', `mirror: ${mirror}`,
      'extensions: [iproute2]', 'bootlocal: ["ip link"]', '',
    ].join('\n'));
    const cache = new Cache(path.join(tmp.dir, 'cache'));
    const inputs = await prepare(recipePath, { cache: cache.root, offline: false });
    const rootfs = await assembleRootfs(inputs, { cache, epoch: 0, setup: 'build' });
    expect(rootfs.layers.map((l) => l.id)).toEqual(['base', 'ext:libdb.tcz', 'ext:db.tcz', 'ext:iproute2.tcz', 'config']);
    const flat = new Map(flattenLayers(rootfs.layers).map((e) => [e.path, e]));
    expect(flat.has('usr/local/tce.installed/libdb')).toBe(true);
    expect(await textOf(flat.get('opt/bootlocal.sh'))).toMatch(/ip link\n$/);
    const blobs = await Promise.all(rootfs.layers.map((l) => materializeLayer(l, { cache, epoch: 0 })));
    expect(blobs.every((b) => /^sha256:[0-9a-f]{64}$/.test(b.diffId))).toBe(true);
  });
});
