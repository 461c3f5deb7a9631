/**
 * The few ext2/3/4 structures dbco rewrites so a disk is reproducible: superblock fields the kernel
 * changes on every mount, and inode timestamps (mke2fs -d copies the staging files' host ctimes; a boot
 * updates atimes/ctimes). Pure: the caller reads the blocks and writes them back.
 * Layout from the ext4 on-disk format documentation (kernel.org, Documentation/filesystems/ext4).
 */
import { FormatError } from '../../errors.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
const EXT_MAGIC = 0xef53;
const INCOMPAT_64BIT = 0x80;
const RO_COMPAT_METADATA_CSUM = 0x400;
const BG_INODE_UNINIT = 0x1;

export interface ExtInfo {
  blockSize: number;
  blocksCount: number;
  inodesCount: number;
  inodesPerGroup: number;
  inodeSize: number;
  /** s_first_ino: inodes below it are reserved. */
  firstIno: number;
  firstDataBlock: number;
  groupCount: number;
  descSize: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: string;
  label: string;
}

function u32(v: DataView, o: number): number { return v.getUint32(o, true); }
function u16(v: DataView, o: number): number { return v.getUint16(o, true); }
function viewOf(b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength); }

function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }

export function parseSuperblock(sb: Uint8Array): ExtInfo {
  if (sb.length < SUPERBLOCK_SIZE) throw new FormatError('ext', 'superblock truncated');
  const v = viewOf(sb);
  if (u16(v, 0x38) !== EXT_MAGIC) throw new FormatError('ext', `bad superblock magic 0x${u16(v, 0x38).toString(16)}`);
  const blockSize = 1024 << u32(v, 0x18);
  const blocksCount = u32(v, 0x04);
  const inodesPerGroup = u32(v, 0x28);
  const blocksPerGroup = u32(v, 0x20);
  const firstDataBlock = u32(v, 0x14);
  const rev = u32(v, 0x4c);
  const inodeSize = rev === 0 ? 128 : u16(v, 0x58);
  const featureIncompat = u32(v, 0x60);
  const descSize = featureIncompat & INCOMPAT_64BIT ? Math.max(32, u16(v, 0xfe)) : 32;
  if (featureIncompat & INCOMPAT_64BIT && u32(v, 0x150) !== 0) throw new FormatError('ext', 'filesystems over 2^32 blocks are not supported');
  const id = sb.subarray(0x68, 0x78);
  const uuid = `${hex(id.subarray(0, 4))}-${hex(id.subarray(4, 6))}-${hex(id.subarray(6, 8))}-${hex(id.subarray(8, 10))}-${hex(id.subarray(10, 16))}`;
  const labelBytes = sb.subarray(0x78, 0x88);
  const end = labelBytes.indexOf(0);
  return {
    blockSize,
    blocksCount,
    inodesCount: u32(v, 0x00),
    inodesPerGroup,
    inodeSize,
    firstIno: rev === 0 ? 11 : u32(v, 0x54),
    firstDataBlock,
    groupCount: Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup),
    descSize,
    featureCompat: u32(v, 0x5c),
    featureIncompat,
    featureRoCompat: u32(v, 0x64),
    uuid,
    label: Buffer.from(end < 0 ? labelBytes : labelBytes.subarray(0, end)).toString('latin1'),
  };
}

function refuseChecksums(info: ExtInfo): void {
  // dbco makes its filesystems without metadata_csum; patching checksummed structures would need crc32c.
  if (info.featureRoCompat & RO_COMPAT_METADATA_CSUM) throw new FormatError('ext', 'metadata_csum filesystems cannot be normalized');
}

/**
 * Resets what a mount changes (mount/write times, mount count, state, last-mounted path, kbytes
 * written) to the values of a freshly made, never-mounted filesystem at `epoch`. Returns whether anything changed.
 */
export function normalizeSuperblock(sb: Uint8Array, epoch: number): boolean {
  const info = parseSuperblock(sb);
  refuseChecksums(info);
  const before = Uint8Array.from(sb.subarray(0, SUPERBLOCK_SIZE));
  const v = viewOf(sb);
  v.setUint32(0x2c, 0, true); // s_mtime: never mounted
  v.setUint32(0x30, epoch, true); // s_wtime
  v.setUint16(0x34, 0, true); // s_mnt_count
  v.setUint16(0x3a, 1, true); // s_state: cleanly unmounted
  v.setUint32(0x40, epoch, true); // s_lastcheck
  sb.fill(0, 0x88, 0x88 + 64); // s_last_mounted
  v.setUint32(0x108, epoch, true); // s_mkfs_time
  v.setBigUint64(0x178, 0n, true); // s_kbytes_written
  sb.fill(0, 0x274, 0x278); // s_wtime_hi, s_mtime_hi, s_mkfs_time_hi, s_lastcheck_hi
  return !Buffer.from(before).equals(Buffer.from(sb.subarray(0, SUPERBLOCK_SIZE)));
}

export interface GroupTable {
  group: number;
  inodeTableBlock: number;
  /** Inodes to visit: all of them, or none when the group's table was never initialised. */
  inodes: number;
}

/** Inode table locations from the group descriptor table bytes (starting at the first descriptor). */
export function inodeTables(gdt: Uint8Array, info: ExtInfo): GroupTable[] {
  const v = viewOf(gdt);
  const out: GroupTable[] = [];
  for (let g = 0; g < info.groupCount; g++) {
    const o = g * info.descSize;
    if (o + 32 > gdt.length) throw new FormatError('ext', `group descriptor table truncated at group ${g}`);
    let table = u32(v, o + 0x08);
    if (info.descSize >= 64) table += u32(v, o + 0x28) * 2 ** 32;
    const flags = u16(v, o + 0x12);
    out.push({ group: g, inodeTableBlock: table, inodes: flags & BG_INODE_UNINIT ? 0 : info.inodesPerGroup });
  }
  return out;
}

/** Byte length of the group descriptor table. */
export function gdtLength(info: ExtInfo): number {
  return info.groupCount * info.descSize;
}

/**
 * Sets every written inode's atime/ctime/mtime (and crtime, with the sub-second extra fields zeroed)
 * to `epoch`, a deleted inode's dtime to `epoch` too, and every generation number (random for each
 * inode a running kernel creates: NFS file handles use it) to 0, as mke2fs leaves it, in place.
 * Written = any non-zero byte: besides in-use inodes that covers reserved ones with no links (mke2fs
 * stamps the bad-blocks inode with the clock) and deleted ones; never-used inodes stay all zero.
 * Returns how many changed.
 */
export function normalizeInodeTimes(table: Uint8Array, inodeSize: number, epoch: number): number {
  const v = viewOf(table);
  let changed = 0;
  for (let o = 0; o + inodeSize <= table.length; o += inodeSize) {
    if (table.subarray(o, o + inodeSize).every((b) => b === 0)) continue;
    const before = Buffer.from(table.subarray(o, o + inodeSize));
    v.setUint32(o + 0x08, epoch, true); // i_atime
    v.setUint32(o + 0x0c, epoch, true); // i_ctime
    v.setUint32(o + 0x10, epoch, true); // i_mtime
    if (u32(v, o + 0x14) !== 0) v.setUint32(o + 0x14, epoch, true); // i_dtime: set only on deleted inodes
    v.setUint32(o + 0x64, 0, true); // i_generation
    if (inodeSize > 128) {
      const extra = u16(v, o + 0x80);
      if (extra >= 0x08) v.setUint32(o + 0x84, 0, true); // i_ctime_extra
      if (extra >= 0x0c) v.setUint32(o + 0x88, 0, true); // i_mtime_extra
      if (extra >= 0x10) v.setUint32(o + 0x8c, 0, true); // i_atime_extra
      if (extra >= 0x14) v.setUint32(o + 0x90, epoch, true); // i_crtime
      if (extra >= 0x18) v.setUint32(o + 0x94, 0, true); // i_crtime_extra
    }
    if (!before.equals(table.subarray(o, o + inodeSize))) changed++;
  }
  return changed;
}

/** What a copy of the tree through a plain folder (debugfs rdump, mke2fs -d) would lose. */
export interface SpecialInode {
  ino: number;
  kind: 'hardlink' | 'char' | 'block' | 'fifo' | 'socket' | 'xattr' | 'setid' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  /** Devices: major and minor. */
  major?: number;
  minor?: number;
}

const S_IFMT = 0xf000;
const KINDS: Record<number, SpecialInode['kind']> = { 0x2000: 'char', 0x6000: 'block', 0x1000: 'fifo', 0xc000: 'socket' };
const XATTR_MAGIC = 0xea020000;

/**
 * In-use inodes of one inode table (inode numbers from `firstIno`) that a folder copy does not carry
 * as they are: hard-linked files, device nodes, fifos, sockets, anything with extended attributes,
 * setuid/setgid files (a chown after the chmod clears those bits) and symlinks not owned by root.
 * `reservedBelow` is s_first_ino: reserved inodes (journal, resize) are mke2fs's own.
 */
export function specialInodes(table: Uint8Array, inodeSize: number, firstIno: number, reservedBelow: number): SpecialInode[] {
  const v = viewOf(table);
  const out: SpecialInode[] = [];
  for (let i = 0, o = 0; o + inodeSize <= table.length; i++, o += inodeSize) {
    const ino = firstIno + i;
    if (ino < reservedBelow && ino !== 2) continue;
    const mode = u16(v, o);
    if (mode === 0 || u16(v, o + 0x1a) === 0 || u32(v, o + 0x14) !== 0) continue; // free or deleted
    const uid = u16(v, o + 0x02) | (u16(v, o + 0x78) << 16);
    const gid = u16(v, o + 0x18) | (u16(v, o + 0x7a) << 16);
    const base = { ino, mode, uid, gid };
    const type = mode & S_IFMT;
    const kind = KINDS[type];
    if (kind) {
      // Old encoding (major and minor below 256) in i_block[0], the new one in i_block[1].
      const old = u32(v, o + 0x28);
      const neu = u32(v, o + 0x2c);
      const dev = kind === 'char' || kind === 'block'
        ? old !== 0 ? { major: (old >> 8) & 0xff, minor: old & 0xff } : { major: (neu >> 8) & 0xfff, minor: (neu & 0xff) | ((neu >> 12) & 0xfff00) }
        : {};
      out.push({ ...base, kind, ...dev });
      continue;
    }
    if (type !== 0x4000 && u16(v, o + 0x1a) > 1) out.push({ ...base, kind: 'hardlink' });
    if (type === 0x8000 && (mode & 0o6000) !== 0) out.push({ ...base, kind: 'setid' });
    if (type === 0xa000 && (uid !== 0 || gid !== 0)) out.push({ ...base, kind: 'symlink' });
    const extra = inodeSize > 128 ? u16(v, o + 0x80) : 0;
    const inInode = inodeSize > 128 && 0x80 + extra + 4 <= inodeSize && u32(v, o + 0x80 + extra) === XATTR_MAGIC;
    if (u32(v, o + 0x68) !== 0 || inInode) out.push({ ...base, kind: 'xattr' });
  }
  return out;
}

export { refuseChecksums };

const COMPAT_HAS_JOURNAL = 0x4;
const EXTENTS_FL = 0x80000;
const EXTENT_MAGIC = 0xf30a;
const JBD2_MAGIC = 0xc03b3998;

/** The journal inode number, or 0 when the filesystem has no internal journal (ext2). */
export function journalInode(sb: Uint8Array): number {
  const v = viewOf(sb);
  if ((u32(v, 0x5c) & COMPAT_HAS_JOURNAL) === 0) return 0;
  return u32(v, 0xe0);
}

/** Where inode `ino` (1-based) lies: the group's inode table block and the byte offset inside the table. */
export function inodeLocation(tables: GroupTable[], info: ExtInfo, ino: number): { tableBlock: number; offset: number } {
  const g = Math.floor((ino - 1) / info.inodesPerGroup);
  const t = tables[g];
  if (!t) throw new FormatError('ext', `inode ${ino} is beyond the last group`);
  return { tableBlock: t.inodeTableBlock, offset: ((ino - 1) % info.inodesPerGroup) * info.inodeSize };
}

/**
 * Physical blocks of a file in logical order, from its inode: extent trees (ext4) or direct/indirect
 * block maps (ext2/3). `readBlock` supplies the index/indirect blocks it must follow.
 */
export async function fileBlocks(inode: Uint8Array, info: ExtInfo, readBlock: (n: number) => Promise<Uint8Array>): Promise<number[]> {
  const v = viewOf(inode);
  const iBlock = inode.subarray(0x28, 0x28 + 60);
  const out: number[] = [];
  if (u32(v, 0x20) & EXTENTS_FL) {
    const walk = async (node: Uint8Array): Promise<void> => {
      const nv = viewOf(node);
      if (u16(nv, 0) !== EXTENT_MAGIC) throw new FormatError('ext', 'bad extent header magic');
      const entries = u16(nv, 2);
      const depth = u16(nv, 6);
      for (let i = 0; i < entries; i++) {
        const o = 12 + i * 12;
        if (depth === 0) {
          let len = u16(nv, o + 4);
          if (len > 32768) len -= 32768; // uninitialized extent: still the file's blocks
          const start = u16(nv, o + 6) * 2 ** 32 + u32(nv, o + 8);
          for (let b = 0; b < len; b++) out.push(start + b);
        } else {
          await walk(await readBlock(u32(nv, o + 4) + u16(nv, o + 8) * 2 ** 32));
        }
      }
    };
    await walk(iBlock);
    return out;
  }
  const per = info.blockSize / 4;
  const indirect = async (block: number, level: number): Promise<void> => {
    if (block === 0) return;
    if (level === 0) { out.push(block); return; }
    const b = viewOf(await readBlock(block));
    for (let i = 0; i < per; i++) {
      const n = u32(b, i * 4);
      if (n !== 0) await indirect(n, level - 1);
    }
  };
  const iv = viewOf(iBlock);
  for (let i = 0; i < 12; i++) await indirect(u32(iv, i * 4), 0);
  await indirect(u32(iv, 48), 1);
  await indirect(u32(iv, 52), 2);
  await indirect(u32(iv, 56), 3);
  return out;
}

export interface JournalState {
  /** true when the journal holds nothing to replay (s_start 0): only then is it normalized. */
  clean: boolean;
  /** First log block (s_first) and the journal length in blocks (s_maxlen). */
  first: number;
  maxlen: number;
}

/**
 * Resets a cleanly unmounted jbd2 journal's superblock to the state mke2fs leaves (sequence 1), in place.
 * The caller zeroes the log blocks [first, maxlen): with s_start 0 none of them is ever replayed, so
 * the old transactions a boot left there carry no information.
 */
export function normalizeJournalSuperblock(jsb: Uint8Array): JournalState {
  const v = new DataView(jsb.buffer, jsb.byteOffset, jsb.byteLength);
  if (v.getUint32(0, false) !== JBD2_MAGIC) throw new FormatError('ext', 'journal superblock magic missing');
  const first = v.getUint32(0x14, false);
  const maxlen = v.getUint32(0x10, false);
  if (v.getUint32(0x1c, false) !== 0) return { clean: false, first, maxlen };
  v.setUint32(0x18, 1, false); // s_sequence
  return { clean: true, first, maxlen };
}
