import { Fields } from './bytes.js';
import { squashError } from './errors.js';

export type Compressor = 'gzip' | 'lzma' | 'lzo' | 'xz' | 'lz4' | 'zstd';
const COMPRESSORS: Record<number, Compressor> = { 1: 'gzip', 2: 'lzma', 3: 'lzo', 4: 'xz', 5: 'lz4', 6: 'zstd' };

export const SUPERBLOCK_SIZE = 96;
const MAGIC = 0x73717368; // "hsqs" read little-endian

export interface Superblock {
  inodeCount: number;
  mkfsTime: number;
  blockSize: number;
  blockLog: number;
  fragmentCount: number;
  compressor: Compressor;
  flags: number;
  idCount: number;
  rootInode: { block: number; offset: number };
  bytesUsed: number;
  idTableStart: number;
  inodeTableStart: number;
  directoryTableStart: number;
  fragmentTableStart: number;
}

export function parseSuperblock(bytes: Uint8Array, imageSize: number): Superblock {
  if (bytes.length < SUPERBLOCK_SIZE) throw squashError(`image is ${bytes.length} bytes, smaller than a superblock`);
  const f = new Fields(bytes, 'superblock');
  if (f.u32(0) !== MAGIC) throw squashError('not a squashfs image (bad magic)');
  const major = f.u16(28);
  const minor = f.u16(30);
  if (major !== 4 || minor !== 0) throw squashError(`version ${major}.${minor} is not supported (dbco reads 4.0)`);
  const compId = f.u16(20);
  const compressor = COMPRESSORS[compId];
  if (!compressor) throw squashError(`unknown compressor id ${compId}`);
  const blockSize = f.u32(12);
  const blockLog = f.u16(22);
  if (blockLog < 12 || blockLog > 20 || blockSize !== 2 ** blockLog) {
    throw squashError(`block size ${blockSize} (log ${blockLog}) is not a power of two between 4 KiB and 1 MiB`);
  }
  const bytesUsed = f.u64(40);
  if (bytesUsed > imageSize) throw squashError(`image is truncated: superblock says ${bytesUsed} bytes, have ${imageSize}`);
  const rootRef = f.u64(32);
  const sb: Superblock = {
    inodeCount: f.u32(4),
    mkfsTime: f.u32(8),
    blockSize,
    blockLog,
    fragmentCount: f.u32(16),
    compressor,
    flags: f.u16(24),
    idCount: f.u16(26),
    rootInode: { block: Math.floor(rootRef / 0x10000), offset: rootRef % 0x10000 },
    bytesUsed,
    idTableStart: f.u64(48),
    inodeTableStart: f.u64(64),
    directoryTableStart: f.u64(72),
    fragmentTableStart: f.u64(80),
  };
  for (const [name, at] of [['inode table', sb.inodeTableStart], ['directory table', sb.directoryTableStart], ['id table', sb.idTableStart]] as const) {
    if (at < SUPERBLOCK_SIZE || at >= bytesUsed) throw squashError(`${name} start ${at} lies outside the image (${bytesUsed} bytes)`);
  }
  if (sb.inodeTableStart >= sb.directoryTableStart) throw squashError('inode table does not precede the directory table');
  if (sb.fragmentCount > 0 && (sb.fragmentTableStart < SUPERBLOCK_SIZE || sb.fragmentTableStart >= bytesUsed)) {
    throw squashError(`fragment table start ${sb.fragmentTableStart} lies outside the image`);
  }
  if (sb.idCount === 0) throw squashError('id table is empty');
  return sb;
}
