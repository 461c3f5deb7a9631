import type { ByteSource } from '../source.js';
import { Fields, readExact } from './bytes.js';
import { squashError } from './errors.js';
import { METADATA_SIZE, type MetadataReader } from './metadata.js';
import type { Superblock } from './superblock.js';

/**
 * Tables that are arrays of fixed-size records stored in metadata blocks, located through an
 * array of u64 block pointers (the id table, the fragment table).
 */
async function pointerArray(src: ByteSource, start: number, count: number, end: number, what: string): Promise<number[]> {
  const bytes = await readExact(src, start, count * 8, `${what} index`);
  const f = new Fields(bytes, `${what} index`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = f.u64(i * 8);
    if (p >= end) throw squashError(`${what} block ${i} at ${p} lies outside the image`);
    out.push(p);
  }
  return out;
}

export async function readIdTable(src: ByteSource, meta: MetadataReader, sb: Superblock): Promise<Uint32Array> {
  const perBlock = METADATA_SIZE / 4;
  const blocks = Math.ceil(sb.idCount / perBlock);
  const pointers = await pointerArray(src, sb.idTableStart, blocks, sb.bytesUsed, 'id table');
  const ids = new Uint32Array(sb.idCount);
  for (let b = 0; b < blocks; b++) {
    const want = Math.min(perBlock, sb.idCount - b * perBlock);
    const { data } = await meta.block(pointers[b]!);
    if (data.length < want * 4) throw squashError(`id table block ${b} holds ${data.length} bytes, needs ${want * 4}`);
    const f = new Fields(data, 'id table');
    for (let i = 0; i < want; i++) ids[b * perBlock + i] = f.u32(i * 4);
  }
  return ids;
}

export interface FragmentEntry {
  start: number;
  /** On-disk size word: bit 24 set means stored uncompressed. */
  size: number;
}

const FRAGMENTS_PER_BLOCK = METADATA_SIZE / 16;

/** Fragment entries, decoded one metadata block at a time on first use. */
export class FragmentTable {
  private constructor(
    private readonly meta: MetadataReader,
    private readonly pointers: number[],
    private readonly count: number,
  ) {}

  static async open(src: ByteSource, meta: MetadataReader, sb: Superblock): Promise<FragmentTable> {
    if (sb.fragmentCount === 0) return new FragmentTable(meta, [], 0);
    const blocks = Math.ceil(sb.fragmentCount / FRAGMENTS_PER_BLOCK);
    if (blocks * 8 > sb.bytesUsed) throw squashError(`fragment count ${sb.fragmentCount} cannot fit in the image`);
    const pointers = await pointerArray(src, sb.fragmentTableStart, blocks, sb.bytesUsed, 'fragment table');
    return new FragmentTable(meta, pointers, sb.fragmentCount);
  }

  async entry(index: number): Promise<FragmentEntry> {
    if (index >= this.count) throw squashError(`fragment ${index} does not exist (the image has ${this.count})`);
    const b = Math.floor(index / FRAGMENTS_PER_BLOCK);
    const { data } = await this.meta.block(this.pointers[b]!);
    const f = new Fields(data, `fragment table block ${b}`);
    const at = (index % FRAGMENTS_PER_BLOCK) * 16;
    return { start: f.u64(at), size: f.u32(at + 8) };
  }
}
