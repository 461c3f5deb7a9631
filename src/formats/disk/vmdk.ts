/**
 * VMDK sparse extents (VMware's "Virtual Disk Format 5.0"), written from a raw disk:
 * - streamOptimized: deflate-compressed grains behind grain markers, then the grain tables, the grain
 *   directory and a footer, each behind a metadata marker, then an end-of-stream marker. It can be
 *   written front to back (the header says "grain directory at the end"), and it is what OVAs carry.
 * - monolithicSparse: the classic hosted sparse extent, grain directory and tables first, grains
 *   uncompressed.
 * The descriptor's CID is derived from the content (qemu-img picks a random one).
 */
import { deflateSync } from 'node:zlib';
import { FormatError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { anyPresent, deriveBytes, readPadded, scanDisk, type DiskScan } from './image-ids.js';

export type VmdkSubformat = 'streamOptimized' | 'monolithicSparse';

export interface VmdkOptions {
  subformat: VmdkSubformat;
  /** The extent's file name as the descriptor names it (the .vmdk's own base name). */
  fileName: string;
  /** ddb.adapterType: the controller the disk sits on (ide for the OVA's IDE controller). */
  adapter?: 'ide' | 'lsilogic';
  /** zlib level for streamOptimized grains (for the built-in deflate; an injected one brings its own). */
  level?: number;
  /**
   * streamOptimized: compresses one 64 KiB grain to raw zlib bytes (the default deflates it in place,
   * synchronously). The edge passes an asynchronous one (zlib on libuv's threads) with `inFlight` > 1,
   * so grains deflate in parallel; grains are written in order either way, so the bytes are the same
   * as long as the compressor is.
   */
  deflate?: (grain: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  /** Grains compressing at once (default 1). */
  inFlight?: number;
  /** A scan made earlier (the OVA writer has one); scanned here otherwise. */
  scan?: DiskScan;
}

const SECTOR = 512;
const GRAIN_SECTORS = 128;
const GRAIN = GRAIN_SECTORS * SECTOR;
const GTES_PER_GT = 512;
const GT_SECTORS = (GTES_PER_GT * 4) / SECTOR;
/** Header gdOffset of a stream-optimized extent: the real one is in the footer. */
const GD_AT_END = 0xffffffffffffffffn;
const MARKER_EOS = 0;
const MARKER_GT = 1;
const MARKER_GD = 2;
const MARKER_FOOTER = 3;
const FLAG_NL_DETECT = 1;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;

export const VMDK_STREAM_OPTIMIZED_URI = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';

interface HeaderFields {
  version: number;
  flags: number;
  capacity: bigint;
  descriptorSectors: number;
  gdOffset: bigint;
  overhead: number;
  compress: boolean;
}

/** SparseExtentHeader, 512 bytes little-endian. */
function sparseHeader(h: HeaderFields): Uint8Array {
  const b = new Uint8Array(SECTOR);
  const v = new DataView(b.buffer);
  b.set([0x4b, 0x44, 0x4d, 0x56], 0); // "KDMV"
  v.setUint32(4, h.version, true);
  v.setUint32(8, h.flags, true);
  v.setBigUint64(12, h.capacity, true);
  v.setBigUint64(20, BigInt(GRAIN_SECTORS), true);
  v.setBigUint64(28, 1n, true); // descriptor right after the header
  v.setBigUint64(36, BigInt(h.descriptorSectors), true);
  v.setUint32(44, GTES_PER_GT, true);
  v.setBigUint64(48, 0n, true); // no redundant grain directory
  v.setBigUint64(56, h.gdOffset, true);
  v.setBigUint64(64, BigInt(h.overhead), true);
  b[72] = 0; // clean
  b.set([0x0a, 0x20, 0x0d, 0x0a], 73); // newline-corruption detection characters
  v.setUint16(77, h.compress ? 1 : 0, true); // 1 = deflate
  return b;
}

function metadataMarker(sectors: number, type: number): Uint8Array {
  const b = new Uint8Array(SECTOR);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(sectors), true);
  v.setUint32(8, 0, true);
  v.setUint32(12, type, true);
  return b;
}

/** The embedded text descriptor, padded to whole sectors. */
export function vmdkDescriptor(o: { cid: number; subformat: VmdkSubformat; capacitySectors: number; fileName: string; adapter: string }): string {
  const heads = 16;
  const sectors = 63;
  const cylinders = Math.min(16383, Math.floor(o.capacitySectors / (heads * sectors)));
  return [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    `CID=${o.cid.toString(16).padStart(8, '0')}`,
    'parentCID=ffffffff',
    `createType="${o.subformat}"`,
    '',
    '# Extent description',
    `RW ${o.capacitySectors} SPARSE "${o.fileName.replace(/"/g, '')}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.virtualHWVersion = "4"',
    `ddb.adapterType = "${o.adapter}"`,
    `ddb.geometry.cylinders = "${cylinders}"`,
    `ddb.geometry.heads = "${heads}"`,
    `ddb.geometry.sectors = "${sectors}"`,
    '',
  ].join('\n');
}

function padToSectors(bytes: Uint8Array, minSectors = 1): Uint8Array {
  const out = new Uint8Array(Math.max(minSectors, Math.ceil(bytes.length / SECTOR)) * SECTOR);
  out.set(bytes);
  return out;
}

function tableBytes(entries: Uint32Array, sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * SECTOR);
  const v = new DataView(b.buffer);
  entries.forEach((e, i) => v.setUint32(i * 4, e, true));
  return b;
}

export async function* writeVmdk(src: ByteSource, opts: VmdkOptions): AsyncGenerator<Uint8Array> {
  if (src.size % SECTOR !== 0) throw new FormatError('disk', `vmdk: disk size ${src.size} is not a whole number of sectors`);
  const scan = opts.scan ?? await scanDisk(src);
  const capacitySectors = src.size / SECTOR;
  const grains = Math.ceil(src.size / GRAIN);
  const gts = Math.ceil(grains / GTES_PER_GT);
  const gdSectors = Math.ceil((gts * 4) / SECTOR);
  if (capacitySectors + gts * GT_SECTORS + 3 * grains > 0xffffffff) throw new FormatError('disk', 'vmdk: disk too large for 32-bit grain table entries');
  const cid = new DataView(deriveBytes(scan.sha256, 'vmdk-cid', 4).buffer).getUint32(0);
  const descriptor = padToSectors(new TextEncoder().encode(vmdkDescriptor({
    cid, subformat: opts.subformat, capacitySectors, fileName: opts.fileName, adapter: opts.adapter ?? 'ide',
  })), 20);
  const descriptorSectors = descriptor.length / SECTOR;
  const stream = opts.subformat === 'streamOptimized';
  // A grain table entry per grain: the sector of its marker (stream) or of its data (sparse); 0 = all zero.
  const gt = new Uint32Array(gts * GTES_PER_GT);

  if (stream) {
    const overhead = Math.ceil((1 + descriptorSectors) / GRAIN_SECTORS) * GRAIN_SECTORS;
    const head = { version: 3, flags: FLAG_NL_DETECT | FLAG_COMPRESSED | FLAG_MARKERS, capacity: BigInt(capacitySectors), descriptorSectors, overhead, compress: true };
    const start = new Uint8Array(overhead * SECTOR);
    start.set(sparseHeader({ ...head, gdOffset: GD_AT_END }), 0);
    start.set(descriptor, SECTOR);
    yield start;
    let sector = overhead;
    const level = opts.level ?? 6;
    const deflate = opts.deflate ?? ((grain: Uint8Array) => deflateSync(grain, { level }));
    const inFlight = Math.max(1, opts.inFlight ?? 1);
    // Grains being compressed, oldest first: each is written (and given its sector) in disk order.
    const pending: { g: number; data: Promise<Uint8Array> }[] = [];
    const grainOut = async (next: { g: number; data: Promise<Uint8Array> }): Promise<Uint8Array> => {
      const data = await next.data;
      const out = new Uint8Array(Math.ceil((12 + data.length) / SECTOR) * SECTOR);
      const v = new DataView(out.buffer);
      v.setBigUint64(0, BigInt(next.g * GRAIN_SECTORS), true);
      v.setUint32(8, data.length, true);
      out.set(data, 12);
      gt[next.g] = sector;
      sector += out.length / SECTOR;
      return out;
    };
    try {
      for (let g = 0; g < grains; g++) {
        if (!anyPresent(scan, g * GRAIN, (g + 1) * GRAIN)) continue;
        const raw = await readPadded(src, g * GRAIN, GRAIN);
        const data = Promise.resolve().then(() => deflate(raw));
        data.catch(() => undefined); // awaited in order below; a failure surfaces there
        pending.push({ g, data });
        if (pending.length >= inFlight) yield await grainOut(pending.shift()!);
      }
      while (pending.length > 0) yield await grainOut(pending.shift()!);
    } finally {
      // A consumer that stops early (or a failed read) leaves no compression running unseen.
      await Promise.allSettled(pending.map((p) => p.data));
    }
    const gd = new Uint32Array(gts);
    for (let t = 0; t < gts; t++) {
      yield metadataMarker(GT_SECTORS, MARKER_GT);
      gd[t] = sector + 1;
      sector += 1 + GT_SECTORS;
      yield tableBytes(gt.subarray(t * GTES_PER_GT, (t + 1) * GTES_PER_GT), GT_SECTORS);
    }
    yield metadataMarker(gdSectors, MARKER_GD);
    const gdOffset = sector + 1;
    yield tableBytes(gd, gdSectors);
    yield metadataMarker(1, MARKER_FOOTER);
    yield sparseHeader({ ...head, gdOffset: BigInt(gdOffset) });
    yield metadataMarker(0, MARKER_EOS);
    return;
  }

  // monolithicSparse: header, descriptor, grain directory, grain tables, then the present grains in order.
  const gdOffset = 1 + descriptorSectors;
  const gtStart = gdOffset + gdSectors;
  const overhead = Math.ceil((gtStart + gts * GT_SECTORS) / GRAIN_SECTORS) * GRAIN_SECTORS;
  let sector = overhead;
  for (let g = 0; g < grains; g++) {
    if (!anyPresent(scan, g * GRAIN, (g + 1) * GRAIN)) continue;
    gt[g] = sector;
    sector += GRAIN_SECTORS;
  }
  const gd = new Uint32Array(gts).map((_, t) => gtStart + t * GT_SECTORS);
  const meta = new Uint8Array(overhead * SECTOR);
  meta.set(sparseHeader({ version: 1, flags: FLAG_NL_DETECT, capacity: BigInt(capacitySectors), descriptorSectors, gdOffset: BigInt(gdOffset), overhead, compress: false }), 0);
  meta.set(descriptor, SECTOR);
  meta.set(tableBytes(gd, gdSectors), gdOffset * SECTOR);
  meta.set(tableBytes(gt, gts * GT_SECTORS), gtStart * SECTOR);
  yield meta;
  for (let g = 0; g < grains; g++) {
    if (gt[g]) yield await readPadded(src, g * GRAIN, GRAIN);
  }
}
