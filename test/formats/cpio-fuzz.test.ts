import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, UnsafePathError } from '../../src/errors.js';
import { indexCpio, readCpio, writeCpio } from '../../src/formats/cpio/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { drainChecked, checkMeta, mutate, prng, randomChunks } from './archive-fuzz.js';
import { bytesChunks, collect } from './chunks.js';

const ITERATIONS = 10_000;

describe('cpio fuzz', () => {
  requireTool('cpio');
  const tmp = tempDir('dbco-cpio-fuzz-');
  afterAll(() => tmp.cleanup());

  it(`${ITERATIONS} mutated/truncated/random inputs end in a valid result, FormatError or UnsafePathError`, { timeout: 90_000 }, async () => {
    const src = path.join(tmp.dir, 'src');
    mkdirSync(path.join(src, 'dir/sub'), { recursive: true });
    writeFileSync(path.join(src, 'dir/a'), 'alpha\n'.repeat(40));
    linkSync(path.join(src, 'dir/a'), path.join(src, 'b'));
    writeFileSync(path.join(src, 'empty'), '');
    symlinkSync('dir/a', path.join(src, 'sl'));
    const names = 'dir\ndir/sub\ndir/a\nb\nempty\nsl\n';
    const corpus: Buffer[] = [
      execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: names }),
      execFileSync('cpio', ['-o', '-H', 'crc', '--quiet'], { cwd: src, input: names }),
    ];
    const parsed = await indexCpio(bufferSource(corpus[0]!));
    corpus.push(await collect(writeCpio(parsed)));
    corpus.push(Buffer.concat([corpus[0]!, corpus[1]!]));

    const rnd = prng(0xc910);
    const outcomes = { ok: 0, refused: 0 };
    const started = Date.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(corpus[i % corpus.length]!, rnd, '0123456789abcdefABCDEF/.\0ffff');
      const label = `iteration ${i}`;
      outcomes[await drainChecked(readCpio(randomChunks(input, rnd)), label)]++;
      try {
        for (const e of await indexCpio(bufferSource(input))) {
          checkMeta(e);
          if (e.open) for await (const _ of e.open());
        }
      } catch (err) {
        if (!(err instanceof FormatError || err instanceof UnsafePathError)) expect.fail(`${label} (indexCpio): ${(err as Error).stack}`);
      }
    }
    // The corpus must exercise both outcomes, or the mutations are not reaching the parser.
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('a forged 4 GiB file size is a FormatError, not an allocation', async () => {
    writeFileSync(path.join(tmp.dir, 'forged'), 'some data\n');
    const archive = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: tmp.dir, input: 'forged\n' });
    archive.write('FFFFFFFF', 54, 'latin1'); // filesize field
    await expect(drainChecked(readCpio(bytesChunks(archive)), 'forged')).resolves.toBe('refused');
    await expect(indexCpio(bufferSource(archive))).rejects.toBeInstanceOf(FormatError);
    archive.write('FFFFFFFF', 94, 'latin1'); // namesize field
    await expect(indexCpio(bufferSource(archive))).rejects.toThrow(/namesize/);
  });
});
