import { squashError } from './errors.js';

/**
 * LZ4 block format decoder (what squashfs's lz4 compressor stores per block: no frame, no checksum).
 * Each sequence is a token (literal length, match length), literals, and a 2-byte back offset.
 * Every length and offset is checked against the input and the `maxOut` output, so corrupt input
 * is a FormatError and never reads or writes out of range.
 */
export function lz4Decode(input: Uint8Array, maxOut: number, what: string): Uint8Array {
  const out = new Uint8Array(maxOut);
  const bad = (why: string): Error => squashError(`${what}: lz4 data is corrupt (${why})`);
  let ip = 0;
  let op = 0;
  const end = input.length;
  while (ip < end) {
    const token = input[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= end) throw bad('literal length runs past the input');
        b = input[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > end) throw bad('literals run past the input');
    if (op + lit > maxOut) throw bad(`output exceeds ${maxOut} bytes`);
    out.set(input.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === end) break; // the last sequence holds literals only
    if (ip + 2 > end) throw bad('match offset runs past the input');
    const offset = input[ip]! | (input[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw bad(`match offset ${offset} points before the output`);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= end) throw bad('match length runs past the input');
        b = input[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (op + len > maxOut) throw bad(`output exceeds ${maxOut} bytes`);
    let from = op - offset;
    if (offset >= len) {
      out.copyWithin(op, from, from + len);
      op += len;
    } else {
      // Overlapping match: a repeating pattern, copied forward byte by byte.
      for (const stop = op + len; op < stop;) out[op++] = out[from++]!;
    }
  }
  return out.subarray(0, op);
}
