import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sharedMirror } from '../helpers/env.js';
import { bzImageVersion, bzImageVersionOffset, parseVersionText } from '../../src/resolve/kernel-version.js';

function header(version: string, ptr = 0x3000): Uint8Array {
  const b = Buffer.alloc(ptr + 0x200 + 128);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x020f, 0x206);
  b.writeUInt16LE(ptr, 0x20e);
  b.write(`${version} (builder@host) #1 SMP`, ptr + 0x200, 'latin1');
  return b;
}

describe('bzImage kernel version (pure)', () => {
  test('synthetic headers', () => {
    expect(bzImageVersion(header('6.1.2-tinycore64'))).toBe('6.1.2-tinycore64');
    expect(bzImageVersionOffset(header('x', 0x1234))).toBe(0x1434);
    const noMagic = header('6.1.2');
    noMagic[0x202] = 0;
    expect(bzImageVersion(noMagic)).toBeNull();
    expect(bzImageVersion(new Uint8Array(100))).toBeNull();
    expect(parseVersionText(Buffer.from('not a version\0'))).toBeNull();
  });

  test('real TC kernels from the first 16 KiB', () => {
    const M = sharedMirror();
    const k7 = readFileSync(path.join(M, '7.x/x86/release/distribution_files/vmlinuz')).subarray(0, 16384);
    const k6 = readFileSync(path.join(M, '6.x/x86_64/release/distribution_files/vmlinuz64')).subarray(0, 16384);
    expect(bzImageVersion(k7)).toBe('4.2.9-tinycore');
    expect(bzImageVersion(k6)).toBe('3.16.6-tinycore64');
  });
});
