import { inflateSync, type ZlibOptions } from 'node:zlib';
import type { Compressor } from './superblock.js';
import { squashError } from './errors.js';
import { lz4Decode } from './lz4.js';

/** Decodes one compressed block into at most `maxOut` bytes. */
export interface Decompressor {
  decode(input: Uint8Array, maxOut: number, what: string): Uint8Array;
}

// An output chunk a little larger than the block lets zlib finish in one call with one buffer
// (the default 16 KiB chunk means several calls and a concat for large blocks, and a 16 KiB
// allocation per 4 KiB block); the slack stops it asking for another chunk when the block is full.
const options = (maxOut: number): ZlibOptions => ({ maxOutputLength: maxOut, chunkSize: Math.max(64, maxOut + 64) });

/**
 * A run of a file's consecutive data blocks, as they lie on disk: `span` bytes at `start`, then
 * block k takes onDiskSize(words[k]) of them (bit 24 of a word: stored uncompressed; size 0:
 * sparse, `wants[k]` zero bytes).
 */
export interface BlockRun {
  start: number;
  span: number;
  words: Uint32Array;
  wants: Uint32Array;
  /** Largest decoded size of one block: the image's block size. */
  maxOut: number;
}

/** A run decoded: its blocks back to back in `out`, block k `lengths[k]` bytes long. */
export interface BlockRunResult {
  out: Uint8Array;
  lengths: Int32Array;
  /** The first block that failed (its index in the run) and why; blocks from it on are absent. */
  error?: { index: number; message: string };
}

/**
 * Reads and decodes block runs of one image off the caller's thread. Injected by the caller (see
 * src/io/block-pool.ts), so this code stays free of threads and files; it rejects only when the
 * decoder itself fails, never for corrupt data.
 */
export type ReadBlockRun = (run: BlockRun) => Promise<BlockRunResult>;

export function corrupt(what: string, err: unknown): Error {
  // zlib reports corrupt data and over-long output (RangeError) alike: both mean a bad image.
  return squashError(`${what}: gzip data is corrupt (${(err as Error).message})`, err);
}

// Each inflateSync call costs ~20 us of zlib stream set-up besides the inflating itself, which
// bounds 4 KiB-block throughput. Reusing one zlib handle would avoid it, but Node closes the handle
// on a corrupt block and a later call aborts the process; thread-pool inflate and a pure-JS
// inflate (fflate) both measured slower here.
const gzip: Decompressor = {
  decode(input, maxOut, what) {
    try {
      return inflateSync(input, options(maxOut));
    } catch (err) {
      throw corrupt(what, err);
    }
  },
};

export function decompressorFor(compressor: Compressor): Decompressor {
  if (compressor === 'gzip') return gzip;
  if (compressor === 'lz4') return { decode: lz4Decode };
  throw squashError(`compressor ${compressor} is not supported (image uses ${compressor}; dbco reads gzip and lz4)`);
}
