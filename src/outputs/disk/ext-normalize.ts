/**
 * Applies the pure ext normalization (src/formats/disk/ext.ts) to a partition inside a disk file:
 * superblock mount fields and every in-use inode's timestamps. Run after mke2fs (host ctimes leak in)
 * and after the Packer boot (mount count, atimes, the chown/touch of tce-setup), so a boot that wrote
 * nothing leaves the disk byte-identical.
 */
import { open } from 'node:fs/promises';
import {
  SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, fileBlocks, gdtLength, inodeLocation, inodeTables, journalInode, normalizeInodeTimes,
  normalizeJournalSuperblock, normalizeSuperblock, parseSuperblock, specialInodes, type ExtInfo, type GroupTable, type SpecialInode,
} from '../../formats/disk/ext.js';
import type { FileHandle } from 'node:fs/promises';

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, pos);
  return bytesRead === len ? buf : buf.subarray(0, bytesRead);
}

export async function readExtInfo(file: string, partOffset: number): Promise<ExtInfo> {
  const fh = await open(file, 'r');
  try {
    return parseSuperblock(await readAt(fh, partOffset + SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE));
  } finally {
    await fh.close();
  }
}

/**
 * ext3/ext4: a boot leaves its transactions in the journal and bumps the sequence. After a clean
 * unmount nothing there is replayed, so the log goes back to zeros and the sequence to 1, as mke2fs made it.
 */
async function normalizeJournal(fh: FileHandle, partOffset: number, sb: Uint8Array, info: ExtInfo, tables: GroupTable[]): Promise<boolean | undefined> {
  const ino = journalInode(sb);
  if (ino === 0) return undefined;
  const readBlock = (n: number): Promise<Buffer> => readAt(fh, partOffset + n * info.blockSize, info.blockSize);
  const loc = inodeLocation(tables, info, ino);
  const inode = await readAt(fh, partOffset + loc.tableBlock * info.blockSize + loc.offset, info.inodeSize);
  const blocks = await fileBlocks(inode, info, readBlock);
  if (blocks.length === 0) return undefined;
  const jsb = await readBlock(blocks[0]!);
  const state = normalizeJournalSuperblock(jsb);
  if (!state.clean) return false;
  await fh.write(jsb, 0, jsb.length, partOffset + blocks[0]! * info.blockSize);
  const zero = Buffer.alloc(info.blockSize);
  for (let i = state.first; i < Math.min(state.maxlen, blocks.length); i++) {
    const b = await readBlock(blocks[i]!);
    if (!b.equals(zero)) await fh.write(zero, 0, zero.length, partOffset + blocks[i]! * info.blockSize);
  }
  return true;
}

export async function normalizeExtPartition(file: string, partOffset: number, epoch: number): Promise<{ inodes: number; superblock: boolean; journal?: boolean }> {
  const fh = await open(file, 'r+');
  try {
    const sb = await readAt(fh, partOffset + SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
    const info = parseSuperblock(sb);
    const gdtBlock = info.firstDataBlock + 1;
    const gdt = await readAt(fh, partOffset + gdtBlock * info.blockSize, gdtLength(info));
    let inodes = 0;
    const tables = inodeTables(gdt, info);
    for (const t of tables) {
      if (t.inodes === 0) continue;
      const pos = partOffset + t.inodeTableBlock * info.blockSize;
      const table = await readAt(fh, pos, t.inodes * info.inodeSize);
      const n = normalizeInodeTimes(table, info.inodeSize, epoch);
      if (n > 0) {
        await fh.write(table, 0, table.length, pos);
        inodes += n;
      }
    }
    const journal = await normalizeJournal(fh, partOffset, sb, info, tables);
    const changed = normalizeSuperblock(sb, epoch);
    if (changed) await fh.write(sb, 0, SUPERBLOCK_SIZE, partOffset + SUPERBLOCK_OFFSET);
    return { inodes, superblock: changed, journal };
  } finally {
    await fh.close();
  }
}

/** Every in-use inode of the partition that a copy through a plain folder would not carry as it is. */
export async function scanSpecialInodes(file: string, partOffset: number): Promise<SpecialInode[]> {
  const fh = await open(file, 'r');
  try {
    const info = parseSuperblock(await readAt(fh, partOffset + SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE));
    const gdt = await readAt(fh, partOffset + (info.firstDataBlock + 1) * info.blockSize, gdtLength(info));
    const out: SpecialInode[] = [];
    for (const t of inodeTables(gdt, info)) {
      if (t.inodes === 0) continue;
      const table = await readAt(fh, partOffset + t.inodeTableBlock * info.blockSize, t.inodes * info.inodeSize);
      out.push(...specialInodes(table, info.inodeSize, t.group * info.inodesPerGroup + 1, info.firstIno));
    }
    return out;
  } finally {
    await fh.close();
  }
}
