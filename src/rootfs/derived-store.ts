import type { FileHandle } from 'node:fs/promises';
import { writeAtomicWith, writeRecordAtomic } from '../cache/atomic.js';
import path from 'node:path';

/**
 * Data dbco derives from cached inputs (the gunzipped base cpio, layer manifests, layer tars) lives
 * under <cache>/derived/. Every write goes to a temp file in the cache's tmp/ (where the cache sweeps
 * up what a crashed process left) and is renamed into place, so a reader never sees a partial file and
 * two processes writing the same key both end with a whole one.
 */
export function derivedPath(cacheRoot: string, ...parts: string[]): string {
  return path.join(cacheRoot, 'derived', ...parts);
}

export async function writeAtomic<T>(cacheRoot: string, finalPath: string, produce: (fh: FileHandle) => Promise<T>): Promise<T> {
  return writeAtomicWith(path.join(cacheRoot, 'tmp'), finalPath, produce);
}

/** A derived JSON record (its reader rebuilds it when missing or torn): whole or absent, not fsynced. */
export async function writeRecord(cacheRoot: string, finalPath: string, json: string): Promise<void> {
  await writeRecordAtomic(path.join(cacheRoot, 'tmp'), finalPath, json);
}

/** Chunks below this are copied into one batch (a tar is mostly 512-byte headers and small files). */
const SMALL = 64 * 1024;
/** A batch goes to disk when it holds this much. */
const BATCH = 1024 * 1024;

/**
 * Streams chunks into the handle, calling onChunk on each (for hashing), and returns the byte count.
 * Small chunks are copied into one batch and written together: one write per tar header costs a thread
 * pool round trip each (thousands per layer), more than the bytes themselves. Large chunks are written as
 * they are; a producer may reuse a chunk's memory once the next one is asked for, so none is kept by reference.
 */
export async function writeChunks(fh: FileHandle, chunks: AsyncIterable<Uint8Array>, onChunk?: (c: Uint8Array) => void): Promise<number> {
  let size = 0;
  const batch = Buffer.allocUnsafe(BATCH);
  let used = 0;
  const flush = async (): Promise<void> => {
    if (used > 0) await writeAll(fh, batch, used);
    used = 0;
  };
  for await (const chunk of chunks) {
    onChunk?.(chunk);
    size += chunk.length;
    if (chunk.length >= SMALL) {
      await flush();
      await writeAll(fh, chunk, chunk.length);
      continue;
    }
    if (used + chunk.length > BATCH) await flush();
    batch.set(chunk, used);
    used += chunk.length;
  }
  await flush();
  return size;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, length: number): Promise<void> {
  for (let off = 0; off < length;) off += (await fh.write(bytes, off, length - off)).bytesWritten;
}
