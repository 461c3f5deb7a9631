import { FormatError } from '../../errors.js';

export function fail(message: string): never {
  throw new FormatError('iso9660', message);
}

/** Little-endian half of a both-endian field (ECMA-119 7.2.3 / 7.3.3). */
export function u16(b: Uint8Array, off: number): number {
  if (off + 2 > b.length) fail(`field at ${off} past end of record`);
  return b[off]! | (b[off + 1]! << 8);
}

export function u32(b: Uint8Array, off: number): number {
  if (off + 4 > b.length) fail(`field at ${off} past end of record`);
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 0x1000000;
}

/** A directory record's 7-byte date (ECMA-119 9.1.5) as epoch seconds; all-zero means unknown (0). */
export function shortDate(b: Uint8Array, off: number): number {
  if (off + 7 > b.length) fail('short date past end of record');
  const [y, mo, d, h, mi, s] = [b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!, b[off + 4]!, b[off + 5]!];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return 0;
  const tz = (b[off + 6]! << 24) >> 24;
  return Date.UTC(1900 + y, mo - 1, d, h, mi, s) / 1000 - tz * 15 * 60;
}

/** The 17-byte digits form (ECMA-119 8.4.26.1), used by Rock Ridge TF with LONG_FORM. */
export function longDate(b: Uint8Array, off: number): number {
  if (off + 17 > b.length) fail('long date past end of record');
  const digits = String.fromCharCode(...b.subarray(off, off + 16));
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)\d\d$/.exec(digits);
  if (!m) return 0;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (y === 0 || mo < 1 || mo > 12) return 0;
  const tz = (b[off + 16]! << 24) >> 24;
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - tz * 15 * 60;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function decodeUtf8(b: Uint8Array): string {
  return utf8.decode(b);
}

export function decodeUcs2be(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  return s;
}

export function decodeAscii(b: Uint8Array): string {
  return String.fromCharCode(...b);
}

/** A name that becomes one path component: nothing that could climb out or split. */
export function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    fail(`unsafe file name ${JSON.stringify(name)}`);
  }
  return name;
}
