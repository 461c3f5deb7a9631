import type { ByteSource } from '../source.js';
import { squashError } from './errors.js';

/** Little-endian field access over a byte slice, bounds-checked so a short slice is a FormatError. */
export class Fields {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private check(at: number, n: number): void {
    if (at + n > this.bytes.length) throw squashError(`${this.what} is truncated (needs ${at + n} bytes, has ${this.bytes.length})`);
  }
  u16(at: number): number { this.check(at, 2); return this.view.getUint16(at, true); }
  u32(at: number): number { this.check(at, 4); return this.view.getUint32(at, true); }
  /** u64 as a number; values past 2^53 cannot be valid offsets or sizes, so they are refused here. */
  u64(at: number): number {
    this.check(at, 8);
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    if (hi === 0xffffffff && lo === 0xffffffff) return Number.MAX_SAFE_INTEGER; // the "no table" marker
    if (hi >= 0x200000) throw squashError(`${this.what}: 64-bit field at ${at} is out of range`);
    return hi * 0x100000000 + lo;
  }
}

/** Reads exactly `length` bytes or fails naming what was being read. */
export async function readExact(src: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > src.size) {
    throw squashError(`${what} at ${offset} (+${length}) lies outside the image (${src.size} bytes)`);
  }
  const bytes = await src.read(offset, length);
  if (bytes.length !== length) throw squashError(`${what} at ${offset}: short read (${bytes.length} of ${length} bytes)`);
  return bytes;
}

const utf8 = new TextDecoder('utf-8');
export function decodeName(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}
