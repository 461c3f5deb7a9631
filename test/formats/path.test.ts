import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, UnsafePathError } from '../../src/errors.js';
import { readCpio, writeCpio } from '../../src/formats/cpio/index.js';
import type { Entry, EntryMeta } from '../../src/formats/entry.js';
import { safeMemberPath, safePath } from '../../src/formats/path.js';
import type { StreamEntry } from '../../src/formats/stream-reader.js';
import { readTar, writeTar } from '../../src/formats/tar/index.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { bytesChunks, collect } from './chunks.js';

describe('safePath', () => {
  it.each([
    ['/etc/x', 'etc/x'],
    ['./a//b/.', 'a/b'],
    ['a/b/', 'a/b'],
    ['///a', 'a'],
    ['.', ''],
    ['./', ''],
    ['/', ''],
    ['', ''],
    ['a/./b/./c', 'a/b/c'],
    ['..a/b..', '..a/b..'],
    ['a/...', 'a/...'],
  ])('%j -> %j', (raw, want) => {
    expect(safePath(raw)).toBe(want);
  });

  it.each(['../x', 'a/../../b', 'a/..', '..', '/../etc/passwd', 'a/../b', 'a\0b', '\0'])('refuses %j', (raw) => {
    expect(() => safePath(raw)).toThrow(UnsafePathError);
  });

  it('safeMemberPath refuses names that are the root', () => {
    for (const raw of ['', '.', '/', './/']) expect(() => safeMemberPath(raw)).toThrow(UnsafePathError);
    expect(safeMemberPath('./bin/sh')).toBe('bin/sh');
  });
});

/** Drains a reader, returning the entries it yielded before failing (if it failed). */
async function drain(entries: AsyncIterable<StreamEntry>): Promise<{ seen: EntryMeta[]; error?: unknown }> {
  const seen: EntryMeta[] = [];
  try {
    for await (const { entry, body } of entries) {
      seen.push(entry);
      for await (const _ of body);
    }
    return { seen };
  } catch (error) {
    return { seen, error };
  }
}

describe('archives with unsafe names (made by GNU cpio and GNU tar)', () => {
  requireTool('cpio');
  requireTool('tar');
  const tmp = tempDir('dbco-path-');
  afterAll(() => tmp.cleanup());
  const work = path.join(tmp.dir, 'w/in');
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(tmp.dir, 'w/outside'), 'escape\n');
  writeFileSync(path.join(work, 'ok'), 'fine\n');

  const cpioOf = (names: string[]) => execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: work, input: names.join('\n') + '\n' });
  const tarOf = (names: string[]) => execFileSync('tar', ['-cPf', '-', ...names], { cwd: work });

  for (const [fmt, make, read] of [
    ['cpio', cpioOf, readCpio],
    ['tar', tarOf, readTar],
  ] as const) {
    it(`${fmt}: '..' member refuses the archive with UnsafePathError; entries before it are safe`, async () => {
      const r = await drain(read(bytesChunks(make(['ok', '../outside']))));
      expect(r.error).toBeInstanceOf(UnsafePathError);
      expect((r.error as UnsafePathError).path).toBe('../outside');
      expect(r.seen.map((e) => e.path)).toEqual(['ok']);
    });

    it(`${fmt}: absolute member names become relative`, async () => {
      const abs = path.join(work, 'ok');
      const r = await drain(read(bytesChunks(make([abs]))));
      expect(r.error).toBeUndefined();
      expect(r.seen.map((e) => e.path)).toEqual([abs.slice(1)]);
    });
  }

  it('a NUL inside a cpio name is an UnsafePathError', async () => {
    const archive = cpioOf(['ok']);
    const at = archive.indexOf('ok\0');
    archive[at + 1] = 0; // name "o\0" + terminating NUL: namesize still 3
    const r = await drain(readCpio(bytesChunks(archive)));
    expect(r.error).toBeInstanceOf(UnsafePathError);
    expect(r.seen).toEqual([]);
  });

  it("'./' root entries are skipped, not emitted", async () => {
    const r = await drain(readCpio(bytesChunks(cpioOf(['.', './ok']))));
    expect(r.seen.map((e) => e.path)).toEqual(['ok']);
    const t = await drain(readTar(bytesChunks(tarOf(['.']))));
    expect(t.seen.map((e) => e.path)).toEqual(['ok']);
  });

  for (const [fmt, make, read] of [
    ['cpio', cpioOf, readCpio],
    ['tar', tarOf, readTar],
  ] as const) {
    it(`${fmt}: a member below a symlink of the same archive is an UnsafePathError`, async () => {
      mkdirSync(path.join(work, 'real'), { recursive: true });
      writeFileSync(path.join(work, 'real/x'), 'x\n');
      if (!existsSync(path.join(work, 'esc'))) symlinkSync('real', path.join(work, 'esc'));
      const r = await drain(read(bytesChunks(make(['esc', 'esc/x']))));
      expect(r.error).toBeInstanceOf(UnsafePathError);
      expect((r.error as UnsafePathError).message).toMatch(/below symlink "esc"/);
      expect(r.seen.map((e) => e.path)).toEqual(['esc']);
    });
  }

  it('read -> writeTar -> GNU tar -x stays inside the extraction root', async () => {
    const abs = path.join(work, 'ok');
    const entries: Entry[] = [];
    for await (const { entry, body } of readCpio(bytesChunks(cpioOf([abs, 'ok'])))) {
      const data = await collect(body);
      entries.push({ ...entry, open: async function* () { yield data; } });
    }
    const into = path.join(tmp.dir, 'extract/root');
    mkdirSync(into, { recursive: true });
    execFileSync('tar', ['-xf', '-'], { cwd: into, input: await collect(writeTar(entries)) });
    expect(readdirSync(path.join(tmp.dir, 'extract'))).toEqual(['root']);
    expect(readFileSync(path.join(into, abs.slice(1)), 'utf8')).toBe('fine\n');
    expect(readFileSync(path.join(into, 'ok'), 'utf8')).toBe('fine\n');
  });

  it('writers refuse entries below a symlink entry', async () => {
    const es: Entry[] = [
      { path: 'a', kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, size: 0, linkname: '/etc' },
      { path: 'a/passwd', kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 },
    ];
    await expect(collect(writeTar(es))).rejects.toBeInstanceOf(UnsafePathError);
    await expect(collect(writeCpio(es))).rejects.toBeInstanceOf(UnsafePathError);
  });

  it('writers refuse paths that are not normalized and contained', async () => {
    for (const p of ['../x', '/etc/x', 'a//b', 'a/', '', 'a/./b']) {
      const e = { path: p, kind: 'dir' as const, mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0 };
      const want = p.includes('..') || p === '' ? UnsafePathError : FormatError;
      await expect(collect(writeTar([e]))).rejects.toBeInstanceOf(want);
      await expect(collect(writeCpio([e]))).rejects.toBeInstanceOf(want);
    }
  });
});
