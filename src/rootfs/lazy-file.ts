import { close, open, read } from 'node:fs';
import { promisify } from 'node:util';
import type { ByteSource } from '../formats/source.js';

const openAsync = promisify(open);
const readAsync = promisify(read);

/**
 * Layers point into their archives for as long as the build runs, and nothing tells us when the last
 * lazy read has happened. So the descriptor is opened on first read and closed when the source is
 * garbage-collected (a plain numeric fd: a FileHandle would warn when collected).
 */
const closer = new FinalizationRegistry<number>((fd) => close(fd, () => undefined));

export function lazyFileSource(path: string, size: number): ByteSource {
  let fd: Promise<number> | undefined;
  const source: ByteSource = {
    size,
    async read(offset, length) {
      if (!fd) {
        fd = openAsync(path, 'r');
        fd.then((n) => closer.register(source, n), () => undefined);
      }
      const handle = await fd;
      const len = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.allocUnsafe(len);
      let done = 0;
      while (done < len) {
        const { bytesRead } = await readAsync(handle, buf, done, len - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === len ? buf : buf.subarray(0, done);
    },
  };
  return source;
}
