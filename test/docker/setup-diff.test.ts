import { afterAll, describe, expect, test } from 'vitest';
import type { Entry, EntryMeta } from '../../src/formats/entry.js';
import { diffSetupLayer, type ExportedEntry } from '../../src/outputs/docker/setup-diff.js';
import { readdirSync } from 'node:fs';
import { tempDir } from '../helpers/env.js';

const file = (path: string, content: string, extra: Partial<Entry> = {}): Entry => {
  const data = Buffer.from(content);
  return { path, kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: data.length, open: async function* () { yield data; }, ...extra };
};
const dir = (path: string, extra: Partial<Entry> = {}): Entry => ({ path, kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, ...extra });

async function* exportOf(entries: Entry[]): AsyncIterable<ExportedEntry> {
  for (const e of entries) {
    const { open, ...meta } = e;
    yield { entry: { ...(meta as EntryMeta), mtime: 1234 }, body: open ? open() : (async function* () {})() };
  }
}

async function read(e: Entry): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of e.open!()) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString();
}

describe('setup layer diff', () => {
  const spool = tempDir('dbco-spool-');
  afterAll(() => spool.cleanup());
  const lower: Entry[] = [
    dir('etc'), file('etc/keep', 'same'), file('etc/edit', 'old'), file('etc/chmod', 'x'),
    dir('gone'), file('gone/a', 'a'), file('gone/b', 'b'), file('rm-me', 'bye'),
    { path: 'link', kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, size: 0, linkname: 'etc/keep' },
    dir('dev'), { path: 'dev/null', kind: 'char', mode: 0o666, uid: 0, gid: 0, mtime: 0, size: 0, devmajor: 1, devminor: 3 },
    file('big', 'unchanged-content'), { path: 'big-link', kind: 'hardlink', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0, linkname: 'big' },
  ];

  test('changed, added and removed entries; docker-managed paths ignored', async () => {
    const after: Entry[] = [
      dir('etc'), file('etc/keep', 'same'), file('etc/edit', 'new!'), file('etc/chmod', 'x', { mode: 0o755 }),
      file('etc/hosts', '127.0.0.1 x'), file('etc/added', 'hi', { uid: 1001, gid: 50 }),
      { path: 'link', kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, size: 0, linkname: 'etc/edit' },
      dir('dev'), dir('dev/pts'), file('.dockerenv', ''), dir('proc'),
      file('big', 'unchanged-content'), { path: 'big-link', kind: 'hardlink', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0, linkname: 'big' },
      { path: 'new-link', kind: 'hardlink', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0, linkname: 'big' },
    ];
    const layer = await diffSetupLayer(lower, exportOf(after), { epoch: 42, cacheKey: 'setup:x', spoolDir: spool.dir });
    expect(layer.entries.map((e) => e.path)).toEqual(['etc/added', 'etc/chmod', 'etc/edit', 'link', 'new-link']);
    expect(layer.entries.every((e) => e.mtime === 42)).toBe(true);
    expect(await read(layer.entries.find((e) => e.path === 'etc/edit')!)).toBe('new!');
    expect(layer.entries.find((e) => e.path === 'etc/added')).toMatchObject({ uid: 1001, gid: 50, size: 2 });
    // A link to a file of a lower layer cannot stay a link inside this layer: it becomes a copy.
    const nl = layer.entries.find((e) => e.path === 'new-link')!;
    expect(nl.kind).toBe('file');
    expect(await read(nl)).toBe('unchanged-content');
    expect(layer.whiteouts).toEqual(['gone', 'rm-me']);
  });

  test('no change gives an empty layer', async () => {
    const layer = await diffSetupLayer(lower, exportOf(lower), { epoch: 0, cacheKey: 'k', spoolDir: spool.dir });
    expect(layer.entries).toEqual([]);
    expect(layer.whiteouts).toEqual([]);
  });

  test('large changed files are spooled to disk, unchanged ones leave nothing behind', async () => {
    const big = 'x'.repeat(3 << 20);
    const bigLower = [...lower, file('big-same', big), file('big-edit', big)];
    const after = [...lower, file('big-same', big), file('big-edit', `${big.slice(1)}y`), file('big-new', big)];
    const layer = await diffSetupLayer(bigLower, exportOf(after), { epoch: 0, cacheKey: 'k2', spoolDir: spool.dir });
    expect(layer.entries.map((e) => e.path)).toEqual(['big-edit', 'big-new']);
    expect(readdirSync(spool.dir).length).toBe(2);
    const edited = await read(layer.entries[0]!);
    expect(edited.length).toBe(3 << 20);
    expect(edited.endsWith('xy')).toBe(true);
  });
});
