import type { ByteSource } from '../source.js';
import { readExact } from './bytes.js';
import { corrupt, type BatchInflate, type Decompressor } from './decompress.js';
import { squashError } from './errors.js';
import type { FileLayout } from './inode.js';
import type { FragmentTable } from './tables.js';
import type { Superblock } from './superblock.js';

const UNCOMPRESSED = 0x1000000;
const NO_FRAGMENT = 0xffffffff;
/**
 * Consecutive blocks of a file lie back to back on disk, so one read fetches several: fewer round
 * trips to the ByteSource at a bounded cost in memory per open stream.
 */
const READ_AHEAD = 256 * 1024;
/** Decoded fragment blocks kept per image: small files sharing a fragment block decode it once. */
const FRAGMENT_CACHE = 4;
/** Decoded bytes per batch sent to a BatchInflate: amortizes a message over many small blocks. */
const BATCH_OUT = 256 * 1024;
/** Batches in flight per open stream: enough to keep two inflate workers busy, and bounded. */
const IN_FLIGHT = 6;
/** Fewer compressed blocks than this are inflated inline: a round trip would cost more. */
const MIN_BATCHED = 8;

/** One batch of a file's blocks, decoded; `error` is thrown after yielding `blocks`, as the inline path would. */
interface Step {
  blocks: Uint8Array[];
  error?: unknown;
}

interface Planned {
  index: number;
  word: number;
  /** Offset in the batch's read, and length on disk. */
  at: number;
  len: number;
}

function onDiskSize(word: number): number {
  return (word & ~UNCOMPRESSED) >>> 0;
}

/** Everything a file's bytes are read through; one per opened image. */
export class DataReader {
  private readonly fragmentCache = new Map<number, Uint8Array>();

  constructor(
    private readonly src: ByteSource,
    private readonly sb: Superblock,
    private readonly decompress: Decompressor,
    private readonly fragments: FragmentTable,
    private readonly batchInflate?: BatchInflate,
  ) {}

  private async fragmentBlock(index: number, where: string): Promise<Uint8Array> {
    const hit = this.fragmentCache.get(index);
    if (hit) {
      this.fragmentCache.delete(index);
      this.fragmentCache.set(index, hit);
      return hit;
    }
    const { start, size } = await this.fragments.entry(index);
    const len = onDiskSize(size);
    if (len === 0 || len > this.sb.blockSize) throw squashError(`${where}: fragment ${index} has invalid size ${len}`);
    if (start + len > this.sb.bytesUsed) throw squashError(`${where}: fragment ${index} at ${start} (+${len}) lies outside the image`);
    const raw = await readExact(this.src, start, len, `fragment ${index}`);
    const data = size & UNCOMPRESSED ? raw : this.decompress.decode(raw, this.sb.blockSize, `${where}: fragment ${index}`);
    this.fragmentCache.set(index, data);
    if (this.fragmentCache.size > FRAGMENT_CACHE) this.fragmentCache.delete(this.fragmentCache.keys().next().value!);
    return data;
  }

  read(file: FileLayout, where: string): AsyncGenerator<Uint8Array> {
    // Only small blocks gain from batching: a batch of large blocks would be too few to send off.
    const batched = this.batchInflate && Math.floor(BATCH_OUT / this.sb.blockSize) >= MIN_BATCHED;
    return batched ? this.readBatched(file, where, this.batchInflate!) : this.readInline(file, where);
  }

  private async *readInline(file: FileLayout, where: string): AsyncGenerator<Uint8Array> {
    const bs = this.sb.blockSize;
    const end = this.sb.bytesUsed;
    const sizes = file.blockSizes;
    let pos = file.blocksStart;
    let chunk: Uint8Array | undefined;
    let chunkStart = 0;
    for (let i = 0; i < sizes.length; i++) {
      const word = sizes[i]!;
      const len = onDiskSize(word);
      const want = Math.min(bs, file.size - i * bs);
      let block: Uint8Array;
      if (len === 0) {
        block = new Uint8Array(want); // sparse block: mksquashfs stores no data for all-zero blocks
      } else {
        if (len > bs) throw squashError(`${where}: block ${i} claims ${len} bytes, more than the block size ${bs}`);
        if (pos + len > end) throw squashError(`${where}: block ${i} at ${pos} (+${len}) lies outside the image`);
        if (!chunk || pos + len > chunkStart + chunk.length) {
          let span = 0;
          for (let j = i; j < sizes.length; j++) {
            const s = onDiskSize(sizes[j]!);
            if (span > 0 && span + s > READ_AHEAD) break;
            span += s;
          }
          chunkStart = pos;
          chunk = await readExact(this.src, pos, Math.min(span, end - pos), `${where}: data`);
        }
        const raw = chunk.subarray(pos - chunkStart, pos - chunkStart + len);
        pos += len;
        const what = `${where}: block ${i}`;
        // Inline inflateSync: measured no slower than thread-pool inflate with a few blocks in flight.
        block = checkLength(word & UNCOMPRESSED ? raw : this.decompress.decode(raw, bs, what), want, what);
      }
      yield block;
    }
    yield* this.tail(file, where);
  }

  /**
   * Same blocks and errors as readInline, but runs of consecutive blocks are read with one read and
   * inflated by `inflate` in batches, a few batches ahead of the consumer.
   */
  private async *readBatched(file: FileLayout, where: string, inflate: BatchInflate): AsyncGenerator<Uint8Array> {
    const bs = this.sb.blockSize;
    const end = this.sb.bytesUsed;
    const sizes = file.blockSizes;
    const maxBlocks = Math.max(1, Math.floor(BATCH_OUT / bs));
    let next = 0;
    let pos = file.blocksStart;
    const plan = (): Promise<Step> => {
      const first = next;
      const start = pos;
      const items: Planned[] = [];
      let span = 0;
      let invalid: Error | undefined;
      while (next < sizes.length && next - first < maxBlocks) {
        const word = sizes[next]!;
        const len = onDiskSize(word);
        if (len > bs) invalid = squashError(`${where}: block ${next} claims ${len} bytes, more than the block size ${bs}`);
        else if (pos + len > end) invalid = squashError(`${where}: block ${next} at ${pos} (+${len}) lies outside the image`);
        if (invalid) {
          next = sizes.length; // nothing after a bad block is planned
          break;
        }
        if (span > 0 && span + len > READ_AHEAD) break;
        items.push({ index: next, word, at: span, len });
        span += len;
        pos += len;
        next++;
      }
      return this.decodeBatch(file, where, inflate, start, span, items, invalid);
    };
    const queue: Promise<Step>[] = [];
    const fill = (): void => {
      while (queue.length < IN_FLIGHT && next < sizes.length) queue.push(plan());
    };
    fill();
    while (queue.length > 0) {
      const step = await queue.shift()!;
      fill();
      for (const block of joinAdjacent(step.blocks)) yield block;
      if (step.error !== undefined) throw step.error;
    }
    yield* this.tail(file, where);
  }

  /** Never rejects: a failure comes back as Step.error, so batches abandoned by a consumer leave no unhandled rejection. */
  private async decodeBatch(file: FileLayout, where: string, inflate: BatchInflate, start: number, span: number, items: Planned[], invalid: Error | undefined): Promise<Step> {
    const bs = this.sb.blockSize;
    const blocks: Uint8Array[] = [];
    try {
      const chunk = span > 0 ? await readExact(this.src, start, span, `${where}: data`) : new Uint8Array(0);
      const packed = items.filter((it) => it.len > 0 && !(it.word & UNCOMPRESSED));
      const raw = (it: Planned): Uint8Array => chunk.subarray(it.at, it.at + it.len);
      let batch: { result: Awaited<ReturnType<BatchInflate>>; slot: Map<Planned, number> } | undefined;
      if (packed.length >= MIN_BATCHED) {
        batch = { result: await inflate(packed.map(raw), bs), slot: new Map(packed.map((it, k) => [it, k])) };
      }
      for (const it of items) {
        const want = Math.min(bs, file.size - it.index * bs);
        const what = `${where}: block ${it.index}`;
        let block: Uint8Array;
        if (it.len === 0) block = new Uint8Array(want);
        else if (it.word & UNCOMPRESSED) block = raw(it);
        else if (batch) {
          const k = batch.slot.get(it)!;
          const out = batch.result.out[k];
          if (out === undefined) {
            const e = batch.result.error;
            throw corrupt(what, new Error(e && e.index === k ? e.message : 'inflater returned no data'));
          }
          block = out;
        } else block = this.decompress.decode(raw(it), bs, what);
        blocks.push(checkLength(block, want, what));
      }
    } catch (error) {
      return { blocks, error };
    }
    return invalid ? { blocks, error: invalid } : { blocks };
  }

  private async *tail(file: FileLayout, where: string): AsyncGenerator<Uint8Array> {
    const tail = file.size - file.blockSizes.length * this.sb.blockSize;
    if (file.fragment !== NO_FRAGMENT && tail > 0) {
      const block = await this.fragmentBlock(file.fragment, where);
      const off = file.fragmentOffset;
      if (off + tail > block.length) throw squashError(`${where}: tail at ${off} (+${tail}) overruns fragment ${file.fragment} (${block.length} bytes)`);
      // A copy, so a consumer that keeps or alters the bytes cannot touch the shared cached block.
      yield block.slice(off, off + tail);
    }
  }
}

/** Blocks that sit back to back in one buffer (a batch's inflated output, a run of stored blocks) go out as one chunk: fewer async steps per byte. */
function joinAdjacent(blocks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of blocks) {
    const last = out[out.length - 1];
    if (last && last.buffer === b.buffer && last.byteOffset + last.length === b.byteOffset) {
      out[out.length - 1] = new Uint8Array(b.buffer, last.byteOffset, last.length + b.length);
    } else out.push(b);
  }
  return out;
}

function checkLength(data: Uint8Array, want: number, what: string): Uint8Array {
  if (data.length !== want) throw squashError(`${what} holds ${data.length} bytes, expected ${want}`);
  return data;
}
