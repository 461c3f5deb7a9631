import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { openSquashfs, type SquashfsOptions } from '../../src/formats/squashfs/index.js';
import { createBlockPool, type BlockPool } from '../../src/io/block-pool.js';
import { bufferSource } from '../../src/formats/source.js';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { prng } from '../helpers/prng.js';

/** Reads everything an image offers: every entry and every file's bytes. Returns bytes read. */
async function consume(bytes: Uint8Array, options: SquashfsOptions = {}): Promise<number> {
  const fs = await openSquashfs(bufferSource(bytes), options);
  let n = 0;
  for await (const e of fs.entries()) {
    n++;
    if (e.open) for await (const chunk of e.open()) n += chunk.length;
  }
  return n;
}

type Mutator = (base: Uint8Array, rand: () => number) => Uint8Array;
const int = (rand: () => number, n: number): number => Math.floor(rand() * n);

const HUGE = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0xffff, 0x8000, 0x1000000, 0x1001000];

const mutators: Record<string, Mutator> = {
  bitFlips: (base, rand) => {
    const b = Uint8Array.from(base);
    for (let k = 1 + int(rand, 8); k > 0; k--) b[int(rand, b.length)]! ^= 1 << int(rand, 8);
    return b;
  },
  overwrites: (base, rand) => {
    const b = Uint8Array.from(base);
    for (let k = 1 + int(rand, 4); k > 0; k--) {
      const at = int(rand, b.length);
      for (let i = 0; i < 1 + int(rand, 16) && at + i < b.length; i++) b[at + i] = int(rand, 256);
    }
    return b;
  },
  hugeFields: (base, rand) => {
    const b = Uint8Array.from(base);
    const view = new DataView(b.buffer);
    for (let k = 1 + int(rand, 3); k > 0; k--) {
      // Half the time hit the superblock, whose fields are all counts, sizes and offsets.
      const at = (rand() < 0.5 ? int(rand, 24) : int(rand, (b.length >> 2) - 1)) * 4;
      const v = HUGE[int(rand, HUGE.length)]!;
      if (rand() < 0.5) view.setUint32(at, v, true);
      else view.setUint16(at, v & 0xffff, true);
    }
    return b;
  },
  truncated: (base, rand) => base.slice(0, int(rand, base.length)),
  randomBytes: (base, rand) => {
    const b = new Uint8Array(int(rand, 8192));
    for (let i = 0; i < b.length; i++) b[i] = int(rand, 256);
    // Keep a valid superblock prefix half the time so the reader gets past the magic check.
    if (rand() < 0.5) b.set(base.subarray(0, Math.min(96, b.length)));
    return b;
  },
};

let tmp: ReturnType<typeof tempDir>;
let pool: BlockPool;
const bases: [string, Uint8Array][] = [];

beforeAll(() => {
  requireTool('mksquashfs');
  tmp = tempDir('dbco-sqfs-fuzz-');
  const tree = path.join(tmp.dir, 'tree');
  mkdirSync(path.join(tree, 'dir/sub'), { recursive: true });
  writeFileSync(path.join(tree, 'dir/multi'), Buffer.from('0123456789abcdef'.repeat(700)));
  writeFileSync(path.join(tree, 'dir/large'), Buffer.from('large and compressible '.repeat(15_000)));
  writeFileSync(path.join(tree, 'dir/sub/tail'), 'tail in a fragment\n');
  writeFileSync(path.join(tree, 'empty'), '');
  symlinkSync('dir/multi', path.join(tree, 'link'));
  execFileSync('ln', [path.join(tree, 'dir/multi'), path.join(tree, 'dir/hard')]);
  execFileSync('truncate', ['-s', '20000', path.join(tree, 'sparse')]);
  const make = (name: string, args: string[]): Uint8Array => {
    const out = path.join(tmp.dir, `${name}.sqfs`);
    execFileSync('mksquashfs', [tree, out, '-noappend', '-no-progress', '-quiet', '-b', '4K', '-p', 'dev d 755 0 0', '-p', 'dev/null c 666 0 0 1 3', '-p', 'fifo i 644 0 0 f', ...args], { stdio: 'ignore' });
    return readFileSync(out);
  };
  bases.push(['gzip', make('gzip', [])]);
  bases.push(['gzip 128K', make('gzip-128k', ['-b', '128K'])]);
  bases.push(['lz4', make('lz4', ['-comp', 'lz4'])]);
  bases.push(['uncompressed', make('plain', ['-noI', '-noD', '-noF', '-noX'])]);
  bases.push(['real tcz', readFileSync(path.join(sharedMirror(), '7.x/x86/tcz/libxshmfence.tcz'))]);
  pool = createBlockPool(2);
});
afterAll(async () => {
  await pool?.close();
  tmp?.cleanup();
});

describe('squashfs reader under fuzzing', () => {
  test('the unmutated bases read cleanly', async () => {
    for (const [, b] of bases) expect(await consume(b)).toBeGreaterThan(0);
    expect((await openSquashfs(bufferSource(bases[1]![1]))).info.blockSize).toBe(128 * 1024);
  });

  // FUZZ_INPUTS / FUZZ_SEED widen a local run; CI uses the fixed defaults.
  const count = Number(process.env.FUZZ_INPUTS ?? 20_000);
  test(`${count} mutated, truncated and random inputs end in a FormatError or a valid read`, async () => {
    const rand = prng(Number(process.env.FUZZ_SEED ?? 0x5eed));
    const names = Object.keys(mutators);
    const outcome = { ok: 0, formatError: 0 };
    let slowest = 0;
    for (let i = 0; i < count; i++) {
      const [baseName, base] = bases[i % bases.length]!;
      const how = names[int(rand, names.length)]!;
      const input = mutators[how]!(base, rand);
      const t0 = performance.now();
      try {
        await consume(input);
        outcome.ok++;
      } catch (err) {
        if (!(err instanceof FormatError)) {
          throw new Error(`input ${i} (${how} of ${baseName}) threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
        }
        outcome.formatError++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(outcome.ok + outcome.formatError).toBe(count);
    console.log(`squashfs fuzz: ${JSON.stringify(outcome)}, slowest input ${slowest.toFixed(0)} ms`);
    // Both outcomes must occur, or the mutations are not reaching the reader.
    expect(outcome.ok).toBeGreaterThan(100);
    expect(outcome.formatError).toBeGreaterThan(1000);
    expect(slowest).toBeLessThan(2000);
  }, 600_000);

  test('2000 of them through the worker pool end the same way as inline: same bytes, or a FormatError', async () => {
    const rand = prng(0xb10c);
    const names = Object.keys(mutators);
    const outcome = { ok: 0, formatError: 0 };
    for (let i = 0; i < 2000; i++) {
      const [baseName, base] = bases[i % bases.length]!;
      const how = names[int(rand, names.length)]!;
      const input = mutators[how]!(base, rand);
      const settle = (p: Promise<number>): Promise<number | Error> => p.catch((err: unknown) => err as Error);
      const inline = await settle(consume(input));
      const pooled = await settle(consume(input, { readBlockRun: pool.forSource(bufferSource(input)) }));
      const what = `input ${i} (${how} of ${baseName})`;
      if (typeof inline === 'number') {
        expect(pooled, what).toBe(inline);
        outcome.ok++;
      } else {
        expect(inline, what).toBeInstanceOf(FormatError);
        if (!(pooled instanceof FormatError)) throw new Error(`${what}: inline failed with a FormatError, the pool gave ${String(pooled)}`, { cause: pooled });
        outcome.formatError++;
      }
    }
    expect(outcome.ok).toBeGreaterThan(50);
    expect(outcome.formatError).toBeGreaterThan(200);
  }, 600_000);
});
