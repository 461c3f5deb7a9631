import { FormatError } from '../../errors.js';
import { kindFromIfmt, type EntryMeta } from '../entry.js';
import { safeMemberPath, safePath, SymlinkGuard } from '../path.js';
import type { ArchiveInput } from './input.js';

export const NEWC_MAGIC = '070701';
export const CRC_MAGIC = '070702';
export const HEADER_SIZE = 110;
export const TRAILER = 'TRAILER!!!';
/** Longest name or symlink target accepted; PATH_MAX is 4096, this leaves room without trusting forged sizes. */
export const MAX_NAME = 64 * 1024;

export interface NewcHeader {
  crc: boolean;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  namesize: number;
  check: number;
}

const FIELDS = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check'] as const;

function hexField(b: Uint8Array, at: number, field: string, offset: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = b[i]!;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) throw new FormatError('cpio', `header at offset ${offset}: field ${field} is not hex`);
    v = v * 16 + d;
  }
  return v;
}

export function isCpioMagic(b: Uint8Array): boolean {
  const m = String.fromCharCode(...b.subarray(0, 6));
  return m === NEWC_MAGIC || m === CRC_MAGIC;
}

export function parseHeader(b: Uint8Array, offset: number): NewcHeader {
  const magic = String.fromCharCode(...b.subarray(0, 6));
  if (magic !== NEWC_MAGIC && magic !== CRC_MAGIC) {
    const hint = magic === '070707' ? ' (old portable format: only newc 070701 and crc 070702 are supported)' : '';
    throw new FormatError('cpio', `bad magic ${JSON.stringify(magic)} at offset ${offset}${hint}`);
  }
  const h = { crc: magic === CRC_MAGIC } as NewcHeader;
  FIELDS.forEach((f, i) => {
    h[f] = hexField(b, 6 + i * 8, f, offset);
  });
  return h;
}

export function encodeHeader(h: Omit<NewcHeader, 'crc'>): string {
  let s = NEWC_MAGIC;
  for (const f of FIELDS) s += h[f].toString(16).toUpperCase().padStart(8, '0');
  return s;
}

export const pad4 = (n: number): number => (4 - (n % 4)) % 4;

const utf8 = new TextDecoder('utf-8');

/** One member as scanned: for 'file' the consumer reads or skips `dataSize` bytes before scanning on. */
export interface ScannedEntry {
  type: 'entry';
  meta: EntryMeta;
  header: NewcHeader;
  /** Bytes the consumer must take (file contents); 0 for every other kind, which the scanner consumes itself. */
  dataSize: number;
  dataOffset: number;
}
export type Scanned = ScannedEntry | { type: 'trailer' } | { type: 'root' };

/**
 * Walks one or more concatenated newc/crc archives. Yields each member; the consumer must consume
 * a file's data before asking for the next. 'trailer' marks the end of one archive (hard-link groups
 * do not span archives).
 */
export async function* scanCpio(inp: ArchiveInput): AsyncGenerator<Scanned> {
  if (await inp.atEnd()) throw new FormatError('cpio', 'empty input: no cpio header');
  const guard = new SymlinkGuard();
  for (;;) {
    const at = inp.offset;
    const h = parseHeader(await inp.readExact(HEADER_SIZE, 'cpio header'), at);
    if (h.namesize < 1 || h.namesize > MAX_NAME) throw new FormatError('cpio', `header at offset ${at}: namesize ${h.namesize} out of range 1..${MAX_NAME}`);
    const nameBytes = await inp.readExact(h.namesize, 'member name');
    if (nameBytes[h.namesize - 1] !== 0) throw new FormatError('cpio', `header at offset ${at}: name is not NUL-terminated`);
    await inp.skip(pad4(inp.offset), 'name padding');
    const raw = utf8.decode(nameBytes.subarray(0, h.namesize - 1));

    if (raw === TRAILER) {
      await inp.skip(h.filesize + pad4(h.filesize), 'trailer data');
      yield { type: 'trailer' };
      await inp.skipZeros();
      if (await inp.atEnd()) return;
      continue;
    }

    const kind = kindFromIfmt(h.mode);
    if (!kind) throw new FormatError('cpio', `${JSON.stringify(raw)}: unknown file type in mode 0${h.mode.toString(8)}`);
    const path = safePath(raw);
    if (path !== '') guard.check(path, kind);
    const meta: EntryMeta = { path, kind, mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime: h.mtime, size: 0 };
    const padded = h.filesize + pad4(h.filesize);

    if (kind === 'file') {
      meta.size = h.filesize;
      const dataOffset = inp.offset;
      if (path === '') safeMemberPath(raw);
      yield { type: 'entry', meta, header: h, dataSize: h.filesize, dataOffset };
      if (inp.offset !== dataOffset + h.filesize) throw new Error('cpio scan: file data was not consumed');
      await inp.skip(pad4(h.filesize), 'data padding');
      continue;
    }

    if (kind === 'symlink') {
      if (h.filesize < 1 || h.filesize > MAX_NAME) throw new FormatError('cpio', `symlink ${JSON.stringify(raw)}: target length ${h.filesize} out of range 1..${MAX_NAME}`);
      const target = await inp.readExact(h.filesize, 'symlink target');
      if (target.includes(0)) throw new FormatError('cpio', `symlink ${JSON.stringify(raw)}: target contains NUL`);
      meta.linkname = utf8.decode(target);
      await inp.skip(pad4(h.filesize), 'data padding');
    } else {
      // Directories and special files carry no data; tolerate (and skip) any a writer left.
      await inp.skip(padded, 'member data');
      if (kind === 'char' || kind === 'block') {
        meta.devmajor = h.rdevmajor;
        meta.devminor = h.rdevminor;
      }
    }
    if (path === '') {
      if (kind !== 'dir') safeMemberPath(raw);
      yield { type: 'root' };
      continue;
    }
    yield { type: 'entry', meta, header: h, dataSize: 0, dataOffset: inp.offset };
  }
}
