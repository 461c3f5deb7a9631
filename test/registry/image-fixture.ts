import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson, sha256Hex } from '../../src/canonical-json.js';
import type { ArchiveInput } from '../../src/outputs/docker/archive.js';

/** An image of random layers (sizes in bytes) for pushes that need no build: the push does not look inside layers. */
export function randomImage(dir: string, sizes: number[], name = 'img'): ArchiveInput {
  mkdirSync(dir, { recursive: true });
  const layers = sizes.map((size, i) => {
    const bytes = randomBytes(size);
    const p = path.join(dir, `${name}-layer${i}.tar`);
    writeFileSync(p, bytes);
    return { path: p, diffId: `sha256:${sha256Hex(bytes)}`, size };
  });
  const config = Buffer.from(canonicalJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, config: {} }));
  return { config: { bytes: config, id: `sha256:${sha256Hex(config)}` }, layers, tags: [], mtime: 0 };
}
