import type { Entry } from '../formats/entry.js';
import { writeCpio } from '../formats/cpio/index.js';
import { gzipChunks } from '../formats/gzip.js';
import { flattenLayers } from './flatten.js';

/**
 * A bootable initramfs from a tree (normally flattenLayers' output): gzip'd cpio newc, deterministic
 * (sorted, parents first, gzip header mtime 0). Missing parent directories are added and duplicate
 * paths resolved as a layer would be, so any entry list gives a consistent tree. Level 6 by default:
 * on TC 6.4.1's rootfs it is twice as fast as 9 for 0.3% more bytes.
 */
export function writeInitramfs(entries: readonly Entry[], opts: { level?: number } = {}): AsyncIterable<Uint8Array> {
  const tree = flattenLayers([{ id: 'initramfs', entries: [...entries], cacheKey: '' }]);
  return gzipChunks(writeCpio(tree), opts.level ?? 6);
}
