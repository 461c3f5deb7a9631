import { Fields, decodeName } from './bytes.js';
import { squashError } from './errors.js';
import type { DirListing, InodeRef } from './inode.js';
import type { MetadataReader } from './metadata.js';
import type { Superblock } from './superblock.js';

export interface DirEntry {
  name: string;
  ref: InodeRef;
}

/** squashfs-tools never writes more than 256 entries under one header. */
const MAX_HEADER_COUNT = 256;
const SLASH = 0x2f;

/**
 * Decodes one directory's listing in stored order. The listing is a run of headers (inode block and
 * base number) each followed by its entries; the index of extended directories is a lookup aid only
 * and is not needed to list everything.
 */
export async function readDirectory(meta: MetadataReader, sb: Superblock, listing: DirListing, where: string): Promise<DirEntry[]> {
  if (listing.size === 0) return [];
  const pos = sb.directoryTableStart + listing.block;
  if (pos >= sb.bytesUsed) throw squashError(`${where}: directory listing at ${listing.block} lies outside the image`);
  const cur = await meta.cursor(pos, listing.offset);
  const out: DirEntry[] = [];
  const seen = new Set<string>();
  let left = listing.size;
  while (left > 0) {
    if (left < 12) throw squashError(`${where}: directory listing ends inside a header`);
    const h = new Fields(await cur.take(12), `${where} directory header`);
    left -= 12;
    const count = h.u32(0) + 1;
    if (count > MAX_HEADER_COUNT) throw squashError(`${where}: directory header counts ${count} entries (at most ${MAX_HEADER_COUNT})`);
    const block = h.u32(4);
    for (let i = 0; i < count; i++) {
      if (left < 8) throw squashError(`${where}: directory listing ends inside an entry`);
      const e = new Fields(await cur.take(8), `${where} directory entry`);
      const nameLen = e.u16(6) + 1;
      left -= 8;
      if (nameLen > 256 || nameLen > left) throw squashError(`${where}: directory entry name of ${nameLen} bytes overruns the listing`);
      const raw = await cur.take(nameLen);
      left -= nameLen;
      if (raw.includes(SLASH) || raw.includes(0)) throw squashError(`${where}: entry name ${JSON.stringify(decodeName(raw))} contains '/' or NUL`);
      const name = decodeName(raw);
      if (name === '.' || name === '..') throw squashError(`${where}: entry name ${JSON.stringify(name)} is not allowed`);
      if (seen.has(name)) throw squashError(`${where}: entry name ${JSON.stringify(name)} appears twice`);
      seen.add(name);
      out.push({ name, ref: { block, offset: e.u16(0) } });
    }
  }
  return out;
}
