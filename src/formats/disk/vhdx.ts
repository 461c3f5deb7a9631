/**
 * VHDX (Microsoft [MS-VHDX] v2), dynamic, written from a raw disk. Layout, every object 1 MiB aligned:
 *   0       file type identifier, two headers (64 KiB, 128 KiB), two region tables (192 KiB, 256 KiB)
 *   1 MiB   log (empty: LogGuid zero, nothing to replay)
 *   2 MiB   metadata region: table, then file parameters, disk size, disk id, sector sizes
 *   3 MiB   BAT (payload entries interleaved with sector-bitmap entries, one per chunk)
 *   then    the 1 MiB payload blocks that hold data, in disk order
 * Blocks without data are PAYLOAD_BLOCK_ZERO (reads are defined to be zero). The file-write, data-write
 * and virtual disk GUIDs derive from the content (qemu-img makes them random).
 */
import { FormatError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { crc32c } from './crc32c.js';
import { anyPresent, deriveUuid, guidBytes, readPadded, scanDisk, type DiskScan } from './image-ids.js';

export interface VhdxOptions {
  scan?: DiskScan;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = MiB;
const LOGICAL_SECTOR = 512;
const PHYSICAL_SECTOR = 4096;
const LOG_OFFSET = MiB;
const LOG_LENGTH = MiB;
const METADATA_OFFSET = 2 * MiB;
const METADATA_LENGTH = MiB;
const BAT_OFFSET = 3 * MiB;
const CHUNK_RATIO = ((2 ** 23) * LOGICAL_SECTOR) / BLOCK;

const REGION_BAT = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const REGION_METADATA = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const META_FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
const META_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
const META_DISK_ID = 'BECA12AB-B2E6-4523-93EF-C309E000C746';
const META_LOGICAL_SECTOR = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
const META_PHYSICAL_SECTOR = 'CDA348C7-445D-4471-9CC9-E9885251C556';
const PAYLOAD_BLOCK_ZERO = 2n;
const PAYLOAD_BLOCK_FULLY_PRESENT = 6n;

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A GUID made from derived bytes, stored in the Microsoft layout like the fixed ones. */
function derivedGuid(seed: Uint8Array, purpose: string): Uint8Array {
  const u = deriveUuid(seed, purpose);
  const h = Buffer.from(u).toString('hex');
  return guidBytes(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
}

function sealCrc(b: Uint8Array, at: number): Uint8Array {
  new DataView(b.buffer, b.byteOffset).setUint32(at, crc32c(b), true);
  return b;
}

function header(seq: number, fileWrite: Uint8Array, dataWrite: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 * KiB);
  const v = new DataView(b.buffer);
  b.set(ascii('head'), 0);
  v.setBigUint64(8, BigInt(seq), true);
  b.set(fileWrite, 16);
  b.set(dataWrite, 32);
  // LogGuid (48) stays zero: the log is empty.
  v.setUint16(64, 0, true); // log version
  v.setUint16(66, 1, true); // VHDX version
  v.setUint32(68, LOG_LENGTH, true);
  v.setBigUint64(72, BigInt(LOG_OFFSET), true);
  return sealCrc(b, 4);
}

function regionTable(batLength: number): Uint8Array {
  const b = new Uint8Array(64 * KiB);
  const v = new DataView(b.buffer);
  b.set(ascii('regi'), 0);
  v.setUint32(8, 2, true);
  const entry = (i: number, guid: string, offset: number, length: number): void => {
    const at = 16 + i * 32;
    b.set(guidBytes(guid), at);
    v.setBigUint64(at + 16, BigInt(offset), true);
    v.setUint32(at + 24, length, true);
    v.setUint32(at + 28, 1, true); // required
  };
  entry(0, REGION_BAT, BAT_OFFSET, batLength);
  entry(1, REGION_METADATA, METADATA_OFFSET, METADATA_LENGTH);
  return sealCrc(b, 4);
}

function metadataRegion(size: number, diskId: Uint8Array): Uint8Array {
  const b = new Uint8Array(METADATA_LENGTH);
  const v = new DataView(b.buffer);
  b.set(ascii('metadata'), 0);
  const items: { guid: string; data: Uint8Array; virtualDisk: boolean }[] = [];
  const u32 = (x: number): Uint8Array => { const d = new Uint8Array(4); new DataView(d.buffer).setUint32(0, x, true); return d; };
  const params = new Uint8Array(8);
  new DataView(params.buffer).setUint32(0, BLOCK, true); // flags 0: blocks may be unallocated, no parent
  const sizeBytes = new Uint8Array(8);
  new DataView(sizeBytes.buffer).setBigUint64(0, BigInt(size), true);
  items.push({ guid: META_FILE_PARAMETERS, data: params, virtualDisk: false });
  items.push({ guid: META_DISK_SIZE, data: sizeBytes, virtualDisk: true });
  items.push({ guid: META_DISK_ID, data: diskId, virtualDisk: true });
  items.push({ guid: META_LOGICAL_SECTOR, data: u32(LOGICAL_SECTOR), virtualDisk: true });
  items.push({ guid: META_PHYSICAL_SECTOR, data: u32(PHYSICAL_SECTOR), virtualDisk: true });
  v.setUint16(10, items.length, true);
  let offset = 64 * KiB;
  items.forEach((item, i) => {
    const at = 32 + i * 32;
    b.set(guidBytes(item.guid), at);
    v.setUint32(at + 16, offset, true);
    v.setUint32(at + 20, item.data.length, true);
    v.setUint32(at + 24, (item.virtualDisk ? 2 : 0) | 4, true); // IsVirtualDisk, IsRequired
    b.set(item.data, offset);
    offset += item.data.length;
  });
  return b;
}

export async function* writeVhdx(src: ByteSource, opts: VhdxOptions = {}): AsyncGenerator<Uint8Array> {
  if (src.size % LOGICAL_SECTOR !== 0) throw new FormatError('disk', `vhdx: disk size ${src.size} is not a whole number of sectors`);
  if (src.size > 64 * 2 ** 40) throw new FormatError('disk', 'vhdx: disks larger than 64 TiB are not allowed by the format');
  const scan = opts.scan ?? await scanDisk(src);
  const blocks = Math.ceil(src.size / BLOCK);
  const entries = blocks + Math.floor((blocks - 1) / CHUNK_RATIO);
  const batLength = Math.ceil((entries * 8) / MiB) * MiB;
  const bat = new Uint8Array(batLength);
  const bv = new DataView(bat.buffer);
  let offsetMiB = (BAT_OFFSET + batLength) / MiB;
  for (let i = 0; i < blocks; i++) {
    const entry = i + Math.floor(i / CHUNK_RATIO); // a sector-bitmap entry (state 0) follows each chunk
    const present = anyPresent(scan, i * BLOCK, (i + 1) * BLOCK);
    bv.setBigUint64(entry * 8, present ? (BigInt(offsetMiB) << 20n) | PAYLOAD_BLOCK_FULLY_PRESENT : PAYLOAD_BLOCK_ZERO, true);
    if (present) offsetMiB += BLOCK / MiB;
  }

  const head = new Uint8Array(LOG_OFFSET);
  head.set(ascii('vhdxfile'), 0);
  head.set(Buffer.from('dbco', 'utf16le'), 8);
  const fileWrite = derivedGuid(scan.sha256, 'vhdx-file-write');
  const dataWrite = derivedGuid(scan.sha256, 'vhdx-data-write');
  head.set(header(0, fileWrite, dataWrite), 64 * KiB);
  head.set(header(1, fileWrite, dataWrite), 128 * KiB);
  const regions = regionTable(batLength);
  head.set(regions, 192 * KiB);
  head.set(regions, 256 * KiB);
  yield head;
  yield new Uint8Array(LOG_LENGTH);
  yield metadataRegion(src.size, derivedGuid(scan.sha256, 'vhdx-disk-id'));
  yield bat;
  for (let i = 0; i < blocks; i++) {
    const entry = bv.getBigUint64((i + Math.floor(i / CHUNK_RATIO)) * 8, true);
    if ((entry & 7n) === PAYLOAD_BLOCK_FULLY_PRESENT) yield await readPadded(src, i * BLOCK, BLOCK);
  }
}
