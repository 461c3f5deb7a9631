/**
 * Applies the pure ext normalization (src/formats/disk/ext.ts) to a partition inside a disk file:
 * superblock mount fields and every in-use inode's timestamps. Run after mke2fs (host ctimes leak in)
 * and after the Packer boot (mount count, atimes, the chown/touch of tce-setup), so a boot that wrote
 * nothing leaves the disk byte-identical.
 */
import { open } from 'node:fs/promises';
import {
  SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, gdtLength, inodeTables, normalizeInodeTimes, normalizeSuperblock, parseSuperblock,
  type ExtInfo,
} from '../../formats/disk/ext.js';

async function readAt(fh: import('node:fs/promises').FileHandle, pos: number, len: number): Promise<Buffer> {
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

export async function normalizeExtPartition(file: string, partOffset: number, epoch: number): Promise<{ inodes: number; superblock: boolean }> {
  const fh = await open(file, 'r+');
  try {
    const sb = await readAt(fh, partOffset + SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
    const info = parseSuperblock(sb);
    const gdtBlock = info.firstDataBlock + 1;
    const gdt = await readAt(fh, partOffset + gdtBlock * info.blockSize, gdtLength(info));
    let inodes = 0;
    for (const t of inodeTables(gdt, info)) {
      if (t.inodes === 0) continue;
      const pos = partOffset + t.inodeTableBlock * info.blockSize;
      const table = await readAt(fh, pos, t.inodes * info.inodeSize);
      const n = normalizeInodeTimes(table, info.inodeSize, epoch);
      if (n > 0) {
        await fh.write(table, 0, table.length, pos);
        inodes += n;
      }
    }
    const changed = normalizeSuperblock(sb, epoch);
    if (changed) await fh.write(sb, 0, SUPERBLOCK_SIZE, partOffset + SUPERBLOCK_OFFSET);
    return { inodes, superblock: changed };
  } finally {
    await fh.close();
  }
}
