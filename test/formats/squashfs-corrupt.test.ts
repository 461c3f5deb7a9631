import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { openSquashfs } from '../../src/formats/squashfs/index.js';
import { bufferSource } from '../../src/formats/source.js';
import { requireTool, tempDir } from '../helpers/env.js';

/** Opens and fully reads an image; resolves to the error it fails with (or undefined). */
async function failure(bytes: Uint8Array): Promise<unknown> {
  try {
    const fs = await openSquashfs(bufferSource(bytes));
    for await (const e of fs.entries()) if (e.open) for await (const _ of e.open());
    return undefined;
  } catch (err) {
    return err;
  }
}

async function expectFormatError(bytes: Uint8Array, message: RegExp): Promise<void> {
  const err = await failure(bytes);
  expect(err).toBeInstanceOf(FormatError);
  expect((err as Error).message).toMatch(message);
}

let tmp: ReturnType<typeof tempDir>;
/** An image with nothing compressed, so names and fields can be patched in place. */
let plain: Buffer;

function patched(find: string, replace: Buffer | string, shift = 0): Buffer {
  const b = Buffer.from(plain);
  const at = b.indexOf(find);
  expect(at).toBeGreaterThan(0);
  expect(b.indexOf(find, at + 1)).toBe(-1);
  Buffer.from(replace).copy(b, at + shift);
  return b;
}

beforeAll(() => {
  requireTool('mksquashfs');
  tmp = tempDir('dbco-sqfs-corrupt-');
  const tree = path.join(tmp.dir, 'tree');
  mkdirSync(path.join(tree, 'DD'), { recursive: true });
  writeFileSync(path.join(tree, 'DD/QQ'), 'q\n');
  writeFileSync(path.join(tree, 'DD/RR'), 'r\n');
  const image = path.join(tmp.dir, 'plain.sqfs');
  execFileSync('mksquashfs', [tree, image, '-noappend', '-no-progress', '-quiet', '-noI', '-noD', '-noF', '-noX'], { stdio: 'ignore' });
  plain = readFileSync(image);
});
afterAll(() => tmp?.cleanup());

describe('squashfs reader refuses corrupt images with a FormatError', () => {
  test('the unpatched image reads', async () => {
    expect(await failure(plain)).toBeUndefined();
  });

  test.each([
    ['..', /entry name "\.\." is not allowed/],
    ['.', /entry name "\." is not allowed/],
    ['Q/', /contains '\/' or NUL/],
    ['Q\0', /contains '\/' or NUL/],
    ['RR', /entry name "RR" appears twice/],
  ])('a name patched to %j', async (name, message) => {
    if (name === '.') {
      // A one-byte name: the stored size (length minus one, just before the name) drops to 0.
      // The listing is misaligned after it, but the name check fires first.
      const b = patched('QQ', '.');
      b[b.indexOf('.Q') - 2]! -= 1;
      await expectFormatError(b, message);
      return;
    }
    await expectFormatError(patched('QQ', name), message);
  });

  test('a directory entry pointing back at the root is a loop', async () => {
    const b = Buffer.from(plain);
    const rootRef = b.readBigUInt64LE(32);
    expect(rootRef >> 16n).toBe(0n); // tiny image: every inode sits in the first metadata block
    // Entry layout: offset u16, inode delta i16, type u16, name size u16, then the name.
    b.writeUInt16LE(Number(rootRef & 0xffffn), b.indexOf('DD') - 8);
    await expectFormatError(b, /reached twice/);
  });

  test('bad magic, wrong version, truncation and a short image', async () => {
    const magic = Buffer.from(plain);
    magic.write('xxxx', 0);
    await expectFormatError(magic, /not a squashfs image/);
    const version = Buffer.from(plain);
    version.writeUInt16LE(3, 28);
    await expectFormatError(version, /version 3\.0 is not supported/);
    const used = Number(plain.readBigUInt64LE(40));
    await expectFormatError(plain.subarray(0, used - 1), /truncated/);
    await expectFormatError(plain.subarray(0, 50), /smaller than a superblock/);
  });

  test('a block size that is not a power of two', async () => {
    const b = Buffer.from(plain);
    b.writeUInt32LE(5000, 12);
    await expectFormatError(b, /block size 5000/);
  });
});
