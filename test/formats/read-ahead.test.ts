import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/formats/entry.js';
import { readAhead } from '../../src/formats/read-ahead.js';
import { writeTar } from '../../src/formats/tar/index.js';
import { collect } from './chunks.js';

/** Files whose reads take a few event-loop turns and record how many run at once and how many bytes they hold. */
function fixture(sizes: number[], opts: { failAt?: number } = {}) {
  const stats = { active: 0, maxActive: 0, opened: [] as string[], heldBytes: 0, maxHeld: 0 };
  const entries: Entry[] = sizes.map((size, i) => {
    const path = `f${String(i).padStart(3, '0')}`;
    const e: Entry = { path, kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size };
    if (size > 0) {
      e.open = async function* () {
        stats.opened.push(path);
        stats.active++;
        stats.maxActive = Math.max(stats.maxActive, stats.active);
        try {
          for (let at = 0; at < size; at += 1000) {
            await new Promise((r) => setImmediate(r));
            if (opts.failAt === i && at > 0) throw new Error(`read of ${path} failed`);
            const n = Math.min(1000, size - at);
            stats.heldBytes += n;
            stats.maxHeld = Math.max(stats.maxHeld, stats.heldBytes);
            yield new Uint8Array(n).fill(i & 0xff);
          }
        } finally {
          stats.active--;
        }
      };
    }
    return e;
  });
  return { entries, stats };
}

async function drain(items: AsyncIterable<{ entry: Entry; body: AsyncIterable<Uint8Array> }>, release?: (n: number) => void): Promise<string[]> {
  const seen: string[] = [];
  for await (const { entry, body } of items) {
    let n = 0;
    for await (const c of body) {
      expect(c.every((b) => b === (Number(entry.path.slice(1)) & 0xff))).toBe(true);
      n += c.length;
      release?.(c.length);
    }
    expect(n, entry.path).toBe(entry.size);
    seen.push(entry.path);
  }
  return seen;
}

describe('readAhead', () => {
  it('hands out every entry in order with its own bytes, reading several small files at once', async () => {
    const { entries, stats } = fixture(Array.from({ length: 60 }, (_, i) => 500 + ((i * 7919) % 5000)));
    const seen = await drain(readAhead(entries, { maxFiles: 8 }));
    expect(seen).toEqual(entries.map((e) => e.path));
    expect(stats.maxActive).toBeGreaterThan(1);
    expect(stats.maxActive).toBeLessThanOrEqual(8);
  });

  it('holds no more than maxBytes of files not yet handed out, and streams large files when reached', async () => {
    const sizes = [3000, 200_000, 4000, 4000, 4000, 4000, 4000, 4000, 150_000, 2000];
    const { entries, stats } = fixture(sizes);
    const seen = await drain(readAhead(entries, { maxBytes: 10_000, smallFile: 100_000 }), (n) => (stats.heldBytes -= n));
    expect(seen).toEqual(entries.map((e) => e.path));
    // Produced but not yet handed out: at most 10,000 bytes of small files read ahead, plus a chunk in hand.
    expect(stats.maxHeld).toBeLessThanOrEqual(10_000 + 1000);
    // Large files were opened only when their turn came: after every file before them.
    expect(stats.opened.indexOf('f001')).toBeGreaterThan(stats.opened.indexOf('f000'));
    expect(stats.opened.indexOf('f008')).toBeGreaterThan(stats.opened.indexOf('f007'));
  });

  it('a failed read surfaces at its own entry, after the entries before it were handed out whole', async () => {
    const { entries } = fixture([2000, 2000, 5000, 2000], { failAt: 2 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const { entry, body } of readAhead(entries)) {
        await collect(body);
        seen.push(entry.path);
      }
    })().then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toBe('read of f002 failed');
    expect(seen).toEqual(['f000', 'f001']);
  });

  it('a consumer that skips bodies or stops early still ends cleanly, closing its source', async () => {
    const { entries } = fixture([2000, 3000, 4000, 5000]);
    let closed = false;
    async function* source(): AsyncGenerator<Entry> {
      try {
        yield* entries;
        yield* entries.map((e) => ({ ...e, path: `${e.path}b` }));
      } finally {
        closed = true;
      }
    }
    const paths: string[] = [];
    for await (const { entry } of readAhead(source(), { lookahead: 2 })) {
      paths.push(entry.path);
      if (paths.length === 3) break;
    }
    expect(paths).toEqual(['f000', 'f001', 'f002']);
    expect(closed).toBe(true);
  });

  it('writeTar gives the same bytes whatever the read-ahead budget sees (bodies are matched to their entries)', async () => {
    const { entries } = fixture(Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 0 : 100 + i * 333)));
    const a = await collect(writeTar(entries, { mtime: 0 }));
    const b = await collect(writeTar([...entries].reverse(), { mtime: 0 }));
    expect(b.equals(a)).toBe(true);
    const slow = fixture(Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 0 : 100 + i * 333)));
    expect((await collect(writeTar(slow.entries, { mtime: 0 }))).equals(a)).toBe(true);
    expect(slow.stats.maxActive).toBeGreaterThan(1);
  });
});
