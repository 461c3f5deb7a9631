import { close, openSync } from 'node:fs';
import type { ByteSource } from '../formats/source.js';
import { preadExact } from '../io/file-source.js';

/**
 * Layers point into their archives for as long as the build runs, and nothing tells us when the last
 * lazy read has happened. So the descriptor is opened on first read and closed when the source is
 * garbage-collected (a plain numeric fd: a FileHandle would warn when collected).
 */
const closer = new FinalizationRegistry<number>((fd) => close(fd, () => undefined));

export function lazyFileSource(path: string, size: number): ByteSource {
  let fd: number | undefined;
  const source: ByteSource = {
    size,
    async read(offset, length) {
      if (fd === undefined) {
        fd = openSync(path, 'r');
        closer.register(source, fd);
      }
      return preadExact(fd, size, offset, length);
    },
  };
  return source;
}
