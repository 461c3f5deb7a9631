import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ByteSource } from '../formats/source.js';

/** A ByteSource over a file on disk. Close it when done; reads after close fail. */
export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

/**
 * Reads `length` bytes at `offset` with pread on the calling thread. The readers ask for table and
 * metadata blocks of a few KiB, one after another, from files the build has just written or hashed
 * (in the page cache): a blocking read costs microseconds there, a trip through libuv's thread pool
 * far more, and every such trip sits on the critical path of the walk.
 */
export function preadExact(fd: number, size: number, offset: number, length: number): Buffer {
  const len = Math.max(0, Math.min(length, size - offset));
  const buf = Buffer.allocUnsafe(len);
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return done === len ? buf : buf.subarray(0, done);
}

export async function openFileSource(path: string): Promise<FileSource> {
  let fd: number | undefined = openSync(path, 'r');
  const { size } = fstatSync(fd);
  return {
    size,
    async read(offset, length) {
      if (fd === undefined) throw new Error(`${path}: read after close`);
      return preadExact(fd, size, offset, length);
    },
    async close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
