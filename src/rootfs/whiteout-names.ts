import type { Logger } from '../io/logger.js';
import type { Layer } from './layer.js';

/**
 * A path with a component named `.wh.*` cannot be carried by a Docker/OCI layer: the layer format
 * reserves the prefix, so `.wh.passwd` would delete /etc/passwd and `.wh..wh..opq` would empty its
 * folder in the image. The rootfs model keeps every output alike, so such entries of a base or a tcz
 * are left out of all of them (with a warning naming the layer and path); a recipe file is refused.
 */
export function hasWhiteoutName(p: string): boolean {
  return p.split('/').some((c) => c.startsWith('.wh.'));
}

export function withoutWhiteoutNames(layer: Layer, log?: Logger): Layer {
  const dropped = layer.entries.filter((e) => hasWhiteoutName(e.path));
  if (dropped.length === 0) return layer;
  const gone = new Set(dropped.map((e) => e.path));
  // A hard link whose data lived on a dropped path has nothing left to point at.
  const entries = layer.entries.filter((e) => !gone.has(e.path) && !(e.kind === 'hardlink' && gone.has(e.linkname ?? '')));
  const shown = dropped.slice(0, 5).map((e) => `/${e.path}`).join(', ');
  log?.warn(`${layer.id}: left out ${dropped.length} path(s) named .wh.* (${shown}${dropped.length > 5 ? ', ...' : ''}): Docker layers reserve that name for whiteouts`);
  return { ...layer, entries };
}
