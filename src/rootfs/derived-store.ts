import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
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
  const tmpDir = path.join(cacheRoot, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  await mkdir(path.dirname(finalPath), { recursive: true });
  const tmp = path.join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    const result = await produce(fh);
    await fh.sync();
    await fh.close();
    await rename(tmp, finalPath);
    return result;
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
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
