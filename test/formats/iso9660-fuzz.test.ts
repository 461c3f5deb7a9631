import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { openIso9660 } from '../../src/formats/iso9660/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { tempDir } from '../helpers/env.js';
import { xorrisoIso } from './iso9660-fixture.js';
import { prng as rng } from '../helpers/prng.js';

async function readAll(bytes: Uint8Array): Promise<number> {
  const iso = await openIso9660(bufferSource(bytes));
  let n = 0;
  for await (const e of iso.entries()) {
    n++;
    if (e.open) for await (const c of e.open()) n += c.length > 0 ? 0 : 0;
  }
  await iso.lookup('dir/sub/file.txt');
  await iso.list('dir');
  return n;
}

describe('ISO9660 reader under mutation', () => {
  let tmp: ReturnType<typeof tempDir>;
  let base: Uint8Array;

  beforeAll(() => {
    tmp = tempDir('dbco-isofuzz-');
    const s = path.join(tmp.dir, 'stage');
    mkdirSync(path.join(s, 'dir/sub/a/b/c/d/e/f/g/h'), { recursive: true });
    writeFileSync(path.join(s, 'dir/sub/file.txt'), 'hello\n'.repeat(500));
    writeFileSync(path.join(s, 'dir/sub/a/b/c/d/e/f/g/h/deep'), 'x');
    writeFileSync(path.join(s, `${'n'.repeat(200)}`), 'long name');
    symlinkSync('dir/sub/file.txt', path.join(s, 'link'));
    symlinkSync(`/${'p'.repeat(100)}/${'q'.repeat(200)}/r`, path.join(s, 'longlink'));
    base = readFileSync(xorrisoIso(s, path.join(tmp.dir, 'fuzz.iso'), ['-R', '-J']));
  });
  afterAll(() => tmp.cleanup());

  it('the unmutated image reads', async () => {
    expect(await readAll(base)).toBeGreaterThan(10);
  });

  it('2,000 mutated images: each reads fully or fails with FormatError(iso9660), never anything else', async () => {
    const rand = rng(0x150);
    // Mutate where the structure lives: descriptors, path tables, directories, continuation areas.
    const metaStart = 16 * 2048;
    const metaEnd = Math.min(base.length, 48 * 2048);
    let formatErrors = 0;
    let valid = 0;
    for (let i = 0; i < 2000; i++) {
      let img = Uint8Array.from(base);
      const kind = i % 4;
      const pos = () => metaStart + Math.floor(rand() * (metaEnd - metaStart));
      if (kind === 0) {
        for (let k = 1 + Math.floor(rand() * 8); k > 0; k--) img[pos()] ^= 1 << Math.floor(rand() * 8);
      } else if (kind === 1) {
        const p = pos();
        const v = [0, 0xff, 0x7f, 0x80, 1, 34][Math.floor(rand() * 6)]!;
        img.fill(v, p, Math.min(img.length, p + 1 + Math.floor(rand() * 4)));
      } else if (kind === 2) {
        img = img.subarray(0, Math.floor(rand() * base.length));
      } else {
        const p = pos() & ~3;
        new DataView(img.buffer).setUint32(p, Math.floor(rand() * 0xffffffff), true);
      }
      try {
        await readAll(img);
        valid++;
      } catch (err) {
        if (!(err instanceof FormatError) || err.format !== 'iso9660') {
          throw new Error(`mutation ${i} (kind ${kind}) threw a non-FormatError: ${String(err)}`, { cause: err });
        }
        formatErrors++;
      }
    }
    // Both outcomes must occur, or the mutations are not reaching the parser.
    expect(formatErrors).toBeGreaterThan(100);
    expect(valid).toBeGreaterThan(100);
  });
});
