import { FormatError, UnsafePathError } from '../../errors.js';
import type { EntryKind, EntryMeta } from '../entry.js';
import { safePath, SymlinkGuard } from '../path.js';
import { BodyStream, ChunkReader, type StreamEntry } from '../stream-reader.js';
import { BLOCK, checksum, F, fieldBytes, numField } from './header.js';

/** Bounds for metadata blocks whose size comes from the archive itself. */
const MAX_LONGNAME = 64 * 1024;
const MAX_PAX = 1024 * 1024;

const utf8 = new TextDecoder('utf-8');
const EMPTY_BODY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };
const KINDS: Record<string, EntryKind> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

function parsePax(data: Uint8Array, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    let sp = at;
    while (sp < data.length && data[sp]! >= 48 && data[sp]! <= 57) sp++;
    if (sp === at || sp - at > 8 || data[sp] !== 32) throw new FormatError('tar', `pax header at offset ${offset}: bad record length`);
    const len = Number(utf8.decode(data.subarray(at, sp)));
    if (len <= sp - at + 1 || at + len > data.length || data[at + len - 1] !== 10) throw new FormatError('tar', `pax header at offset ${offset}: bad record`);
    const rec = data.subarray(sp + 1, at + len - 1);
    const eq = rec.indexOf(61);
    if (eq <= 0) throw new FormatError('tar', `pax header at offset ${offset}: record without key`);
    out.set(utf8.decode(rec.subarray(0, eq)), utf8.decode(rec.subarray(eq + 1)));
    at += len;
  }
  return out;
}

function paxNumber(v: string, key: string, offset: number, fractional = false): number {
  const m = fractional ? /^-?\d+(\.\d*)?$/.exec(v) : /^\d+$/.exec(v);
  const n = m ? Math.trunc(Number(v)) : NaN;
  if (!Number.isSafeInteger(n)) throw new FormatError('tar', `pax header at offset ${offset}: ${key}=${JSON.stringify(v)} is not a valid number`);
  return n;
}

/** Reads ustar, POSIX pax (x/g) and GNU (L/K longnames, base-256 numbers) archives. Sparse and multi-volume are refused. */
export async function* readTar(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<StreamEntry> {
  const r = new ChunkReader(chunks, 'tar');
  try {
    yield* tarEntries(r);
  } finally {
    await r.close();
  }
}

async function* tarEntries(r: ChunkReader): AsyncGenerator<StreamEntry> {
  const guard = new SymlinkGuard();
  const global = new Map<string, string>();
  let local = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let sawHeader = false;

  const readMeta = async (size: number, limit: number, what: string): Promise<Uint8Array> => {
    if (size > limit) throw new FormatError('tar', `${what} at offset ${r.offset} is ${size} bytes, limit ${limit}`);
    const data = await r.readExact(size, what);
    await r.skip((BLOCK - (size % BLOCK)) % BLOCK, `${what} padding`);
    return data;
  };

  for (;;) {
    const at = r.offset;
    const h = await r.readUpTo(BLOCK);
    if (h.length === 0) {
      if (!sawHeader) throw new FormatError('tar', 'empty input: no tar header');
      // Missing end-of-archive blocks: GNU tar accepts this too; only mid-entry truncation is an error.
      if (longName !== undefined || longLink !== undefined || local.size) throw new FormatError('tar', `archive ends after an extended header at offset ${at}`);
      return;
    }
    if (h.length < BLOCK) throw new FormatError('tar', `truncated header at offset ${at}`);
    if (h.every((b) => b === 0)) {
      // Two zero blocks and nothing before them is a valid empty archive (POSIX; GNU tar writes one for
      // `tar cf x.tar -T /dev/null`, and dbco's writer for an extension that installs no file). One zero
      // block followed by data is not: that is damage, not an archive.
      if (!sawHeader) {
        const next = await r.readUpTo(BLOCK);
        if (next.length !== BLOCK || !next.every((b) => b === 0)) throw new FormatError('tar', 'archive starts with a single end-of-archive block');
      }
      return; // end of archive; whatever follows (second zero block, record padding) is ignored
    }
    const stored = numField(h, F.chksum, 'chksum', at);
    const sum = checksum(h);
    if (stored !== sum.unsigned && stored !== sum.signed) throw new FormatError('tar', `header at offset ${at}: checksum mismatch`);
    sawHeader = true;

    const type = String.fromCharCode(h[F.typeflag[0]]!);
    const magic = fieldBytes(h, F.magic);
    const posix = magic.length === 5 && utf8.decode(magic) === 'ustar' && h[263] === 48 && h[264] === 48;
    let size = numField(h, F.size, 'size', at);

    if (type === 'x' || type === 'g') {
      const recs = parsePax(await readMeta(size, MAX_PAX, 'pax header'), at);
      if (recs.has('GNU.sparse.major') || recs.has('GNU.sparse.name') || recs.has('GNU.sparse.size')) throw new FormatError('tar', `header at offset ${at}: sparse files are not supported`);
      for (const [k, v] of recs) (type === 'g' ? global : local).set(k, v);
      continue;
    }
    if (type === 'L' || type === 'K') {
      const data = await readMeta(size, MAX_LONGNAME, type === 'L' ? 'GNU long name' : 'GNU long link');
      const nul = data.indexOf(0);
      const s = utf8.decode(nul < 0 ? data : data.subarray(0, nul));
      if (type === 'L') longName = s;
      else longLink = s;
      continue;
    }
    if (type === 'V') {
      await r.skip(size + ((BLOCK - (size % BLOCK)) % BLOCK), 'volume label');
      continue;
    }
    if (type === 'S' || type === 'M') throw new FormatError('tar', `header at offset ${at}: ${type === 'S' ? 'sparse' : 'multi-volume'} members are not supported`);

    const pax = new Map([...global, ...local]);
    local = new Map();
    let rawName: string;
    if (pax.has('path')) rawName = pax.get('path')!;
    else if (longName !== undefined) rawName = longName;
    else {
      const name = utf8.decode(fieldBytes(h, F.name));
      const prefix = posix ? utf8.decode(fieldBytes(h, F.prefix)) : '';
      rawName = prefix ? `${prefix}/${name}` : name;
    }
    const rawLink = pax.get('linkpath') ?? longLink ?? utf8.decode(fieldBytes(h, F.linkname));
    longName = longLink = undefined;

    let kind: EntryKind | undefined = type === 'D' ? 'dir' : KINDS[type];
    if (!kind) throw new FormatError('tar', `${JSON.stringify(rawName)}: unsupported type flag ${JSON.stringify(type)}`);
    // Pre-POSIX archives mark directories only by a trailing slash.
    if (kind === 'file' && rawName.endsWith('/') && type !== '7') kind = 'dir';
    if (pax.has('size')) size = paxNumber(pax.get('size')!, 'size', at);

    const path = safePath(rawName);
    if (path !== '') guard.check(path, kind);
    const meta: EntryMeta = {
      path,
      kind,
      mode: numField(h, F.mode, 'mode', at) & 0o7777,
      uid: pax.has('uid') ? paxNumber(pax.get('uid')!, 'uid', at) : numField(h, F.uid, 'uid', at),
      gid: pax.has('gid') ? paxNumber(pax.get('gid')!, 'gid', at) : numField(h, F.gid, 'gid', at),
      mtime: pax.has('mtime') ? paxNumber(pax.get('mtime')!, 'mtime', at, true) : numField(h, F.mtime, 'mtime', at),
      size: kind === 'file' ? size : 0,
    };
    if (kind === 'symlink') {
      if (!rawLink) throw new FormatError('tar', `symlink ${JSON.stringify(rawName)} has no target`);
      meta.linkname = rawLink;
    } else if (kind === 'hardlink') {
      meta.linkname = safePath(rawLink);
      if (meta.linkname === '') throw new UnsafePathError(rawLink, 'hard link to the archive root');
    } else if (kind === 'char' || kind === 'block') {
      meta.devmajor = numField(h, F.devmajor, 'devmajor', at);
      meta.devminor = numField(h, F.devminor, 'devminor', at);
    }
    // Types 1-6 never have data records whatever the size field says (POSIX); GNU dumpdirs ('D') do.
    const dataSize = type === '0' || type === '\0' || type === '7' || type === 'D' ? size : 0;
    if (path === '') {
      if (kind !== 'dir') throw new UnsafePathError(rawName, 'names the archive root or nothing');
      await r.skip(dataSize + ((BLOCK - (dataSize % BLOCK)) % BLOCK), 'member data');
      continue;
    }
    const body = new BodyStream(r, dataSize, path);
    yield { entry: meta, body: kind === 'file' ? body.iterable() : EMPTY_BODY };
    await body.finish();
    await r.skip((BLOCK - (dataSize % BLOCK)) % BLOCK, 'data padding');
  }
}
