import type { Entry } from '../formats/entry.js';
import { EntryTree } from './entry-tree.js';
import type { Layer } from './layer.js';

/**
 * The layers as one tree, as Docker would extract them: later layers win, whiteouts delete subtrees,
 * directories merge, hard links keep the data they were made with (see EntryTree). Missing parents
 * become root-owned 0755 directories and entries under a non-directory are dropped, so the result can
 * be written as one cpio or tar and extracted anywhere. Sorted by path; file entries still read lazily.
 */
export function flattenLayers(layers: readonly Layer[]): Entry[] {
  const tree = new EntryTree();
  for (const layer of layers) tree.addLayer(layer.entries, layer.whiteouts);
  return tree.finish({ complete: true });
}

/**
 * One layer's raw entries as a layer needs them: unique paths (later wins), sorted, canonical links.
 * `kernel` for an initramfs, whose duplicate paths resolve as the kernel's unpacker does (EntryTree).
 */
export function normalizeEntries(entries: readonly Entry[], mode: 'layers' | 'kernel' = 'layers'): Entry[] {
  const tree = new EntryTree(mode);
  tree.addLayer(entries);
  return tree.finish({ complete: false });
}
