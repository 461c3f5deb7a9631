import { createHash } from 'node:crypto';

/**
 * Every identifier on the disk (filesystem UUID, htree hash seed, MBR disk signature) derives from the
 * recipe digest, so two builds of one recipe are byte-identical and two recipes never share a UUID.
 */
function derive(digest: string, purpose: string): Buffer {
  return createHash('sha256').update(`dbco-disk:${purpose}:${digest}`).digest();
}

function asUuid(b: Buffer): string {
  const u = Buffer.from(b.subarray(0, 16));
  u[6] = (u[6]! & 0x0f) | 0x40; // RFC 4122 version 4 layout, so tools print it as an ordinary UUID
  u[8] = (u[8]! & 0x3f) | 0x80;
  const h = u.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface DiskIds {
  fsUuid: string;
  hashSeed: string;
  diskSignature: number;
}

export function diskIds(digest: string): DiskIds {
  return {
    fsUuid: asUuid(derive(digest, 'fs-uuid')),
    hashSeed: asUuid(derive(digest, 'hash-seed')),
    diskSignature: derive(digest, 'mbr-signature').readUInt32LE(0),
  };
}
