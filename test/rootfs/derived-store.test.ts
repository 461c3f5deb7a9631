import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeChunks } from '../../src/rootfs/derived-store.js';
import { tempDir } from '../helpers/env.js';

const tmp = tempDir('dbco-derived-store-');
afterAll(() => tmp.cleanup());

/** A tar-like stream: many 512-byte pieces, a few large ones, from one buffer the producer overwrites once the next chunk is asked for. */
async function* reusing(pieces: number[]): AsyncIterable<Uint8Array> {
  const shared = new Uint8Array(Math.max(...pieces));
  for (const [i, n] of pieces.entries()) {
    shared.fill(i % 251, 0, n);
    yield shared.subarray(0, n);
  }
}

function expected(pieces: number[]): Buffer {
  return Buffer.concat(pieces.map((n, i) => Buffer.alloc(n, i % 251)));
}

describe('writeChunks', () => {
  const pieces = [...Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? 100 : 512)), 200_000, 512, 3 * 1024 * 1024, ...Array.from({ length: 10 }, () => 512)];

  it('writes what each chunk held when it was yielded, though the producer reuses its memory, and counts the bytes', async () => {
    const file = path.join(tmp.dir, 'out.bin');
    const fh = await open(file, 'w');
    const seen: number[] = [];
    const size = await writeChunks(fh, reusing(pieces), (c) => seen.push(c.length));
    await fh.close();
    const want = expected(pieces);
    expect(size).toBe(want.length);
    expect(seen).toEqual(pieces);
    expect((await readFile(file)).equals(want)).toBe(true);
  });

  it('batches small chunks: a few writes, not one per chunk', async () => {
    const writes: number[] = [];
    const out: Buffer[] = [];
    const fh = {
      write: async (b: Uint8Array, off: number, len: number) => {
        writes.push(len);
        out.push(Buffer.from(b.subarray(off, off + len)));
        return { bytesWritten: len, buffer: b };
      },
    } as unknown as Parameters<typeof writeChunks>[0];
    await writeChunks(fh, reusing(pieces));
    expect(Buffer.concat(out).equals(expected(pieces))).toBe(true);
    // ~1.5 MiB of small pieces in 1 MiB batches, around the two large chunks written as they come.
    expect(writes.length).toBeLessThanOrEqual(6);
  });
});
