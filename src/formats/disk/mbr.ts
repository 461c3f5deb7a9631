/**
 * A classic MBR partition table, written by dbco so the disk needs no fdisk/parted and no root.
 * Pure: bytes out. The boot code area (first 440 bytes) is left to the boot loader (see grub-embed.ts).
 */
import { FormatError } from '../../errors.js';

export const SECTOR = 512;
const TABLE_OFFSET = 0x1be;
const SIGNATURE_OFFSET = 0x1b8;

export interface MbrPartition {
  /** First sector (LBA). */
  start: number;
  sectors: number;
  /** Partition type byte: 0x83 for Linux. */
  type: number;
  bootable: boolean;
}

/** CHS triple for an LBA with the 255 heads x 63 sectors geometry BIOSes assume; capped as tools do. */
function chs(lba: number): [number, number, number] {
  const perCyl = 255 * 63;
  const c = Math.floor(lba / perCyl);
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / 63) % 255;
  const s = (lba % 63) + 1;
  return [h, s | ((c >> 8) << 6), c & 0xff];
}

/** A 512-byte MBR: empty boot code, the 32-bit disk signature, up to four primary partitions, 0x55AA. */
export function buildMbr(diskSignature: number, partitions: MbrPartition[]): Uint8Array {
  if (partitions.length > 4) throw new FormatError('disk', `an MBR holds at most 4 partitions, got ${partitions.length}`);
  const mbr = new Uint8Array(SECTOR);
  const view = new DataView(mbr.buffer);
  view.setUint32(SIGNATURE_OFFSET, diskSignature >>> 0, true);
  partitions.forEach((p, i) => {
    if (p.start < 1 || p.sectors < 1 || p.start + p.sectors > 0xffffffff) {
      throw new FormatError('disk', `partition ${i + 1}: start ${p.start} / ${p.sectors} sectors out of MBR range`);
    }
    const o = TABLE_OFFSET + i * 16;
    mbr[o] = p.bootable ? 0x80 : 0;
    mbr.set(chs(p.start), o + 1);
    mbr[o + 4] = p.type;
    mbr.set(chs(p.start + p.sectors - 1), o + 5);
    view.setUint32(o + 8, p.start, true);
    view.setUint32(o + 12, p.sectors, true);
  });
  mbr[0x1fe] = 0x55;
  mbr[0x1ff] = 0xaa;
  return mbr;
}

/** Reads back the partition table (for tests and for checking a disk before patching it). */
export function parseMbr(mbr: Uint8Array): { diskSignature: number; partitions: MbrPartition[] } {
  if (mbr.length < SECTOR || mbr[0x1fe] !== 0x55 || mbr[0x1ff] !== 0xaa) throw new FormatError('disk', 'no MBR signature 0x55AA');
  const view = new DataView(mbr.buffer, mbr.byteOffset, SECTOR);
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const o = TABLE_OFFSET + i * 16;
    const type = mbr[o + 4]!;
    if (type === 0) continue;
    partitions.push({ bootable: mbr[o] === 0x80, type, start: view.getUint32(o + 8, true), sectors: view.getUint32(o + 12, true) });
  }
  return { diskSignature: view.getUint32(SIGNATURE_OFFSET, true), partitions };
}
