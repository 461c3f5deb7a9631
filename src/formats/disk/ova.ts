/**
 * An OVA (DSP0243 1.0, "OVF package as a single file"): a POSIX ustar archive whose members come in
 * the package's order: the .ovf descriptor first, then the .mf manifest, then the disk. writeTar sorts
 * by path, so the OVA has its own small writer; member order is the caller's.
 */
import { FormatError } from '../../errors.js';
import { BLOCK, F, octalMax, putOctal, putString, sealChecksum } from '../tar/header.js';

export interface OvaMember {
  name: string;
  size: number;
  open(): AsyncIterable<Uint8Array>;
}

const enc = new TextEncoder();

/** `SHA256(name)= hex` lines, the manifest format of DSP0243 (virt-v2v and VMware check it). */
export function ovaManifest(members: { name: string; sha256: string }[]): string {
  return members.map((m) => `SHA256(${m.name})= ${m.sha256}\n`).join('');
}

function memberHeader(m: OvaMember, mtime: number): Uint8Array {
  const name = enc.encode(m.name);
  if (name.length > 100 || m.name.includes('/')) throw new FormatError('tar', `ova member name ${JSON.stringify(m.name)}: a plain name of at most 100 bytes`);
  if (m.size > octalMax(F.size[1])) throw new FormatError('tar', `ova member ${m.name}: ${m.size} bytes is more than ustar holds`);
  const h = new Uint8Array(BLOCK);
  putString(h, F.name, name);
  putOctal(h, F.mode, 0o644);
  putOctal(h, F.uid, 0);
  putOctal(h, F.gid, 0);
  putOctal(h, F.size, m.size);
  putOctal(h, F.mtime, mtime);
  h[F.typeflag[0]] = 0x30; // '0': regular file
  putString(h, F.magic, enc.encode('ustar\0'));
  putString(h, F.version, enc.encode('00'));
  putOctal(h, F.devmajor, 0);
  putOctal(h, F.devminor, 0);
  sealChecksum(h);
  return h;
}

export async function* writeOva(members: OvaMember[], mtime: number): AsyncGenerator<Uint8Array> {
  for (const m of members) {
    yield memberHeader(m, mtime);
    let written = 0;
    for await (const chunk of m.open()) {
      written += chunk.length;
      yield chunk;
    }
    if (written !== m.size) throw new FormatError('tar', `ova member ${m.name}: ${written} bytes, the header says ${m.size}`);
    const pad = (BLOCK - (m.size % BLOCK)) % BLOCK;
    if (pad) yield new Uint8Array(pad);
  }
  yield new Uint8Array(2 * BLOCK);
}
