/**
 * The few ustar headers the image archive needs (dirs and regular files with short names). Layer tars
 * come from src/formats/tar; this writer only wraps already-built blobs, so it stays tiny.
 */
const BLOCK = 512;

function putString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar header field too long: ${value}`);
  bytes.copy(buf, offset);
}

function putOctal(buf: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length <= length - 1) {
    putString(buf, offset, length, digits.padStart(length - 1, '0'));
    return;
  }
  // GNU base-256 for sizes past 8 GiB: high bit set, big-endian value.
  buf[offset] = 0x80;
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

export function ustarHeader(h: { name: string; kind: 'file' | 'dir'; size: number; mtime: number }): Buffer {
  const buf = Buffer.alloc(BLOCK);
  putString(buf, 0, 100, h.kind === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name);
  putOctal(buf, 100, 8, h.kind === 'dir' ? 0o755 : 0o644);
  putOctal(buf, 108, 8, 0);
  putOctal(buf, 116, 8, 0);
  putOctal(buf, 124, 12, h.kind === 'dir' ? 0 : h.size);
  putOctal(buf, 136, 12, h.mtime);
  buf.fill(0x20, 148, 156);
  buf[156] = h.kind === 'dir' ? 0x35 : 0x30;
  putString(buf, 257, 6, 'ustar');
  putString(buf, 263, 2, '00');
  let sum = 0;
  for (const b of buf) sum += b;
  putString(buf, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return buf;
}

export function tarPadding(size: number): Buffer {
  const rem = size % BLOCK;
  return Buffer.alloc(rem === 0 ? 0 : BLOCK - rem);
}

export const TAR_END = Buffer.alloc(BLOCK * 2);
