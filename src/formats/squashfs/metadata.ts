import type { ByteSource } from '../source.js';
import type { Decompressor } from './decompress.js';
import { readExact } from './bytes.js';
import { squashError } from './errors.js';

/** Decoded size of a full metadata block; the last block of a table may be shorter. */
export const METADATA_SIZE = 8192;

interface MetaBlock {
  data: Uint8Array;
  /** Disk offset of the block that follows this one. */
  next: number;
}

/**
 * Reads and caches metadata blocks (inode, directory, id, fragment tables). The cache is a small LRU
 * keyed by disk offset, so walking a large image keeps a bounded number of decoded blocks.
 */
export class MetadataReader {
  private readonly cache = new Map<number, MetaBlock>();

  constructor(
    private readonly src: ByteSource,
    private readonly decompress: Decompressor,
    private readonly end: number,
    private readonly maxCached = 128,
  ) {}

  async block(pos: number): Promise<MetaBlock> {
    const hit = this.cache.get(pos);
    if (hit) {
      this.cache.delete(pos);
      this.cache.set(pos, hit);
      return hit;
    }
    if (!Number.isSafeInteger(pos) || pos < 0 || pos + 2 > this.end) {
      throw squashError(`metadata block at ${pos} lies outside the image (${this.end} bytes)`);
    }
    // One read covers the header and the largest possible body.
    const span = await readExact(this.src, pos, Math.min(this.end - pos, 2 + METADATA_SIZE), 'metadata block');
    const header = span[0]! | (span[1]! << 8);
    const len = header & 0x7fff;
    if (len === 0 || len > METADATA_SIZE) throw squashError(`metadata block at ${pos} has invalid size ${len}`);
    if (2 + len > span.length) throw squashError(`metadata block at ${pos} (+${len}) runs past the end of the image`);
    const body = span.subarray(2, 2 + len);
    const data = header & 0x8000 ? body : this.decompress.decode(body, METADATA_SIZE, `metadata block at ${pos}`);
    const block = { data, next: pos + 2 + len };
    this.cache.set(pos, block);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
    return block;
  }

  /** A cursor at byte `offset` of the decoded block at disk offset `pos`. */
  async cursor(pos: number, offset: number): Promise<MetaCursor> {
    const b = await this.block(pos);
    if (offset > b.data.length) throw squashError(`offset ${offset} lies past the metadata block at ${pos} (${b.data.length} bytes)`);
    return new MetaCursor(this, pos, b.data, b.next, offset);
  }
}

/** Sequential reads through a chain of metadata blocks: records may straddle block boundaries. */
export class MetaCursor {
  constructor(
    private readonly reader: MetadataReader,
    /** Disk offset of the current block. */
    public pos: number,
    private data: Uint8Array,
    private next: number,
    /** Offset in the current decoded block. */
    public offset: number,
  ) {}

  private async advance(): Promise<void> {
    const b = await this.reader.block(this.next);
    this.pos = this.next;
    this.data = b.data;
    this.next = b.next;
    this.offset = 0;
  }

  async take(n: number): Promise<Uint8Array> {
    if (this.offset + n <= this.data.length) {
      const out = this.data.subarray(this.offset, this.offset + n);
      this.offset += n;
      return out;
    }
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      // Every advance moves to a strictly later disk offset, so a corrupt chain ends at the image end.
      if (this.offset >= this.data.length) await this.advance();
      const k = Math.min(n - done, this.data.length - this.offset);
      out.set(this.data.subarray(this.offset, this.offset + k), done);
      done += k;
      this.offset += k;
    }
    return out;
  }
}
