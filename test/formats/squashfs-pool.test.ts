import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { openSquashfs, type SquashfsOptions } from '../../src/formats/squashfs/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { createInflatePool, type InflatePool } from '../../src/io/inflate-pool.js';
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
let pool: InflatePool;
const images = new Map<string, Buffer>();

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
  }
  const tczs = sharedTczs();
  expect(tczs.length).toBeGreaterThan(0);
  // The largest few real tczs: the most blocks per file.
  for (const t of tczs.map((p) => ({ p, n: readFileSync(p).length })).sort((a, b) => b.n - a.n).slice(0, 3)) {
    images.set(path.basename(t.p), readFileSync(t.p));
  }
  pool = createInflatePool(2);
});
afterAll(async () => {
  await pool?.close();
  tmp?.cleanup();
});

describe('squashfs reader with the worker inflate pool', () => {
  test('reads generated images and real tczs exactly as the inline path does', async () => {
    expect(images.size).toBeGreaterThanOrEqual(4);
    for (const [name, image] of images) {
      const inline = await listing(image, {});
      const pooled = await listing(image, { batchInflate: pool.batchInflate });
      expect(pooled.length, name).toBe(inline.length);
      expect(pooled, name).toEqual(inline);
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
    const pooled = await failure(image, { batchInflate: pool.batchInflate });
    expect(pooled).toBeInstanceOf(FormatError);
    expect((pooled as Error).message).toBe((inline as Error).message);
    // The pool still works after a worker saw corrupt data.
    const good = images.get('generated -b 4K')!;
    expect(await listing(good, { batchInflate: pool.batchInflate })).toEqual(await listing(good, {}));
  }, 60_000);

  test('a closed pool rejects instead of hanging', async () => {
    const p = createInflatePool(1);
    await p.close();
    await expect(p.batchInflate([new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])], 4096)).rejects.toThrow(/closed/);
  });
});
