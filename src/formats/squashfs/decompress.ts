import { inflate, inflateSync, type ZlibOptions } from 'node:zlib';
import type { Compressor } from './superblock.js';
import { squashError } from './errors.js';

/** Decodes one compressed block into at most `maxOut` bytes. */
export interface Decompressor {
  sync(input: Uint8Array, maxOut: number, what: string): Uint8Array;
  /** The same on libuv's thread pool, so several data blocks of a file decode at once. */
  async(input: Uint8Array, maxOut: number, what: string): Promise<Uint8Array>;
}

// An output chunk a little larger than the block lets zlib finish in one call with one buffer
// (the default 16 KiB chunk means several calls and a concat for large blocks, and a 16 KiB
// allocation per 4 KiB block); the slack stops it asking for another chunk when the block is full.
const options = (maxOut: number): ZlibOptions => ({ maxOutputLength: maxOut, chunkSize: Math.max(64, maxOut + 64) });

function corrupt(what: string, err: unknown): Error {
  // zlib reports corrupt data and over-long output (RangeError) alike: both mean a bad image.
  return squashError(`${what}: gzip data is corrupt (${(err as Error).message})`, err);
}

const gzip: Decompressor = {
  sync(input, maxOut, what) {
    try {
      return inflateSync(input, options(maxOut));
    } catch (err) {
      throw corrupt(what, err);
    }
  },
  async(input, maxOut, what) {
    return new Promise((resolve, reject) => {
      try {
        inflate(input, options(maxOut), (err, out) => (err ? reject(corrupt(what, err)) : resolve(out)));
      } catch (err) {
        reject(corrupt(what, err));
      }
    });
  },
};

export function decompressorFor(compressor: Compressor): Decompressor {
  if (compressor === 'gzip') return gzip;
  throw squashError(`compressor ${compressor} is not supported (image uses ${compressor}; dbco reads gzip)`);
}
