import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleRootfs } from '../../src/rootfs/assemble.js';
import { cachedLayerBlob, materializeLayer, startLayer } from '../../src/rootfs/layer-tar.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { extension, inputs } from './helpers.js';

const tmp = tempDir('dbco-start-tars-');
afterAll(() => tmp.cleanup());

const tczDir = () => path.join(sharedMirror(), '7.x/x86/tcz');
const exts = (names: string[]) => names.map((n) => extension(path.join(tczDir(), n)));

describe('assembleRootfs with startTars', () => {
  it('has the base and extension tars under way when it returns; the build that assembled them gets them as built, a later one as reused', async () => {
    const inp = inputs({ extensions: exts(['gamin.tcz', 'libffi.tcz', 'libpng.tcz']) });
    const opts = { cache: { root: path.join(tmp.dir, 'c1') }, epoch: 0 };
    const rootfs = await assembleRootfs(inp, { ...opts, setup: 'none', startTars: true });
    const [base, ...rest] = rootfs.layers;
    const config = rest.pop()!;
    for (const layer of [base!, ...rest]) {
      // The one write started during assembly: asking again joins it instead of starting another.
      expect(materializeLayer(layer, opts)).toBe(startLayer(layer, opts));
      expect(await cachedLayerBlob(layer, opts)).toBeUndefined();
      expect((await materializeLayer(layer, opts)).reused).toBe(false);
    }
    expect(materializeLayer(config, opts)).not.toBe(materializeLayer(config, opts));
    const built = await Promise.all(rootfs.layers.map((l) => materializeLayer(l, opts)));

    const again = await assembleRootfs(inp, { ...opts, setup: 'none' });
    const reused = await Promise.all(again.layers.map((l) => cachedLayerBlob(l, opts)));
    expect(reused.map((b) => b?.reused)).toEqual(again.layers.map(() => true));
    expect(reused.map((b) => b!.diffId)).toEqual(built.map((b) => b.diffId));
  });

  it('starts no extension tar when the layer budget merges extensions (their layers are not the image\'s)', async () => {
    const names = readdirSync(tczDir()).filter((n) => /^lib.*\.tcz$/.test(n)).sort().slice(0, 5);
    const opts = { cache: { root: path.join(tmp.dir, 'c2') }, epoch: 0 };
    const rootfs = await assembleRootfs(inputs({ extensions: exts(names) }), { ...opts, setup: 'none', maxLayers: 4, startTars: true });
    expect(rootfs.layers.some((l) => l.id.includes('+'))).toBe(true);
    const unmerged = rootfs.layers.filter((l) => l.id.startsWith('ext:') && !l.id.includes('+'));
    expect(unmerged.length).toBeGreaterThan(0);
    for (const layer of unmerged) expect(materializeLayer(layer, opts)).not.toBe(startLayer(layer, opts));
  });
});
