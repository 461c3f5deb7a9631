import { FormatError } from '../../errors.js';

export const BLOCK = 512;
const enc = new TextEncoder();

/** ustar field offsets and widths. */
export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

/** Largest value an octal field of `width` bytes holds with its terminating NUL. */
export const octalMax = (width: number): number => 8 ** (width - 1) - 1;

export function putOctal(h: Uint8Array, [at, width]: readonly [number, number], v: number): void {
  h.set(enc.encode(v.toString(8).padStart(width - 1, '0')), at);
  h[at + width - 1] = 0;
}

export function putString(h: Uint8Array, [at, width]: readonly [number, number], s: Uint8Array): void {
  if (s.length > width) throw new Error('tar field overflow');
  h.set(s, at);
}

export function checksum(h: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

export function sealChecksum(h: Uint8Array): void {
  const s = checksum(h).unsigned;
  h.set(enc.encode(s.toString(8).padStart(6, '0')), 148);
  h[154] = 0;
  h[155] = 32;
}

/** NUL-terminated (or full-width) byte string of a field. */
export function fieldBytes(h: Uint8Array, [at, width]: readonly [number, number]): Uint8Array {
  const f = h.subarray(at, at + width);
  const nul = f.indexOf(0);
  return nul < 0 ? f : f.subarray(0, nul);
}

/** Octal (spaces/NULs around it allowed) or GNU base-256 when the high bit of the first byte is set. */
export function numField(h: Uint8Array, r: readonly [number, number], field: string, offset: number): number {
  const [at, width] = r;
  const f = h.subarray(at, at + width);
  if (f[0]! & 0x80) {
    if (f[0] === 0xff) throw new FormatError('tar', `header at offset ${offset}: negative base-256 ${field}`);
    let v = f[0]! & 0x7f;
    for (let i = 1; i < width; i++) {
      v = v * 256 + f[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw new FormatError('tar', `header at offset ${offset}: ${field} too large`);
    }
    return v;
  }
  let i = 0;
  while (i < width && (f[i] === 32 || f[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < width; i++) {
    const c = f[i]!;
    if (c === 32 || c === 0) break;
    if (c < 48 || c > 55) throw new FormatError('tar', `header at offset ${offset}: field ${field} is not octal`);
    v = v * 8 + (c - 48);
    digits++;
  }
  for (; i < width; i++) {
    if (f[i] !== 32 && f[i] !== 0) throw new FormatError('tar', `header at offset ${offset}: field ${field} is not octal`);
  }
  return digits === 0 ? 0 : v;
}

/** One PAX record: "LEN key=value\n", LEN counting the whole record including itself. */
export function paxRecord(key: string, value: string): Uint8Array {
  const body = enc.encode(` ${key}=${value}\n`);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return enc.encode(`${len}${new TextDecoder().decode(body)}`);
}

/** A first block that is a tar header: ustar magic, or (v7) a checksum that matches. */
export function looksLikeTar(b: Uint8Array): boolean {
  if (b.length < BLOCK) return false;
  if (b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) return true;
  try {
    const stored = numField(b, F.chksum, 'chksum', 0);
    const s = checksum(b);
    return stored === s.unsigned || stored === s.signed;
  } catch {
    return false;
  }
}
