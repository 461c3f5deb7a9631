import { readJsonRecord } from '../io/json-record.js';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Cache } from '../cache/index.js';
import { markUsed } from '../cache/maintenance.js';
import { writeTar } from '../formats/tar/index.js';
import { derivedPath, writeAtomic, writeChunks, writeRecord } from './derived-store.js';
import type { Layer } from './layer.js';
import type { Semaphore } from '../io/semaphore.js';

export interface LayerBlob {
  /** The uncompressed layer tar in the derived store; read-only by convention. */
  path: string;
  /** sha256:hex of the tar. */
  diffId: string;
  size: number;
  /** True when the tar came from the cache and nothing was read or written. */
  reused?: boolean;
}

/**
 * Tars started ahead of need (startLayer), by the layer object they were started for: the build that
 * assembled the layer takes its own, and a later build (other objects) never sees a stale one.
 */
const started = new WeakMap<Layer, Promise<LayerBlob>>();

/**
 * Starts writing the layer's tar now (assembleRootfs does, for each layer it lists, while it lists the
 * others); materializeLayer of the same layer object then waits for this run instead of starting its own.
 * `first`: ahead of the tars queued at the gate (the bottom layer, which a load sends first).
 */
export function startLayer(layer: Layer, opts: { cache: Pick<Cache, 'root'>; epoch: number; first?: boolean }, gate?: Semaphore): Promise<LayerBlob> {
  let p = started.get(layer);
  if (!p) {
    p = gate ? gate.run(() => writeLayer(layer, opts), { first: opts.first ?? false }) : writeLayer(layer, opts);
    p.catch(() => undefined); // reported by materializeLayer, which awaits it
    started.set(layer, p);
  }
  return p;
}

/**
 * The layer as a deterministic tar (sorted, every mtime = epoch, numeric owners), stored under
 * <cache>/derived/layers/ by the layer's cacheKey: a warm build finds it and opens no archive. The
 * tar is streamed to disk while hashed, so no layer is ever held in memory.
 */
export function materializeLayer(layer: Layer, opts: { cache: Pick<Cache, 'root'>; epoch: number }): Promise<LayerBlob> {
  return started.get(layer) ?? writeLayer(layer, opts);
}

async function writeLayer(layer: Layer, opts: { cache: Pick<Cache, 'root'>; epoch: number }): Promise<LayerBlob> {
  const { tarPath, metaPath } = blobPaths(layer, opts);
  const known = await probeCached(layer, opts);
  if (known) return known;

  const hash = createHash('sha256');
  const tar = writeTar(layer.entries, { mtime: opts.epoch, whiteouts: layer.whiteouts ?? [] });
  const size = await writeAtomic(opts.cache.root, tarPath, (fh) => writeChunks(fh, tar, (c) => hash.update(c)));
  const diffId = `sha256:${hash.digest('hex')}`;
  // The tar is durable by now (fsynced before its rename); the record that vouches for it need not be.
  await writeRecord(opts.cache.root, metaPath, JSON.stringify({ diffId, size, cacheKey: layer.cacheKey, id: layer.id }));
  return { path: tarPath, diffId, size, reused: false };
}

function blobPaths(layer: Layer, opts: { cache: Pick<Cache, 'root'>; epoch: number }): { tarPath: string; metaPath: string } {
  const key = createHash('sha256').update(`${layer.cacheKey}\0mtime=${opts.epoch}`).digest('hex');
  const tarPath = derivedPath(opts.cache.root, 'layers', `${key}.tar`);
  return { tarPath, metaPath: path.join(path.dirname(tarPath), `${key}.json`) };
}

/**
 * The layer's tar when the derived store already holds it whole; a cheap probe (one small read, one stat).
 * A tar this process started (startLayer) is not reported here, even once written: it was built, not reused.
 */
export async function cachedLayerBlob(layer: Layer, opts: { cache: Pick<Cache, 'root'>; epoch: number }): Promise<LayerBlob | undefined> {
  return started.has(layer) ? undefined : probeCached(layer, opts);
}

async function probeCached(layer: Layer, opts: { cache: Pick<Cache, 'root'>; epoch: number }): Promise<LayerBlob | undefined> {
  const { tarPath, metaPath } = blobPaths(layer, opts);
  const known = await readBlobMeta(metaPath);
  if (known && (await sizeOf(tarPath)) === known.size) {
    await markUsed([tarPath, metaPath]); // last use, for `dbco cache gc`
    return { path: tarPath, diffId: known.diffId, size: known.size, reused: true };
  }
  return undefined;
}

async function readBlobMeta(p: string): Promise<{ diffId: string; size: number } | undefined> {
  const m = (await readJsonRecord(p)) as { diffId?: unknown; size?: unknown } | undefined; // absent or torn: rebuild
  if (m && typeof m.diffId === 'string' && /^sha256:[0-9a-f]{64}$/.test(m.diffId) && typeof m.size === 'number') return { diffId: m.diffId, size: m.size };
  return undefined;
}

async function sizeOf(p: string): Promise<number | undefined> {
  try {
    return (await stat(p)).size;
  } catch {
    return undefined;
  }
}
