/** Seeded mutation fuzzing shared by the cpio and tar fuzz suites. */
import { expect } from 'vitest';
import { FormatError, UnsafePathError } from '../../src/errors.js';
import type { EntryMeta } from '../../src/formats/entry.js';
import { safeMemberPath } from '../../src/formats/path.js';
import type { StreamEntry } from '../../src/formats/stream-reader.js';
export { prng } from '../helpers/prng.js';

export function mutate(base: Uint8Array, rnd: () => number, alphabet: string): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  let b = Uint8Array.from(base);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(7)) {
      case 0: // flip a byte
        if (b.length) b[int(b.length)] = int(256);
        break;
      case 1: // plausible character (hex/octal digit, '/', '.', NUL) to forge sizes and names
        if (b.length) b[int(b.length)] = alphabet.charCodeAt(int(alphabet.length));
        break;
      case 2: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: { // delete a range
        const at = int(b.length + 1);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + int(64))]);
        break;
      }
      case 4: { // insert random bytes
        const at = int(b.length + 1);
        const ins = Array.from({ length: 1 + int(32) }, () => int(256));
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 5: { // overwrite a run with one plausible character (e.g. 'ffffffff' sizes)
        const at = int(b.length + 1);
        const c = alphabet.charCodeAt(int(alphabet.length));
        for (let i = at; i < Math.min(b.length, at + 1 + int(12)); i++) b[i] = c;
        break;
      }
      default: // pure random input
        if (rnd() < 0.1) b = Uint8Array.from({ length: int(2048) }, () => int(256));
    }
  }
  return b;
}

export async function* randomChunks(b: Uint8Array, rnd: () => number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; ) {
    const n = 1 + Math.floor(rnd() * 1500);
    yield b.subarray(i, i + n);
    i += n;
  }
}

/** Drains every entry and body; returns 'ok' or 'refused', and fails the test on any other exception. */
export async function drainChecked(entries: AsyncIterable<StreamEntry>, label: string): Promise<'ok' | 'refused'> {
  try {
    for await (const { entry, body } of entries) {
      checkMeta(entry);
      let n = 0;
      for await (const c of body) n += c.length;
      if (entry.kind === 'file' && n !== entry.size) throw new Error(`${label}: body ${n} != size ${entry.size}`);
    }
    return 'ok';
  } catch (err) {
    if (err instanceof FormatError || err instanceof UnsafePathError) return 'refused';
    expect.fail(`${label}: unexpected ${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack}`);
  }
}

export function checkMeta(e: EntryMeta): void {
  if (safeMemberPath(e.path) !== e.path) throw new Error(`unsafe path emitted: ${JSON.stringify(e.path)}`);
  if (e.kind === 'hardlink' && safeMemberPath(e.linkname!) !== e.linkname) throw new Error('unsafe hardlink target emitted');
  if (!Number.isSafeInteger(e.size) || e.size < 0) throw new Error('bad size');
}
