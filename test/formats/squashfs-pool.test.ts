import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { openSquashfs, type SquashfsOptions } from '../../src/formats/squashfs/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { createBlockPool, type BlockPool } from '../../src/io/block-pool.js';
import { requireTool, sharedTczs, tempDir } from '../helpers/env.js';
import { prng } from '../helpers/prng.js';

function text(n: number, seed: number): Buffer {
  const rand = prng(seed);
  const words = ['tiny', 'core', 'squashfs', 'block', 'inode', 'fragment', 'linux', 'extension'];
  const parts: string[] = [];
  for (let len = 0; len < n;) {
    const w = `${words[(rand() * words.length) | 0]}${rand() < 0.1 ? '\n' : ' '}`;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

function noise(n: number, seed: number): Buffer {
  const rand = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/** path, kind and content hash of every entry, read with or without the pool. */
async function listing(image: Uint8Array, options: SquashfsOptions): Promise<string[]> {
  const fs = await openSquashfs(bufferSource(image), options);
  const out: string[] = [];
  for await (const e of fs.entries()) {
    let line = `${e.path} ${e.kind} ${e.size}`;
    if (e.open) {
      const h = createHash('sha256');
      let n = 0;
      for await (const chunk of e.open()) {
        h.update(chunk);
        n += chunk.length;
      }
      line += ` ${n} ${h.digest('hex')}`;
    }
    out.push(line);
  }
  return out;
}

async function failure(image: Uint8Array, options: SquashfsOptions): Promise<unknown> {
  return listing(image, options).then(() => undefined, (err: unknown) => err);
}


let tmp: ReturnType<typeof tempDir>;
let pool: BlockPool;
const images = new Map<string, Buffer>();
/** Each image also as a file, for the pool's own reads. */
const files = new Map<string, string>();

beforeAll(() => {
  requireTool('mksquashfs');
  tmp = tempDir('dbco-sqfs-pool-');
  const tree = path.join(tmp.dir, 'tree');
  mkdirSync(path.join(tree, 'd'), { recursive: true });
  // Compressed, stored (random), sparse (zero) blocks and a fragment tail, all in one file.
  writeFileSync(path.join(tree, 'mixed'), Buffer.concat([text(300_000, 1), noise(20_000, 2), Buffer.alloc(40_000), text(150_000, 3), noise(777, 4)]));
  writeFileSync(path.join(tree, 'd/big-text'), text(3_000_000, 5));
  for (let i = 0; i < 30; i++) writeFileSync(path.join(tree, `d/small${i}`), text(100 + i * 997, 10 + i));
  for (const bs of ['4K', '64K', '128K']) {
    const image = path.join(tmp.dir, `gen-${bs}.sqfs`);
    execFileSync('mksquashfs', [tree, image, '-noappend', '-no-progress', '-quiet', '-comp', 'gzip', '-b', bs], { stdio: 'ignore' });
    images.set(`generated -b ${bs}`, readFileSync(image));
    files.set(`generated -b ${bs}`, image);
  }
  // Data stored uncompressed (-noD): runs of stored and sparse blocks only, which are read without the workers.
  const stored = path.join(tmp.dir, 'gen-noD.sqfs');
  execFileSync('mksquashfs', [tree, stored, '-noappend', '-no-progress', '-quiet', '-comp', 'gzip', '-b', '4K', '-noD'], { stdio: 'ignore' });
  images.set('generated -b 4K -noD', readFileSync(stored));
  files.set('generated -b 4K -noD', stored);
  const tczs = sharedTczs();
  expect(tczs.length).toBeGreaterThan(0);
  // The largest few real tczs: the most blocks per file.
  for (const t of tczs.map((p) => ({ p, n: readFileSync(p).length })).sort((a, b) => b.n - a.n).slice(0, 3)) {
    images.set(path.basename(t.p), readFileSync(t.p));
    files.set(path.basename(t.p), t.p);
  }
  pool = createBlockPool(2);
});
afterAll(async () => {
  await pool?.close();
  tmp?.cleanup();
});

describe('squashfs reader with the worker inflate pool', () => {
  test('reads generated images and real tczs exactly as the inline path does, from bytes and from the file', async () => {
    expect(images.size).toBeGreaterThanOrEqual(5);
    for (const [name, image] of images) {
      const inline = await listing(image, {});
      const fromBytes = await listing(image, { readBlockRun: pool.forSource(bufferSource(image)) });
      expect(fromBytes.length, name).toBe(inline.length);
      expect(fromBytes, name).toEqual(inline);
      expect(await listing(image, { readBlockRun: pool.forFile(files.get(name)!) }), name).toEqual(inline);
    }
  }, 120_000);

  test('a corrupt data block gives the same FormatError as inline, and no hang', async () => {
    const image = Buffer.from(images.get('generated -b 4K')!);
    // mksquashfs writes file data first, right after the 96-byte superblock; scramble a stretch
    // well inside it, which lands in the middle of some block's zlib stream.
    for (let i = 50_000; i < 50_040; i++) image[i] = image[i]! ^ 0x5a;
    const inline = await failure(image, {});
    expect(inline).toBeInstanceOf(FormatError);
    expect((inline as Error).message).toMatch(/block \d+: gzip data is corrupt/);
    const pooled = await failure(image, { readBlockRun: pool.forSource(bufferSource(image)) });
    expect(pooled).toBeInstanceOf(FormatError);
    expect((pooled as Error).message).toBe((inline as Error).message);
    const bad = path.join(tmp.dir, 'corrupt.sqfs');
    writeFileSync(bad, image);
    expect(((await failure(image, { readBlockRun: pool.forFile(bad) })) as Error).message).toBe((inline as Error).message);
    // The pool still works after a worker saw corrupt data.
    const good = images.get('generated -b 4K')!;
    expect(await listing(good, { readBlockRun: pool.forSource(bufferSource(good)) })).toEqual(await listing(good, {}));
  }, 60_000);

  test('runs of many concurrent readers share messages; a corrupt block fails only its own run', async () => {
    const p = createBlockPool(2);
    try {
      const plain = Array.from({ length: 60 }, (_, i) => text(500 + i * 61, 100 + i));
      const packed = plain.map((b) => deflateSync(b));
      packed[31] = Buffer.from(packed[31]!).fill(0x5a, 2, 20);
      // Block k of the "image" at offsets[k]; run k covers blocks k and k+1, run 30 covers 30, 31 (corrupt) and 32.
      const offsets = [0];
      for (const b of packed) offsets.push(offsets.at(-1)! + b.length);
      const bytes = Buffer.concat(packed);
      const file = path.join(tmp.dir, 'blocks.bin');
      writeFileSync(file, bytes);
      const runOf = (first: number, count: number) => ({
        start: offsets[first]!,
        span: offsets[first + count]! - offsets[first]!,
        words: Uint32Array.from(packed.slice(first, first + count).map((b) => b.length)),
        wants: new Uint32Array(count),
        maxOut: 8192,
      });
      for (const read of [p.forSource(bufferSource(bytes)), p.forFile(file)]) {
        const runs = Array.from({ length: 58 }, (_, k) => (k === 30 ? runOf(30, 3) : runOf(k, 2)));
        const results = await Promise.all(runs.map(read));
        for (let k = 0; k < results.length; k++) {
          const r = results[k]!;
          const blocks = Array.from(r.lengths.slice(0, r.error ? r.error.index : r.lengths.length)).reduce<Buffer[]>((acc, n) => {
            const at = acc.reduce((sum, b) => sum + b.length, 0);
            return [...acc, Buffer.from(r.out.subarray(at, at + n))];
          }, []);
          if (k === 30) {
            expect(r.error?.index).toBe(1);
            expect(blocks).toEqual([plain[30]]);
          } else if (k === 31) {
            expect(r.error?.index).toBe(0);
            expect(blocks).toEqual([]);
          } else {
            expect(r.error, `run ${k}`).toBeUndefined();
            expect(blocks, `run ${k}`).toEqual([plain[k], plain[k + 1]]);
          }
        }
        // A block that inflates past maxOut is an error of that block alone.
        const r = await read({ ...runOf(0, 2), maxOut: plain[0]!.length });
        expect(r.lengths[0]).toBe(plain[0]!.length);
        expect(r.error).toEqual({ index: 1, message: expect.stringMatching(/more than/) });
      }
      // Bytes past the end of the file: the run is rejected, naming the file.
      await expect(p.forFile(file)({ ...runOf(0, 1), start: bytes.length - 3 })).rejects.toThrow(/blocks\.bin: .* past the end/);
    } finally {
      await p.close();
    }
  });

  test('a closed pool rejects instead of hanging', async () => {
    const p = createBlockPool(1);
    await p.close();
    const run = { start: 0, span: 8, words: Uint32Array.of(8), wants: Uint32Array.of(0), maxOut: 4096 };
    await expect(p.forSource(bufferSource(new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])))(run)).rejects.toThrow(/closed/);
  });
});
