import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../src/formats/entry.js';
import { readTar, writeTar } from '../../src/formats/tar/index.js';
import { sealChecksum } from '../../src/formats/tar/header.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { drainChecked, mutate, prng, randomChunks } from './archive-fuzz.js';
import { bytesChunks, collect } from './chunks.js';

const ITERATIONS = 10_000;

/** Re-seals header checksums so mutations reach the field parsers instead of stopping at the checksum. */
function resealHeaders(b: Uint8Array): void {
  for (let at = 0; at + 512 <= b.length; at += 512) {
    const blk = b.subarray(at, at + 512);
    if (blk[257] === 0x75 && blk[258] === 0x73) sealChecksum(blk); // 'us'tar
  }
}

describe('tar fuzz', () => {
  requireTool('tar');
  const tmp = tempDir('dbco-tar-fuzz-');
  afterAll(() => tmp.cleanup());

  it(`${ITERATIONS} mutated/truncated/random inputs end in a valid result, FormatError or UnsafePathError`, { timeout: 90_000 }, async () => {
    const src = path.join(tmp.dir, 'src');
    const long = 'x'.repeat(120);
    mkdirSync(path.join(src, `dir/${long}`), { recursive: true });
    writeFileSync(path.join(src, 'dir/a'), 'alpha\n'.repeat(100));
    linkSync(path.join(src, 'dir/a'), path.join(src, 'b'));
    symlinkSync('t'.repeat(150), path.join(src, 'sl'));
    writeFileSync(path.join(src, `dir/${long}/f`), 'f');
    const corpus: Uint8Array[] = ['pax', 'gnu', 'ustar'].map((f) =>
      execFileSync('tar', ['-cf', '-', `--format=${f}`, '--numeric-owner', ...(f === 'ustar' ? ['dir/a', 'b'] : ['.'])], { cwd: src }),
    );
    const body = Buffer.from('payload');
    const ents: Entry[] = [
      { path: `deep/${'y'.repeat(300)}`, kind: 'file', mode: 0o4755, uid: 3_000_000, gid: 7, mtime: 1, size: body.length, open: async function* () { yield body; } },
      { path: 'hl', kind: 'hardlink', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0, linkname: `deep/${'y'.repeat(300)}` },
      { path: 'dev', kind: 'char', mode: 0o600, uid: 0, gid: 0, mtime: 0, size: 0, devmajor: 4, devminor: 64 },
    ];
    corpus.push(await collect(writeTar(ents, { whiteouts: ['gone'] })));

    const rnd = prng(0x7a2);
    const outcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(corpus[i % corpus.length]!, rnd, '01234567 \0/.x.LKg5');
      if (rnd() < 0.7) resealHeaders(input);
      outcomes[await drainChecked(readTar(randomChunks(input, rnd)), `iteration ${i}`)]++;
    }
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(1000);
  });

  it('a forged size and pax length are refused without allocating them', async () => {
    const ents: Entry[] = [{ path: 'f', kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 3, open: async function* () { yield Buffer.from('abc'); } }];
    const archive = await collect(writeTar(ents));
    archive.write('77777777777', 124, 'latin1');
    sealChecksum(archive.subarray(0, 512));
    await expect(drainChecked(readTar(bytesChunks(archive)), 'forged size')).resolves.toBe('refused');
    archive[156] = 'x'.charCodeAt(0); // now a pax header claiming 8 GiB of records
    sealChecksum(archive.subarray(0, 512));
    await expect(drainChecked(readTar(bytesChunks(archive)), 'forged pax')).resolves.toBe('refused');
  });
});
