import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/formats/entry.js';
import { assembleRootfs } from '../../src/rootfs/assemble.js';
import { applyLayerBudget } from '../../src/rootfs/budget.js';
import { flattenLayers } from '../../src/rootfs/flatten.js';
import type { Layer } from '../../src/rootfs/layer.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { treeOfEntries } from '../helpers/tree.js';
import { extension, inputs, ROOTFS_TREE } from './helpers.js';

const file = (path: string, text: string): Entry => {
  const data = Buffer.from(text);
  return { path, kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: data.length, open: async function* () { yield data; } };
};
const link = (path: string, linkname: string): Entry => ({ path, kind: 'hardlink', linkname, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
const ext = (name: string, entries: Entry[]): Layer => ({ id: `ext:${name}`, entries, cacheKey: `tcz:${name}` });

describe('layer budget', () => {
  it('merges the smallest extensions (size, then name) into one layer at the last member\'s place', () => {
    const layers = [
      ext('big1.tcz', [file('b1', 'x'.repeat(100))]),
      ext('s-b.tcz', [file('sb', 'xx')]),
      ext('big2.tcz', [file('b2', 'x'.repeat(100))]),
      ext('s-a.tcz', [file('sa', 'xx')]),
      ext('tiny.tcz', [file('t', 'x')]),
    ];
    const { layers: out, merged } = applyLayerBudget(layers, 3);
    expect(out.map((l) => l.id)).toEqual(['ext:big1.tcz', 'ext:big2.tcz', 'ext:s-b.tcz+s-a.tcz+tiny.tcz']);
    expect(merged!.cacheKey).toMatch(/^merged:v2:[0-9a-f]{64}$/);
    expect(applyLayerBudget(layers, 5).layers).toEqual(layers);
    // Same members, same key: the merged layer is cacheable across builds.
    expect(applyLayerBudget(layers, 3).merged!.cacheKey).toBe(merged!.cacheKey);
  });

  it('merged layers flatten exactly like the unmerged ones, even when an unmerged layer in between overrides a member', async () => {
    const layers = [
      ext('a.tcz', [file('shared', 'from a'), file('a-data', 'A'), link('a-link', 'a-data'), file('a-only', 'a')]),
      ext('big.tcz', [file('shared', `from big ${'x'.repeat(200)}`), file('a-data', `big ${'y'.repeat(100)}`)]),
      ext('c.tcz', [file('c-only', 'c')]),
    ];
    const { layers: out } = applyLayerBudget(layers, 2);
    expect(out.map((l) => l.id)).toEqual(['ext:big.tcz', 'ext:a.tcz+c.tcz']);
    const flat = (ls: Layer[]) => treeOfEntries(flattenLayers(ls), ROOTFS_TREE);
    expect(await flat(out)).toEqual(await flat(layers));
  });

  it('real 14.x extensions under max_layers 10: 8 extension layers, same flattened rootfs', async () => {
    const tmp = tempDir('dbco-budget-');
    try {
      const tczDir = path.join(sharedMirror(), '14.x/x86_64/tcz');
      const exts = readdirSync(tczDir).filter((n) => n.endsWith('.tcz')).sort().map((n) => extension(path.join(tczDir, n)));
      const inp = inputs({ extensions: exts });
      const cache = { root: tmp.dir };
      const full = await assembleRootfs(inp, { cache, epoch: 0, setup: 'none' });
      const budget = await assembleRootfs(inp, { cache, epoch: 0, setup: 'none', maxLayers: 10 });
      expect(full.layers).toHaveLength(exts.length + 2);
      expect(budget.layers).toHaveLength(10);
      const merged = budget.layers.filter((l) => l.id.includes('+'));
      expect(merged).toHaveLength(1);
      expect(merged[0]!.id.split('+')).toHaveLength(exts.length - 8 + 1);
      // With setup 'build' one more layer is reserved for the setup layer the docker stage adds.
      expect((await assembleRootfs(inp, { cache, epoch: 0, setup: 'build', maxLayers: 10 })).layers).toHaveLength(9);
      expect(await treeOfEntries(flattenLayers(budget.layers), ROOTFS_TREE)).toEqual(await treeOfEntries(flattenLayers(full.layers), ROOTFS_TREE));
    } finally {
      tmp.cleanup();
    }
  });
});
