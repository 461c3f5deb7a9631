import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

/**
 * Asserts the cache holds nothing bad: every blob's sha256 equals its name and it is read-only, and
 * no temp file is left behind. Returns the blob names.
 */
export function assertCacheSound(root: string): string[] {
  const blobs = path.join(root, 'blobs/sha256');
  const names = existsSync(blobs) ? readdirSync(blobs) : [];
  for (const n of names) {
    const p = path.join(blobs, n);
    expect(createHash('sha256').update(readFileSync(p)).digest('hex'), p).toBe(n);
    expect(statSync(p).mode & 0o777, p).toBe(0o444);
  }
  const tmp = path.join(root, 'tmp');
  expect(existsSync(tmp) ? readdirSync(tmp) : [], 'temp files left in the cache').toEqual([]);
  return names;
}
