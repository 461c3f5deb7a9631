import type { ByteSource } from '../source.js';
import { readExact } from './bytes.js';
import type { Decompressor } from './decompress.js';
import { squashError } from './errors.js';
import type { FileLayout } from './inode.js';
import type { FragmentTable } from './tables.js';
import type { Superblock } from './superblock.js';

const UNCOMPRESSED = 0x1000000;
const NO_FRAGMENT = 0xffffffff;
/**
 * Consecutive blocks of a file lie back to back on disk, so one read fetches several: fewer round
 * trips to the ByteSource at a bounded cost in memory per open stream.
 */
const READ_AHEAD = 256 * 1024;
/** Decoded fragment blocks kept per image: small files sharing a fragment block decode it once. */
const FRAGMENT_CACHE = 4;

function onDiskSize(word: number): number {
  return (word & ~UNCOMPRESSED) >>> 0;
}

/** Everything a file's bytes are read through; one per opened image. */
export class DataReader {
  private readonly fragmentCache = new Map<number, Uint8Array>();

  constructor(
    private readonly src: ByteSource,
    private readonly sb: Superblock,
    private readonly decompress: Decompressor,
    private readonly fragments: FragmentTable,
  ) {}

  private async fragmentBlock(index: number, where: string): Promise<Uint8Array> {
    const hit = this.fragmentCache.get(index);
    if (hit) {
      this.fragmentCache.delete(index);
      this.fragmentCache.set(index, hit);
      return hit;
    }
    const { start, size } = await this.fragments.entry(index);
    const len = onDiskSize(size);
    if (len === 0 || len > this.sb.blockSize) throw squashError(`${where}: fragment ${index} has invalid size ${len}`);
    if (start + len > this.sb.bytesUsed) throw squashError(`${where}: fragment ${index} at ${start} (+${len}) lies outside the image`);
    const raw = await readExact(this.src, start, len, `fragment ${index}`);
    const data = size & UNCOMPRESSED ? raw : this.decompress.decode(raw, this.sb.blockSize, `${where}: fragment ${index}`);
    this.fragmentCache.set(index, data);
    if (this.fragmentCache.size > FRAGMENT_CACHE) this.fragmentCache.delete(this.fragmentCache.keys().next().value!);
    return data;
  }

  async *read(file: FileLayout, where: string): AsyncGenerator<Uint8Array> {
    const bs = this.sb.blockSize;
    const end = this.sb.bytesUsed;
    const sizes = file.blockSizes;
    let pos = file.blocksStart;
    let chunk: Uint8Array | undefined;
    let chunkStart = 0;
    for (let i = 0; i < sizes.length; i++) {
      const word = sizes[i]!;
      const len = onDiskSize(word);
      const want = Math.min(bs, file.size - i * bs);
      let block: Uint8Array;
      if (len === 0) {
        block = new Uint8Array(want); // sparse block: mksquashfs stores no data for all-zero blocks
      } else {
        if (len > bs) throw squashError(`${where}: block ${i} claims ${len} bytes, more than the block size ${bs}`);
        if (pos + len > end) throw squashError(`${where}: block ${i} at ${pos} (+${len}) lies outside the image`);
        if (!chunk || pos + len > chunkStart + chunk.length) {
          let span = 0;
          for (let j = i; j < sizes.length; j++) {
            const s = onDiskSize(sizes[j]!);
            if (span > 0 && span + s > READ_AHEAD) break;
            span += s;
          }
          chunkStart = pos;
          chunk = await readExact(this.src, pos, Math.min(span, end - pos), `${where}: data`);
        }
        const raw = chunk.subarray(pos - chunkStart, pos - chunkStart + len);
        pos += len;
        const what = `${where}: block ${i}`;
        // Inline inflateSync: measured no slower than thread-pool inflate with a few blocks in flight.
        block = checkLength(word & UNCOMPRESSED ? raw : this.decompress.decode(raw, bs, what), want, what);
      }
      yield block;
    }
    const tail = file.size - sizes.length * bs;
    if (file.fragment !== NO_FRAGMENT && tail > 0) {
      const block = await this.fragmentBlock(file.fragment, where);
      const off = file.fragmentOffset;
      if (off + tail > block.length) throw squashError(`${where}: tail at ${off} (+${tail}) overruns fragment ${file.fragment} (${block.length} bytes)`);
      // A copy, so a consumer that keeps or alters the bytes cannot touch the shared cached block.
      yield block.slice(off, off + tail);
    }
  }
}

function checkLength(data: Uint8Array, want: number, what: string): Uint8Array {
  if (data.length !== want) throw squashError(`${what} holds ${data.length} bytes, expected ${want}`);
  return data;
}
