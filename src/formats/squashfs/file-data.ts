import type { ByteSource } from '../source.js';
import { readExact } from './bytes.js';
import { corrupt, type BlockRun, type BlockRunResult, type Decompressor, type ReadBlockRun } from './decompress.js';
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
/** Decoded bytes per run handed to a ReadBlockRun: one message per ~this much data. */
const RUN_OUT = 512 * 1024;
/** Runs in flight per open stream: enough to keep the decoding threads busy on one large file, and bounded. */
const IN_FLIGHT = 4;

/** One run of a file's blocks, decoded; `error` is thrown after yielding `blocks`, as the inline path would. */
interface Step {
  blocks: Uint8Array[];
  error?: unknown;
}

function onDiskSize(word: number): number {
  return (word & ~UNCOMPRESSED) >>> 0;
}

/** Everything a file's bytes are read through; one per opened image. */
export class DataReader {
  private readonly fragmentCache = new Map<number, Promise<Uint8Array>>();

  constructor(
    private readonly src: ByteSource,
    private readonly sb: Superblock,
    private readonly decompress: Decompressor,
    private readonly fragments: FragmentTable,
    private readonly readRun?: ReadBlockRun,
  ) {}

  /** Cached as a promise: files read at once (see formats/read-ahead.ts) that share a fragment block decode it once. */
  private fragmentBlock(index: number, where: string): Promise<Uint8Array> {
    const hit = this.fragmentCache.get(index);
    if (hit) {
      this.fragmentCache.delete(index);
      this.fragmentCache.set(index, hit);
      return hit;
    }
    const block = this.decodeFragment(index, where);
    this.fragmentCache.set(index, block);
    // A failed decode is not kept: the error belongs to the read that met it.
    block.catch(() => this.fragmentCache.get(index) === block && this.fragmentCache.delete(index));
    if (this.fragmentCache.size > FRAGMENT_CACHE) this.fragmentCache.delete(this.fragmentCache.keys().next().value!);
    return block;
  }

  private async decodeFragment(index: number, where: string): Promise<Uint8Array> {
    const { start, size } = await this.fragments.entry(index);
    const len = onDiskSize(size);
    if (len === 0 || len > this.sb.blockSize) throw squashError(`${where}: fragment ${index} has invalid size ${len}`);
    if (start + len > this.sb.bytesUsed) throw squashError(`${where}: fragment ${index} at ${start} (+${len}) lies outside the image`);
    const what = `${where}: fragment ${index}`;
    if (this.readRun) {
      const r = await this.run(this.readRun, { start, span: len, words: Uint32Array.of(size), wants: Uint32Array.of(0), maxOut: this.sb.blockSize }, `fragment ${index}`);
      if (r.error) throw corrupt(what, new Error(r.error.message));
      return r.out.subarray(0, r.lengths[0]);
    }
    const raw = await readExact(this.src, start, len, `fragment ${index}`);
    return size & UNCOMPRESSED ? raw : this.decompress.decode(raw, this.sb.blockSize, what);
  }

  read(file: FileLayout, where: string): AsyncGenerator<Uint8Array> {
    return this.readRun ? this.readRuns(file, where, this.readRun) : this.readInline(file, where);
  }

  /** Without a ReadBlockRun (lz4 images, DBCO_INFLATE=inline): every block read and decoded on this thread. */
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
        block = checkLength(word & UNCOMPRESSED ? raw : this.decompress.decode(raw, bs, what), want, what);
      }
      yield block;
    }
    yield* this.tail(file, where);
  }

  /**
   * Same blocks and errors as readInline, but runs of consecutive blocks are read and decoded by
   * `readRun` (off this thread), a few runs ahead of the consumer.
   */
  private async *readRuns(file: FileLayout, where: string, readRun: ReadBlockRun): AsyncGenerator<Uint8Array> {
    const bs = this.sb.blockSize;
    const end = this.sb.bytesUsed;
    const sizes = file.blockSizes;
    const maxBlocks = Math.max(1, Math.floor(RUN_OUT / bs));
    let next = 0;
    let pos = file.blocksStart;
    const plan = (): Promise<Step> => {
      const first = next;
      const start = pos;
      let span = 0;
      let invalid: Error | undefined;
      while (next < sizes.length && next - first < maxBlocks) {
        const len = onDiskSize(sizes[next]!);
        if (len > bs) invalid = squashError(`${where}: block ${next} claims ${len} bytes, more than the block size ${bs}`);
        else if (pos + len > end) invalid = squashError(`${where}: block ${next} at ${pos} (+${len}) lies outside the image`);
        if (invalid) {
          next = sizes.length; // nothing after a bad block is planned
          break;
        }
        if (span > 0 && span + len > Math.max(READ_AHEAD, RUN_OUT)) break;
        span += len;
        pos += len;
        next++;
      }
      return this.decodeRun(file, where, readRun, first, next - first, start, span, invalid);
    };
    const queue: Promise<Step>[] = [];
    const fill = (): void => {
      while (queue.length < IN_FLIGHT && next < sizes.length) queue.push(plan());
    };
    fill();
    while (queue.length > 0) {
      const step = await queue.shift()!;
      fill();
      yield* step.blocks;
      if (step.error !== undefined) throw step.error;
    }
    yield* this.tail(file, where);
  }

  /** A run through `readRun`, with the bounds check and errors of readExact. */
  private async run(readRun: ReadBlockRun, run: BlockRun, what: string): Promise<BlockRunResult> {
    if (run.start + run.span > this.src.size) throw squashError(`${what} at ${run.start} (+${run.span}) lies outside the image (${this.src.size} bytes)`);
    try {
      return await readRun(run);
    } catch (err) {
      throw squashError(`${what} at ${run.start}: ${(err as Error).message}`, err);
    }
  }

  /** A run of stored and sparse blocks, read on this thread into one buffer, laid out as a ReadBlockRun would. */
  private async storedRun(start: number, span: number, words: Uint32Array, wants: Uint32Array, what: string): Promise<BlockRunResult> {
    const raw = await readExact(this.src, start, span, what);
    const sparse = (k: number): boolean => onDiskSize(words[k]!) === 0;
    const lengths = Int32Array.from(words, (w, k) => (sparse(k) ? wants[k]! : onDiskSize(w)));
    if (!words.some((_, k) => sparse(k))) return { out: raw, lengths };
    const out = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
    for (let k = 0, from = 0, at = 0; k < words.length; at += lengths[k]!, k++) {
      if (sparse(k)) continue; // zeros already
      out.set(raw.subarray(from, from + lengths[k]!), at);
      from += lengths[k]!;
    }
    return { out, lengths };
  }

  /** Never rejects: a failure comes back as Step.error, so runs abandoned by a consumer leave no unhandled rejection. */
  private async decodeRun(file: FileLayout, where: string, readRun: ReadBlockRun, first: number, count: number, start: number, span: number, invalid: Error | undefined): Promise<Step> {
    const bs = this.sb.blockSize;
    const blocks: Uint8Array[] = [];
    try {
      if (count > 0) {
        // A copy of just these words: a view would carry its whole buffer across to the worker.
        const words = file.blockSizes.slice(first, first + count);
        const wants = new Uint32Array(count);
        for (let k = 0; k < count; k++) wants[k] = Math.min(bs, file.size - (first + k) * bs);
        // Nothing to inflate (incompressible data is stored as is): a plain read here beats a round trip.
        const r = words.every((w) => w & UNCOMPRESSED || onDiskSize(w) === 0) ? await this.storedRun(start, span, words, wants, `${where}: data`) : await this.run(readRun, { start, span, words, wants, maxOut: bs }, `${where}: data`);
        let at = 0;
        for (let k = 0; k < count; k++) {
          const what = `${where}: block ${first + k}`;
          if (r.error && r.error.index === k) {
            if (at > 0) blocks.push(r.out.subarray(0, at)); // the good blocks before this one
            throw words[k]! & UNCOMPRESSED ? squashError(`${what}: ${r.error.message}`) : corrupt(what, new Error(r.error.message));
          }
          const n = r.lengths[k]!;
          if (n !== wants[k]) {
            if (at > 0) blocks.push(r.out.subarray(0, at)); // the good blocks before this one
            checkLength(r.out.subarray(at, at + n), wants[k]!, what);
          }
          at += n;
        }
        // One chunk for the whole run: the blocks lie back to back in the run's buffer.
        blocks.push(r.out.subarray(0, at));
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

function checkLength(data: Uint8Array, want: number, what: string): Uint8Array {
  if (data.length !== want) throw squashError(`${what} holds ${data.length} bytes, expected ${want}`);
  return data;
}
