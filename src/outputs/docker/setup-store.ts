import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Cache } from '../../cache/index.js';
import { writeFileAtomic } from '../../cache/atomic.js';
import { markUsed } from '../../cache/maintenance.js';
import { writeTar } from '../../formats/tar/index.js';
import type { Layer } from '../../rootfs/layer.js';
import type { ArchiveLayer } from './archive.js';
import { writeStreamAtomic } from './stream-file.js';

/**
 * Setup layers, keyed by the ID of the image the setup ran in: the same image always yields the same
 * setup result, so a warm rebuild reuses the tar without starting a container.
 *   <cache>/derived/docker-setup/<image id hex>.tar   the layer
 *   <cache>/derived/docker-setup/<image id hex>.json  its diffId and size (written last: the commit)
 */
function paths(cache: Cache, imageId: string): { tar: string; meta: string } {
  const dir = path.join(cache.root, 'derived', 'docker-setup');
  const hex = imageId.replace(/^sha256:/, '');
  return { tar: path.join(dir, `${hex}.tar`), meta: path.join(dir, `${hex}.json`) };
}

export async function cachedSetupLayer(cache: Cache, imageId: string): Promise<ArchiveLayer | undefined> {
  const p = paths(cache, imageId);
  try {
    const meta = JSON.parse(await readFile(p.meta, 'utf8')) as { diffId: string; size: number };
    await markUsed([p.tar, p.meta]); // last use, for `dbco cache gc`
    return { path: p.tar, diffId: meta.diffId, size: meta.size };
  } catch {
    return undefined;
  }
}

export async function storeSetupLayer(cache: Cache, imageId: string, layer: Layer, epoch: number): Promise<ArchiveLayer> {
  const p = paths(cache, imageId);
  const { sha256, size } = await writeStreamAtomic(writeTar(layer.entries, { mtime: epoch, whiteouts: layer.whiteouts }), p.tar);
  const diffId = `sha256:${sha256}`;
  await writeFileAtomic(cache.tmpDir, p.meta, JSON.stringify({ diffId, size }));
  return { path: p.tar, diffId, size };
}
