/**
 * In-process squashfs 4.0 reader: superblock, id and fragment tables, inode and directory tables,
 * file data read block by block from a ByteSource. Pure: bytes in, entries out.
 * Layout learned from squashfs-tools (squashfs_fs.h) and the kernel's fs/squashfs.
 */
import type { Entry } from '../entry.js';
import type { ByteSource } from '../source.js';
import { readExact } from './bytes.js';
import { decompressorFor, type ReadBlockRun } from './decompress.js';
import { readDirectory, type DirEntry } from './directory.js';
import { squashError } from './errors.js';
import { DataReader } from './file-data.js';
import { readInode, type Inode, type InodeRef } from './inode.js';
import { MetadataReader } from './metadata.js';
import { parseSuperblock, SUPERBLOCK_SIZE, type Superblock } from './superblock.js';
import { FragmentTable, readIdTable } from './tables.js';

export interface SquashfsInfo {
  compressor: 'gzip' | 'lzma' | 'lzo' | 'xz' | 'lz4' | 'zstd';
  blockSize: number;
  inodeCount: number;
  bytesUsed: number;
  flags: number;
  mkfsTime: number;
}

export interface Squashfs {
  info: SquashfsInfo;
  entries(): AsyncIterable<Entry>;
}

/** Deeper trees than this are refused: a guard against corrupt images, far past real ones. */
const MAX_DEPTH = 1024;

export type { BlockRun, BlockRunResult, ReadBlockRun } from './decompress.js';

export interface SquashfsOptions {
  /**
   * Reads and inflates runs of file data blocks of a gzip image elsewhere (worker threads reading the
   * same file, see src/io/block-pool.ts). Without it every block is read and inflated inline.
   */
  readBlockRun?: ReadBlockRun;
}

export async function openSquashfs(src: ByteSource, options: SquashfsOptions = {}): Promise<Squashfs> {
  if (src.size < SUPERBLOCK_SIZE) throw squashError(`image is ${src.size} bytes, smaller than a superblock`);
  const sb = parseSuperblock(await readExact(src, 0, SUPERBLOCK_SIZE, 'superblock'), src.size);
  const decompress = decompressorFor(sb.compressor);
  const meta = new MetadataReader(src, decompress, sb.bytesUsed);
  const ids = await readIdTable(src, meta, sb);
  const fragments = await FragmentTable.open(src, meta, sb);
  const data = new DataReader(src, sb, decompress, fragments, sb.compressor === 'gzip' ? options.readBlockRun : undefined);
  return {
    info: {
      compressor: sb.compressor,
      blockSize: sb.blockSize,
      inodeCount: sb.inodeCount,
      bytesUsed: sb.bytesUsed,
      flags: sb.flags,
      mkfsTime: sb.mkfsTime,
    },
    entries: () => walk(meta, sb, ids, data),
  };
}

function refKey(ref: InodeRef): number {
  return ref.block * 0x10000 + ref.offset;
}

interface Frame {
  prefix: string;
  list: DirEntry[];
  next: number;
}

/** Pre-order walk with an explicit stack, so deep trees cost no nested generators. */
async function* walk(meta: MetadataReader, sb: Superblock, ids: Uint32Array, data: DataReader): AsyncGenerator<Entry> {
  const root = await readInode(meta, sb, ids, sb.rootInode);
  if (root.kind !== 'dir') throw squashError(`root inode is a ${root.kind}, not a directory`);
  // Each directory inode may be entered once: a corrupt image could otherwise loop forever.
  const visited = new Set<number>([refKey(sb.rootInode)]);
  const firstPath = new Map<number, string>();
  const stack: Frame[] = [{ prefix: '', list: await readDirectory(meta, sb, root.dir!, '/'), next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.list.length) {
      stack.pop();
      continue;
    }
    const e = frame.list[frame.next++]!;
    const path = frame.prefix === '' ? e.name : `${frame.prefix}/${e.name}`;
    const inode = await readInode(meta, sb, ids, e.ref);
    if (inode.kind === 'dir') {
      const key = refKey(e.ref);
      if (visited.has(key)) throw squashError(`${path}: directory is reached twice (loop in the directory table)`);
      if (stack.length >= MAX_DEPTH) throw squashError(`${path}: directories nest deeper than ${MAX_DEPTH} levels`);
      visited.add(key);
      yield toEntry(inode, path, data);
      stack.push({ prefix: path, list: await readDirectory(meta, sb, inode.dir!, path), next: 0 });
      continue;
    }
    if (inode.nlink > 1) {
      const first = firstPath.get(inode.number);
      if (first !== undefined) {
        yield { path, kind: 'hardlink', mode: inode.mode, uid: inode.uid, gid: inode.gid, mtime: inode.mtime, size: 0, linkname: first };
        continue;
      }
      firstPath.set(inode.number, path);
    }
    yield toEntry(inode, path, data);
  }
}

function toEntry(inode: Inode, path: string, data: DataReader): Entry {
  const entry: Entry = {
    path,
    kind: inode.kind,
    mode: inode.mode,
    uid: inode.uid,
    gid: inode.gid,
    mtime: inode.mtime,
    size: inode.file ? inode.file.size : 0,
  };
  if (inode.file) {
    const file = inode.file;
    entry.open = () => data.read(file, path);
  }
  if (inode.target !== undefined) entry.linkname = inode.target;
  if (inode.devmajor !== undefined) {
    entry.devmajor = inode.devmajor;
    entry.devminor = inode.devminor!;
  }
  return entry;
}
