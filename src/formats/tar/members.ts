import { FormatError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { safePath } from '../path.js';
import { BLOCK, checksum, F, fieldBytes, numField } from './header.js';

/** Where a regular file's body lies in a tar. */
export interface TarMember {
  offset: number;
  size: number;
}

const utf8 = new TextDecoder('utf-8');
const MAX_META = 1024 * 1024;

/** The `path` and `size` records of a pax header; other keys do not move bodies. */
function paxPathAndSize(data: Uint8Array): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(32, at);
    const len = sp > at ? Number(utf8.decode(data.subarray(at, sp))) : NaN;
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) throw new FormatError('tar', 'bad pax record');
    const rec = utf8.decode(data.subarray(sp + 1, at + len - 1));
    const eq = rec.indexOf('=');
    if (rec.slice(0, eq) === 'path') out.path = rec.slice(eq + 1);
    if (rec.slice(0, eq) === 'size') out.size = Number(rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/**
 * Indexes the regular files of a tar by path without reading their bodies: headers only, read at
 * their offsets. For archives used as random-access stores (an OCI layout in a tar), where a blob
 * is then streamed from its offset and reading the whole archive just to find one member would cost
 * the archive's size in I/O. ustar, pax `x` path/size and GNU long names.
 */
export async function indexTarMembers(src: ByteSource): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  let at = 0;
  let longName: string | undefined;
  let pax: { path?: string; size?: number } = {};
  while (at + BLOCK <= src.size) {
    const h = await src.read(at, BLOCK);
    if (h.length < BLOCK) throw new FormatError('tar', `truncated header at offset ${at}`);
    if (h.every((b) => b === 0)) break;
    const stored = numField(h, F.chksum, 'chksum', at);
    const sum = checksum(h);
    if (stored !== sum.unsigned && stored !== sum.signed) throw new FormatError('tar', `header at offset ${at}: checksum mismatch`);
    const type = String.fromCharCode(h[F.typeflag[0]]!);
    let size = numField(h, F.size, 'size', at);
    const body = at + BLOCK;
    const next = body + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === 'x' || type === 'L') {
      if (size > MAX_META) throw new FormatError('tar', `extended header at offset ${at} is ${size} bytes`);
      const data = await src.read(body, size);
      if (type === 'x') pax = paxPathAndSize(data);
      else longName = utf8.decode(data.subarray(0, data.indexOf(0) < 0 ? data.length : data.indexOf(0)));
      at = next;
      continue;
    }
    if (type === '0' || type === '\0' || type === '7') {
      const posix = utf8.decode(fieldBytes(h, F.magic)) === 'ustar';
      const name = utf8.decode(fieldBytes(h, F.name));
      const prefix = posix ? utf8.decode(fieldBytes(h, F.prefix)) : '';
      const raw = pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
      if (pax.size !== undefined) size = pax.size;
      if (body + size > src.size) throw new FormatError('tar', `${JSON.stringify(raw)}: body runs past the end of the archive`);
      members.set(safePath(raw), { offset: body, size });
      at = body + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    } else {
      at = next;
    }
    pax = {};
    longName = undefined;
  }
  return members;
}
