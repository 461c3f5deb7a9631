/**
 * VHD (Microsoft "Virtual Hard Disk Image Format Specification" 1.0), written from a raw disk:
 * - fixed: the raw bytes followed by the 512-byte footer (what Azure takes, at a whole number of MiB);
 * - dynamic: footer copy, dynamic header, block allocation table, then 2 MiB blocks that hold data
 *   (each a sector bitmap then the data), then the footer.
 * The timestamp comes from SOURCE_DATE_EPOCH and the unique id from the content (qemu-img writes the
 * clock and a random id).
 */
import { FormatError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { anyPresent, deriveUuid, readPadded, scanDisk, type DiskScan } from './image-ids.js';

export type VhdType = 'fixed' | 'dynamic';

export interface VhdOptions {
  type: VhdType;
  /** Seconds since 1970 (SOURCE_DATE_EPOCH); stored as seconds since 2000-01-01 UTC, floored at 0. */
  epoch: number;
  scan?: DiskScan;
}

const SECTOR = 512;
const BLOCK = 2 * 1024 * 1024;
const VHD_EPOCH = 946684800; // 2000-01-01T00:00:00Z
const NO_OFFSET = 0xffffffffffffffffn;
const enc = new TextEncoder();

/** CHS geometry by the algorithm in the VHD specification's appendix. */
export function vhdGeometry(totalSectors: number): { cylinders: number; heads: number; sectors: number } {
  const total = Math.min(totalSectors, 65535 * 16 * 255);
  let spt: number;
  let heads: number;
  let cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255; heads = 16; cth = Math.floor(total / spt);
  } else {
    spt = 17; cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) { spt = 31; heads = 16; cth = Math.floor(total / spt); }
    if (cth >= heads * 1024) { spt = 63; heads = 16; cth = Math.floor(total / spt); }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectors: spt };
}

/** Ones' complement of the byte sum, the checksum of the footer and the dynamic header. */
function checksum(b: Uint8Array): number {
  let s = 0;
  for (const x of b) s += x;
  return (~s) >>> 0;
}

export function vhdFooter(o: { size: number; type: VhdType; epoch: number; uniqueId: Uint8Array }): Uint8Array {
  const b = new Uint8Array(SECTOR);
  const v = new DataView(b.buffer);
  b.set(enc.encode('conectix'), 0);
  v.setUint32(8, 2, false); // features: reserved bit, always set
  v.setUint32(12, 0x00010000, false);
  v.setBigUint64(16, o.type === 'fixed' ? NO_OFFSET : BigInt(SECTOR), false);
  v.setUint32(24, Math.max(0, o.epoch - VHD_EPOCH), false);
  // Creator "win " (Hyper-V): readers that choose between the CHS geometry and the stored size by
  // creator (qemu does) then take the exact size; a CHS-rounded size would cut the disk's last sectors.
  b.set(enc.encode('win '), 28);
  v.setUint32(32, 0x000a0000, false);
  b.set(enc.encode('Wi2k'), 36);
  v.setBigUint64(40, BigInt(o.size), false);
  v.setBigUint64(48, BigInt(o.size), false);
  const g = vhdGeometry(Math.floor(o.size / SECTOR));
  v.setUint16(56, g.cylinders, false);
  b[58] = g.heads;
  b[59] = g.sectors;
  v.setUint32(60, o.type === 'fixed' ? 2 : 3, false);
  b.set(o.uniqueId, 68);
  v.setUint32(64, checksum(b), false);
  return b;
}

function dynamicHeader(batOffset: number, blocks: number): Uint8Array {
  const b = new Uint8Array(1024);
  const v = new DataView(b.buffer);
  b.set(enc.encode('cxsparse'), 0);
  v.setBigUint64(8, NO_OFFSET, false);
  v.setBigUint64(16, BigInt(batOffset), false);
  v.setUint32(24, 0x00010000, false);
  v.setUint32(28, blocks, false);
  v.setUint32(32, BLOCK, false);
  v.setUint32(36, checksum(b), false);
  return b;
}

export async function* writeVhd(src: ByteSource, opts: VhdOptions): AsyncGenerator<Uint8Array> {
  if (src.size % SECTOR !== 0) throw new FormatError('disk', `vhd: disk size ${src.size} is not a whole number of sectors`);
  const scan = opts.scan ?? await scanDisk(src);
  const footer = vhdFooter({ size: src.size, type: opts.type, epoch: opts.epoch, uniqueId: deriveUuid(scan.sha256, 'vhd-unique-id') });
  if (opts.type === 'fixed') {
    for (let off = 0; off < src.size; off += BLOCK) yield await src.read(off, Math.min(BLOCK, src.size - off));
    yield footer;
    return;
  }
  const blocks = Math.ceil(src.size / BLOCK);
  const batOffset = 3 * SECTOR;
  const batBytes = Math.ceil((blocks * 4) / SECTOR) * SECTOR;
  const bat = new Uint8Array(batBytes).fill(0xff);
  const bv = new DataView(bat.buffer);
  const bitmapBytes = Math.ceil(BLOCK / SECTOR / 8 / SECTOR) * SECTOR;
  let sector = (batOffset + batBytes) / SECTOR;
  for (let i = 0; i < blocks; i++) {
    if (!anyPresent(scan, i * BLOCK, (i + 1) * BLOCK)) continue;
    bv.setUint32(i * 4, sector, false);
    sector += (bitmapBytes + BLOCK) / SECTOR;
  }
  yield footer;
  yield dynamicHeader(batOffset, blocks);
  yield bat;
  // Every sector of an allocated block is marked present: the block holds the exact raw bytes.
  const bitmap = new Uint8Array(bitmapBytes).fill(0xff);
  for (let i = 0; i < blocks; i++) {
    if (bv.getUint32(i * 4, false) === 0xffffffff) continue;
    yield bitmap;
    yield await readPadded(src, i * BLOCK, BLOCK);
  }
  yield footer;
}
