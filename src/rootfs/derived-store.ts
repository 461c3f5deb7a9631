import type { FileHandle } from 'node:fs/promises';
import { writeAtomicWith } from '../cache/atomic.js';
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

/** Streams chunks into the handle, calling onChunk on each (for hashing), and returns the byte count. */
export async function writeChunks(fh: FileHandle, chunks: AsyncIterable<Uint8Array>, onChunk?: (c: Uint8Array) => void): Promise<number> {
  let size = 0;
  for await (const chunk of chunks) {
    onChunk?.(chunk);
    for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    size += chunk.length;
  }
  return size;
}
