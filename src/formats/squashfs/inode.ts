import type { EntryKind } from '../entry.js';
import { Fields, decodeName } from './bytes.js';
import { squashError } from './errors.js';
import { METADATA_SIZE, type MetadataReader } from './metadata.js';
import type { Superblock } from './superblock.js';

export interface InodeRef {
  /** Offset of the metadata block, relative to the inode table start. */
  block: number;
  /** Offset in the decoded block. */
  offset: number;
}

export interface DirListing {
  /** Offset of the first metadata block, relative to the directory table start. */
  block: number;
  offset: number;
  /** Bytes of listing (the stored size counts 3 more, for the '.' and '..' no listing holds). */
  size: number;
}

export interface FileLayout {
  blocksStart: number;
  size: number;
  /** 0xffffffff when the file has no fragment tail. */
  fragment: number;
  fragmentOffset: number;
  /** On-disk size word of each full block (bit 24: stored uncompressed; 0: sparse). */
  blockSizes: Uint32Array;
}

export interface Inode {
  kind: Exclude<EntryKind, 'hardlink'>;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  number: number;
  nlink: number;
  dir?: DirListing;
  file?: FileLayout;
  target?: string;
  devmajor?: number;
  devminor?: number;
}

const NO_FRAGMENT = 0xffffffff;
/** 16 Mi blocks is 64 GiB at 4 KiB blocks: far past any extension, and a cap on what corrupt sizes allocate. */
const MAX_BLOCKS = 1 << 24;
/** Longest symlink target Linux can hold. */
const MAX_TARGET = 4096;
/** Deflate cannot expand more than ~1032x; any list longer than that ratio allows cannot be present. */
const MAX_EXPANSION = 1100;

const KINDS: Record<number, Exclude<EntryKind, 'hardlink'>> = {
  1: 'dir', 2: 'file', 3: 'symlink', 4: 'block', 5: 'char', 6: 'fifo', 7: 'socket',
};

export async function readInode(meta: MetadataReader, sb: Superblock, ids: Uint32Array, ref: InodeRef): Promise<Inode> {
  const pos = sb.inodeTableStart + ref.block;
  if (pos >= sb.directoryTableStart || ref.offset >= METADATA_SIZE) {
    throw squashError(`inode reference ${ref.block}:${ref.offset} lies outside the inode table`);
  }
  const cur = await meta.cursor(pos, ref.offset);
  const where = `inode at ${ref.block}:${ref.offset}`;
  const h = new Fields(await cur.take(16), where);
  const type = h.u16(0);
  const kind = KINDS[type > 7 ? type - 7 : type];
  if (!kind) throw squashError(`${where} has unknown type ${type}`);
  const uidIdx = h.u16(4);
  const gidIdx = h.u16(6);
  if (uidIdx >= ids.length || gidIdx >= ids.length) throw squashError(`${where} names id index ${Math.max(uidIdx, gidIdx)}, the id table has ${ids.length}`);
  const inode: Inode = {
    kind,
    mode: h.u16(2) & 0o7777,
    uid: ids[uidIdx]!,
    gid: ids[gidIdx]!,
    mtime: h.u32(8),
    number: h.u32(12),
    nlink: 1,
  };
  const extended = type > 7;
  switch (kind) {
    case 'dir': {
      if (extended) {
        const f = new Fields(await cur.take(24), where);
        inode.nlink = f.u32(0);
        inode.dir = { size: f.u32(4), block: f.u32(8), offset: f.u16(18) };
      } else {
        const f = new Fields(await cur.take(16), where);
        inode.nlink = f.u32(4);
        inode.dir = { block: f.u32(0), size: f.u16(8), offset: f.u16(10) };
      }
      inode.dir.size = Math.max(0, inode.dir.size - 3);
      if (inode.dir.offset >= METADATA_SIZE) throw squashError(`${where}: directory offset ${inode.dir.offset} is out of range`);
      break;
    }
    case 'file': {
      let blocksStart: number, size: number, fragment: number, fragmentOffset: number;
      if (extended) {
        const f = new Fields(await cur.take(40), where);
        blocksStart = f.u64(0);
        size = f.u64(8);
        inode.nlink = f.u32(24);
        fragment = f.u32(28);
        fragmentOffset = f.u32(32);
      } else {
        const f = new Fields(await cur.take(16), where);
        blocksStart = f.u32(0);
        fragment = f.u32(4);
        fragmentOffset = f.u32(8);
        size = f.u32(12);
      }
      const count = fragment === NO_FRAGMENT ? Math.ceil(size / sb.blockSize) : Math.floor(size / sb.blockSize);
      const tableBytes = sb.directoryTableStart - sb.inodeTableStart;
      if (count > MAX_BLOCKS || count * 4 > tableBytes * MAX_EXPANSION) {
        throw squashError(`${where}: file size ${size} needs ${count} blocks, more than the inode table can list`);
      }
      if (blocksStart > sb.bytesUsed) throw squashError(`${where}: data start ${blocksStart} lies outside the image`);
      const list = new Fields(await cur.take(count * 4), `${where} block list`);
      const blockSizes = new Uint32Array(count);
      for (let i = 0; i < count; i++) blockSizes[i] = list.u32(i * 4);
      inode.file = { blocksStart, size, fragment, fragmentOffset, blockSizes };
      break;
    }
    case 'symlink': {
      const f = new Fields(await cur.take(8), where);
      inode.nlink = f.u32(0);
      const len = f.u32(4);
      if (len > MAX_TARGET) throw squashError(`${where}: symlink target of ${len} bytes is too long`);
      inode.target = decodeName(await cur.take(len));
      break;
    }
    case 'block':
    case 'char': {
      const f = new Fields(await cur.take(8), where);
      inode.nlink = f.u32(0);
      const dev = f.u32(4);
      inode.devmajor = (dev >>> 8) & 0xfff;
      inode.devminor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
      break;
    }
    default: {
      const f = new Fields(await cur.take(4), where);
      inode.nlink = f.u32(0);
    }
  }
  return inode;
}
