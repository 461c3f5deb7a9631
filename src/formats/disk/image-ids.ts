import { createHash } from 'node:crypto';
import type { ByteSource } from '../source.js';

/**
 * Identifiers inside VM disk containers (VMDK CID, VHD unique id, VHDX GUIDs) that other tools make
 * random or time-based. dbco derives them from the disk's content, so two builds of one disk are
 * byte-identical and two different disks never share an id.
 */
export function deriveBytes(seed: Uint8Array, purpose: string, length: number): Uint8Array {
  const h = createHash('sha256').update(`dbco-image-id:${purpose}:`).update(seed).digest();
  return new Uint8Array(h.subarray(0, length));
}

/** 16 derived bytes laid out as an RFC 4122 version-4 UUID (big-endian text order). */
export function deriveUuid(seed: Uint8Array, purpose: string): Uint8Array {
  const u = deriveBytes(seed, purpose, 16);
  u[6] = (u[6]! & 0x0f) | 0x40;
  u[8] = (u[8]! & 0x3f) | 0x80;
  return u;
}

export function uuidText(u: Uint8Array): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A GUID's text (8-4-4-4-12) in Microsoft's binary layout: the first three fields little-endian. */
export function guidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${text}`);
  const b = Buffer.from(hex, 'hex');
  const out = Buffer.from(b);
  out.set([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!], 0);
  return new Uint8Array(out);
}

export interface DiskScan {
  /** sha256 of the raw disk: the seed of every derived id. */
  sha256: Uint8Array;
  /** One flag per `unit` bytes: 1 when any byte in it is not zero. */
  present: Uint8Array;
  unit: number;
}

const READ = 1 << 20;

const ZERO = new Uint8Array(READ);

function allZero(b: Uint8Array): boolean {
  // memcmp against zeros: a 64 MiB disk is scanned in a fraction of a second.
  return Buffer.from(b.buffer, b.byteOffset, b.length).equals(ZERO.subarray(0, b.length));
}

/** One pass over the raw disk: its digest and which `unit`-sized pieces hold data (unit divides 1 MiB). */
export async function scanDisk(src: ByteSource, unit = 64 * 1024): Promise<DiskScan> {
  if (READ % unit !== 0) throw new Error(`scan unit ${unit} must divide ${READ}`);
  const hash = createHash('sha256');
  const present = new Uint8Array(Math.ceil(src.size / unit));
  for (let off = 0; off < src.size; off += READ) {
    const chunk = await src.read(off, Math.min(READ, src.size - off));
    hash.update(chunk);
    for (let u = 0; u * unit < chunk.length; u++) {
      if (!allZero(chunk.subarray(u * unit, (u + 1) * unit))) present[(off / unit) + u] = 1;
    }
  }
  return { sha256: new Uint8Array(hash.digest()), present, unit };
}

/** Whether any scan unit in [start, end) bytes holds data. */
export function anyPresent(scan: DiskScan, start: number, end: number): boolean {
  const last = Math.min(scan.present.length, Math.ceil(end / scan.unit));
  for (let u = Math.floor(start / scan.unit); u < last; u++) if (scan.present[u]) return true;
  return false;
}

/** Exactly `length` bytes at `offset` of the disk, zero-filled past its end. */
export async function readPadded(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const want = Math.max(0, Math.min(length, src.size - offset));
  const got = want > 0 ? await src.read(offset, want) : new Uint8Array(0);
  if (got.length === length) return got;
  const out = new Uint8Array(length);
  out.set(got);
  return out;
}
