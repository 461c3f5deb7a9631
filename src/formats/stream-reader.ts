import { FormatError } from '../errors.js';
import type { EntryMeta } from './entry.js';

/** One entry of a streaming reader. The body must be drained, or it is skipped when the next entry is asked for. */
export interface StreamEntry {
  entry: EntryMeta;
  body: AsyncIterable<Uint8Array>;
}

type Fmt = FormatError['format'];

const EMPTY = new Uint8Array(0);

/**
 * Pull-based reader over a chunk stream: exact reads for headers, bounded streaming for bodies.
 * Keeps at most one source chunk buffered, so bodies of any size pass through without copying.
 */
export class ChunkReader {
  private it: AsyncIterator<Uint8Array>;
  private buf: Uint8Array = EMPTY;
  private done = false;
  /** Bytes consumed so far: used for alignment and error messages. */
  offset = 0;

  constructor(chunks: AsyncIterable<Uint8Array>, readonly format: Fmt) {
    this.it = chunks[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.buf.length === 0) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.buf = r.value;
    }
    return true;
  }

  /** Releases the source early (a consumer stopped before the end): lets gunzip/file streams close now. */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.it.return?.();
    }
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** The next byte without consuming it, or -1 at the end. */
  async peekByte(): Promise<number> {
    return (await this.fill()) ? this.buf[0]! : -1;
  }

  /** Consumes zero bytes up to the first non-zero byte or the end (padding between concatenated archives). */
  async skipZeros(): Promise<void> {
    while (await this.fill()) {
      let i = 0;
      while (i < this.buf.length && this.buf[i] === 0) i++;
      this.take(i);
      if (this.buf.length > 0) return;
    }
  }

  /** Reads up to n bytes (fewer only at the end of the stream). */
  async readUpTo(n: number): Promise<Uint8Array> {
    if (!(await this.fill())) return EMPTY;
    if (this.buf.length >= n) return this.take(n);
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const part = this.take(Math.min(n - got, this.buf.length));
      out.set(part, got);
      got += part.length;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** Reads exactly n bytes; a short read is a truncated archive. */
  async readExact(n: number, what: string): Promise<Uint8Array> {
    const b = await this.readUpTo(n);
    if (b.length !== n) throw new FormatError(this.format, `truncated ${what} at offset ${this.offset}`);
    return b;
  }

  /** Next piece of at most n bytes (zero-copy when possible); empty only at the end. */
  async nextPiece(n: number): Promise<Uint8Array> {
    if (!(await this.fill())) return EMPTY;
    return this.take(Math.min(n, this.buf.length));
  }

  async skip(n: number, what: string): Promise<void> {
    while (n > 0) {
      const p = await this.nextPiece(n);
      if (p.length === 0) throw new FormatError(this.format, `truncated ${what} at offset ${this.offset}`);
      n -= p.length;
    }
  }

  private take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }
}

/**
 * A body of `size` bytes read from `r`. `onData` sees every byte (checksums); `finish()` consumes
 * whatever the consumer left so the reader can move to the next header.
 */
export class BodyStream {
  remaining: number;
  private active = false;

  constructor(
    private readonly r: ChunkReader,
    size: number,
    private readonly what: string,
    private readonly onData?: (b: Uint8Array) => void,
    private readonly onEnd?: () => void,
  ) {
    this.remaining = size;
    if (size === 0) this.onEnd?.();
  }

  iterable(): AsyncIterable<Uint8Array> {
    return { [Symbol.asyncIterator]: () => this.gen() };
  }

  private async *gen(): AsyncGenerator<Uint8Array> {
    if (this.active) throw new Error('body is already being read');
    this.active = true;
    try {
      while (this.remaining > 0) {
        yield await this.piece();
      }
    } finally {
      this.active = false;
    }
  }

  private async piece(): Promise<Uint8Array> {
    const p = await this.r.nextPiece(this.remaining);
    if (p.length === 0) throw new FormatError(this.r.format, `truncated body of ${this.what} at offset ${this.r.offset}`);
    this.remaining -= p.length;
    this.onData?.(p);
    if (this.remaining === 0) this.onEnd?.();
    return p;
  }

  async finish(): Promise<void> {
    if (this.active) throw new Error('next entry requested while a body is still being read');
    while (this.remaining > 0) await this.piece();
  }
}
