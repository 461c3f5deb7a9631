import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { DigestMismatchError } from '../../src/errors.js';
import { FolderMirror, openMirror } from '../../src/mirror/index.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { assertCacheSound } from './cache-walk.js';

const TCZ = '14.x/x86_64/tcz';

describe('folder mirror (path and file:// URL)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

  beforeAll(() => {
    tmp = tempDir('dbco-folder-');
    root = path.join(tmp.dir, 'mirror');
    cpSync(path.join(sharedMirror(), '14.x'), path.join(root, '14.x'), { recursive: true });
  });
  afterAll(() => tmp.cleanup());

  it('a folder path: texts read in place, payloads copied into the cache verified', async () => {
    const cacheDir = path.join(tmp.dir, 'c1');
    const m = openMirror(root, { cache: new Cache(cacheDir) });
    expect(m).toBeInstanceOf(FolderMirror);
    expect(await m.text(`${TCZ}/iproute2.tcz.dep`)).toBe(readFileSync(path.join(root, TCZ, 'iproute2.tcz.dep'), 'utf8'));
    expect(await m.text(`${TCZ}/no-such.tcz.dep`)).toBeNull();
    const f = await m.fetch(`${TCZ}/iproute2.tcz`);
    expect(f!.sha256).toBe(sha(path.join(root, TCZ, 'iproute2.tcz')));
    expect(f!.path.startsWith(path.join(cacheDir, 'blobs/sha256/'))).toBe(true);
    expect(f!.origin).toBe(path.join(root, TCZ, 'iproute2.tcz'));
    expect(await m.fetch(`${TCZ}/no-such.tcz`)).toBeNull();
    expect(await m.fetch(TCZ)).toBeNull();
    expect(await m.exists!(`${TCZ}/dialog.tcz`)).toBe(true);
    expect(await m.exists!(`${TCZ}/no-such.tcz`)).toBe(false);
    expect(await m.exists!(TCZ)).toBe(false);
    assertCacheSound(cacheDir);
  });

  it('a file:// URL works the same', async () => {
    const m = openMirror(pathToFileURL(root).href, { cache: new Cache(path.join(tmp.dir, 'c2')) });
    const f = await m.fetch(`${TCZ}/dialog.tcz`);
    expect(f!.sha256).toBe(sha(path.join(root, TCZ, 'dialog.tcz')));
  });

  it('a wrong .md5.txt is a DigestMismatchError naming the file; nothing cached', async () => {
    const cacheDir = path.join(tmp.dir, 'c3');
    const bad = path.join(root, TCZ, 'db.tcz.md5.txt');
    const good = readFileSync(bad);
    chmodSync(bad, 0o644);
    writeFileSync(bad, `${'a'.repeat(32)}  db.tcz\n`);
    try {
      const err = await openMirror(root, { cache: new Cache(cacheDir) }).fetch(`${TCZ}/db.tcz`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DigestMismatchError);
      expect((err as Error).message).toContain(`${path.join(root, TCZ, 'db.tcz')}: md5 mismatch: expected ${'a'.repeat(32)}`);
      expect(assertCacheSound(cacheDir)).toEqual([]);
    } finally {
      writeFileSync(bad, good);
    }
  });

  it('an unchanged file is not copied again; a changed one is re-verified', async () => {
    const cacheDir = path.join(tmp.dir, 'c4');
    const rel = `${TCZ}/ncursesw.tcz`;
    const copied: string[] = [];
    const log = { info: (msg: string) => copied.push(msg), warn: () => undefined };
    const m = openMirror(root, { cache: new Cache(cacheDir), log });
    const first = await m.fetch(rel);
    expect((await m.fetch(rel))!.sha256).toBe(first!.sha256);
    expect(copied).toEqual([`copied ${path.join(root, rel)} (${first!.size} bytes)`]);
    const file = path.join(root, rel);
    chmodSync(file, 0o644);
    appendFileSync(file, 'tampered');
    await expect(m.fetch(rel)).rejects.toBeInstanceOf(DigestMismatchError);
    assertCacheSound(cacheDir);
  });
});
