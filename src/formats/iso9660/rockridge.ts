import { fail, longDate, shortDate, u32, decodeUtf8 } from './bytes.js';

/** What the System Use area of one directory record says (SUSP, IEEE P1281 + Rock Ridge, P1282). */
export interface SystemUse {
  /** SP in the root's "." record: SUSP is in use, with this many bytes to skip in every area. */
  sp?: { skip: number };
  px?: { mode: number; nlink: number; uid: number; gid: number };
  pn?: { major: number; minor: number };
  name?: string;
  symlink?: string;
  mtime?: number;
  /** CL: a relocated directory lives at this block. */
  childLink?: number;
  /** RE: this directory is a relocated one, reached through its CL. */
  relocated?: boolean;
}

/** A continuation area (CE) still to be read. */
export interface Continuation {
  block: number;
  offset: number;
  length: number;
}

/** Accumulates the pieces of NM and SL, which may be split over several entries and areas. */
export class SystemUseParser {
  readonly out: SystemUse = {};
  private nameParts: string[] = [];
  private nameDone = false;
  private linkParts: string[] | undefined;
  private linkComponentOpen = false;
  private linkDone = false;

  /** Parses one area; returns the continuation it names, if any. */
  parseArea(b: Uint8Array): Continuation | undefined {
    let ce: Continuation | undefined;
    let p = 0;
    while (b.length - p >= 4) {
      const sig = String.fromCharCode(b[p]!, b[p + 1]!);
      const len = b[p + 2]!;
      if (len === 0) break; // padding
      if (len < 4 || p + len > b.length) fail(`system use entry ${JSON.stringify(sig)} has bad length ${len}`);
      const e = b.subarray(p, p + len);
      switch (sig) {
        case 'SP':
          if (len >= 7 && e[4] === 0xbe && e[5] === 0xef) this.out.sp = { skip: e[6]! };
          break;
        case 'CE':
          if (len < 28) fail('CE entry too short');
          ce = { block: u32(e, 4), offset: u32(e, 12), length: u32(e, 20) };
          break;
        case 'ST':
          return ce;
        case 'PX':
          if (len < 36) fail('PX entry too short');
          this.out.px = { mode: u32(e, 4), nlink: u32(e, 12), uid: u32(e, 20), gid: u32(e, 28) };
          break;
        case 'PN':
          if (len < 20) fail('PN entry too short');
          this.out.pn = { major: u32(e, 4), minor: u32(e, 12) };
          break;
        case 'NM':
          this.parseNm(e);
          break;
        case 'SL':
          this.parseSl(e);
          break;
        case 'TF':
          this.parseTf(e);
          break;
        case 'CL':
          if (len < 12) fail('CL entry too short');
          this.out.childLink = u32(e, 4);
          break;
        case 'RE':
          this.out.relocated = true;
          break;
        default:
          break; // ER, ES, RR, SF, ...: nothing a reader of contents needs
      }
      p += len;
    }
    return ce;
  }

  private parseNm(e: Uint8Array): void {
    if (e.length < 5) fail('NM entry too short');
    if (this.nameDone) return;
    const flags = e[4]!;
    // CURRENT / PARENT name "." and ".."; those records are skipped by the caller anyway.
    if (flags & 0x06) return;
    this.nameParts.push(decodeUtf8(e.subarray(5)));
    if (!(flags & 0x01)) {
      this.nameDone = true;
      this.out.name = this.nameParts.join('');
    }
  }

  private parseSl(e: Uint8Array): void {
    if (e.length < 5) fail('SL entry too short');
    if (this.linkDone) return;
    const parts = (this.linkParts ??= []);
    let p = 5;
    while (p < e.length) {
      if (p + 2 > e.length) fail('SL component header past end of entry');
      const cflags = e[p]!;
      const clen = e[p + 1]!;
      if (p + 2 + clen > e.length) fail('SL component past end of entry');
      let text: string;
      if (cflags & 0x08) text = '';
      else if (cflags & 0x02) text = '.';
      else if (cflags & 0x04) text = '..';
      else text = decodeUtf8(e.subarray(p + 2, p + 2 + clen));
      if (this.linkComponentOpen && parts.length > 0) parts[parts.length - 1] += text;
      else parts.push(text);
      this.linkComponentOpen = Boolean(cflags & 0x01);
      p += 2 + clen;
    }
    if (!(e[4]! & 0x01)) {
      this.linkDone = true;
      // A ROOT component is the empty first element, so joining gives the leading '/'.
      this.out.symlink = parts.length === 1 && parts[0] === '' ? '/' : parts.join('/');
    }
  }

  private parseTf(e: Uint8Array): void {
    if (e.length < 5) fail('TF entry too short');
    const flags = e[4]!;
    const size = flags & 0x80 ? 17 : 7;
    let p = 5;
    // Order of stamps: creation, modify, access, attributes, backup, expiration, effective.
    for (let bit = 0; bit < 7; bit++) {
      if (!(flags & (1 << bit))) continue;
      if (p + size > e.length) fail('TF entry past end');
      if (bit === 1) this.out.mtime = size === 17 ? longDate(e, p) : shortDate(e, p);
      p += size;
    }
  }
}
