import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { indexCpio } from '../formats/cpio/index.js';
import type { Entry } from '../formats/entry.js';
import { gunzipChunks, isGzipMagic } from '../formats/gzip.js';
import { FormatError } from '../errors.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import { derivedPath, writeAtomic, writeChunks } from './derived-store.js';
import { normalizeEntries } from './flatten.js';
import { LAYER_FORMAT } from './layer-format.js';
import { lazyFileSource } from './lazy-file.js';
import type { Layer } from './layer.js';

/**
 * The base initramfs as a layer. It is gunzipped once into the derived store (keyed by the .gz's
 * sha256) because cpio has no index: later builds index the plain cpio directly and its entries read
 * their bytes lazily from it, so a warm build never inflates the gzip again.
 */
export async function baseLayer(base: CachedFile, opts: { cacheRoot: string; epoch: number; log?: Logger }): Promise<Layer> {
  const cpioPath = await unpackedBase(base, opts);
  const { size } = await stat(cpioPath);
  const raw = await indexCpio(lazyFileSource(cpioPath, size));
  return {
    id: 'base',
    // The kernel unpacks the base cpio on a real boot: its duplicates resolve as the kernel does.
    entries: normalizeEntries(raw.map((e) => withMtime(e, opts.epoch)), 'kernel'),
    cacheKey: `base:${base.sha256}:${LAYER_FORMAT}:epoch=${opts.epoch}`,
  };
}

/** Path of the base's plain cpio in the derived store, writing it on first use. */
export async function unpackedBase(base: CachedFile, opts: { cacheRoot: string; log?: Logger }): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(base.sha256)) throw new FormatError('cpio', `base ${base.path}: sha256 ${JSON.stringify(base.sha256)} is not 64 hex digits`);
  const cpioPath = derivedPath(opts.cacheRoot, 'base', `${base.sha256}.cpio`);
  if (await isFile(cpioPath)) return cpioPath;
  const magic = await firstBytes(base.path, 6);
  const gzipped = isGzipMagic(magic);
  if (!gzipped && Buffer.from(magic).toString('latin1', 0, 4) !== '0707') {
    throw new FormatError('cpio', `base ${base.origin}: neither gzip nor cpio newc (starts with ${Buffer.from(magic).toString('hex')})`);
  }
  opts.log?.info(`unpacking base ${base.origin} into the cache`);
  const input = createReadStream(base.path);
  try {
    await writeAtomic(opts.cacheRoot, cpioPath, (fh) => writeChunks(fh, gzipped ? gunzipChunks(input) : input));
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError('gzip', `base ${base.origin}: ${err.message.replace(/^gzip: /, "")}`, { cause: err });
    throw err;
  } finally {
    input.destroy();
  }
  return cpioPath;
}

export function withMtime(e: Entry, mtime: number): Entry {
  return e.mtime === mtime ? e : { ...e, mtime };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function firstBytes(p: string, n: number): Promise<Uint8Array> {
  const fh = await open(p, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
