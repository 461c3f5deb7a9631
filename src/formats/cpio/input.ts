import { FormatError } from '../../errors.js';
import type { ByteSource } from '../source.js';

/** What the cpio scanner needs from its input: a stream (ChunkReader) or random access (SourceCursor). */
export interface ArchiveInput {
  offset: number;
  readExact(n: number, what: string): Promise<Uint8Array>;
  skip(n: number, what: string): Promise<void>;
  skipZeros(): Promise<void>;
  atEnd(): Promise<boolean>;
}

/** Sequential cursor over a ByteSource whose skip() does not read: bodies stay on disk until opened. */
export class SourceCursor implements ArchiveInput {
  offset = 0;
  constructor(private readonly src: ByteSource) {}

  async readExact(n: number, what: string): Promise<Uint8Array> {
    if (this.offset + n > this.src.size) throw new FormatError('cpio', `truncated ${what} at offset ${this.offset}`);
    const b = await this.src.read(this.offset, n);
    if (b.length !== n) throw new FormatError('cpio', `truncated ${what} at offset ${this.offset}`);
    this.offset += n;
    return b;
  }

  async skip(n: number, what: string): Promise<void> {
    if (this.offset + n > this.src.size) throw new FormatError('cpio', `truncated ${what} at offset ${this.offset}`);
    this.offset += n;
  }

  async skipZeros(): Promise<void> {
    while (this.offset < this.src.size) {
      const b = await this.src.read(this.offset, Math.min(64 * 1024, this.src.size - this.offset));
      if (b.length === 0) return;
      let i = 0;
      while (i < b.length && b[i] === 0) i++;
      this.offset += i;
      if (i < b.length) return;
    }
  }

  async atEnd(): Promise<boolean> {
    return this.offset >= this.src.size;
  }
}
