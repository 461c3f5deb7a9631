import { createHash } from 'node:crypto';
import { comparePaths, type Entry } from '../formats/entry.js';
import { EntryTree, parentOf } from './entry-tree.js';
import { LAYER_FORMAT } from './layer-format.js';
import type { Layer } from './layer.js';
import { layerSize } from './tcz-layer.js';

/**
 * Fits extension layers into `maxLayers` by merging the smallest (uncompressed bytes, then id) into
 * one shared layer, placed where its last member was. Members keep install order inside it (later
 * wins), and a member's entries that an unmerged layer between it and that position overrode are
 * left out, so the flattened rootfs is exactly what it would be unmerged.
 */
export function applyLayerBudget(exts: readonly Layer[], maxLayers: number): { layers: Layer[]; merged?: Layer } {
  if (exts.length <= maxLayers) return { layers: [...exts] };
  const ranked = exts
    .map((layer, index) => ({ index, id: layer.id, size: layerSize(layer) }))
    .sort((a, b) => a.size - b.size || comparePaths(a.id, b.id));
  const members = ranked.slice(0, exts.length - maxLayers + 1).map((r) => r.index).sort((a, b) => a - b);
  const isMember = new Set(members);
  const last = members[members.length - 1]!;
  // Walk back from the merged layer's place, collecting what the unmerged layers in between override.
  const over = new Overrides();
  const kept = new Map<number, Entry[]>();
  const overriddenBy = new Map<number, string[]>();
  const laterKeys: string[] = [];
  for (let i = last; i >= members[0]!; i--) {
    const layer = exts[i]!;
    if (isMember.has(i)) {
      kept.set(i, over.filter(layer.entries));
      overriddenBy.set(i, [...laterKeys]);
    } else {
      over.add(layer);
      laterKeys.unshift(layer.cacheKey);
    }
  }
  const tree = new EntryTree();
  for (const m of members) tree.addLayer(kept.get(m)!);
  const identity = members.map((m) => ({ key: exts[m]!.cacheKey, overriddenBy: overriddenBy.get(m)! }));
  const merged: Layer = {
    id: `ext:${members.map((m) => exts[m]!.id.replace(/^ext:/, '')).join('+')}`,
    entries: tree.finish({ complete: false }),
    cacheKey: `merged:${LAYER_FORMAT}:${createHash('sha256').update(JSON.stringify(identity)).digest('hex')}`,
  };
  const layers: Layer[] = [];
  exts.forEach((layer, i) => {
    if (i === last) layers.push(merged);
    else if (!isMember.has(i)) layers.push(layer);
  });
  return { layers, merged };
}

/** What a set of later layers replaces or deletes; filter() drops it from a member, keeping links' data. */
class Overrides {
  private readonly replaced = new Set<string>();
  /** Paths whose subtree is gone: non-directories and whiteouts. */
  private readonly cuts = new Set<string>();

  add(layer: Layer): void {
    for (const e of layer.entries) {
      this.replaced.add(e.path);
      if (e.kind !== 'dir') this.cuts.add(e.path);
    }
    for (const w of layer.whiteouts ?? []) {
      this.replaced.add(w);
      this.cuts.add(w);
    }
  }

  filter(entries: readonly Entry[]): Entry[] {
    if (this.replaced.size === 0) return [...entries];
    const dropped = new Map<string, Entry>();
    const kept: Entry[] = [];
    for (const e of entries) (this.overridden(e.path) ? dropped.set(e.path, e) : kept.push(e));
    const newHolder = new Map<string, string>();
    return kept.map((e) => {
      const target = e.kind === 'hardlink' ? dropped.get(e.linkname ?? '') : undefined;
      if (!target) return e;
      const holder = newHolder.get(target.path);
      if (holder !== undefined) return { ...e, linkname: holder };
      newHolder.set(target.path, e.path);
      return { ...target, path: e.path };
    });
  }

  private overridden(p: string): boolean {
    if (this.replaced.has(p)) return true;
    for (let a = parentOf(p); a !== ''; a = parentOf(a)) if (this.cuts.has(a)) return true;
    return false;
  }
}
