import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/formats/entry.js';
import { flattenLayers, normalizeEntries } from '../../src/rootfs/flatten.js';
import type { Layer } from '../../src/rootfs/layer.js';
import { textOf } from './helpers.js';

const dir = (path: string, mode = 0o755, uid = 0): Entry => ({ path, kind: 'dir', mode, uid, gid: 0, mtime: 0, size: 0 });
const file = (path: string, text: string, mode = 0o644): Entry => {
  const data = Buffer.from(text);
  return { path, kind: 'file', mode, uid: 0, gid: 0, mtime: 0, size: data.length, open: async function* () { yield data; } };
};
const link = (path: string, linkname: string): Entry => ({ path, kind: 'hardlink', linkname, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
const sym = (path: string, linkname: string): Entry => ({ path, kind: 'symlink', linkname, mode: 0o777, uid: 0, gid: 0, mtime: 0, size: 0 });
const layer = (id: string, entries: Entry[], whiteouts?: string[]): Layer => ({ id, entries, cacheKey: id, ...(whiteouts ? { whiteouts } : {}) });

const shape = (entries: Entry[]): string[] =>
  entries.map((e) => `${e.path} ${e.kind}${e.linkname ? `->${e.linkname}` : ''} ${e.mode.toString(8)}`);

describe('flattenLayers', () => {
  it('later layers win, directories merge (metadata of the later one), result sorted', async () => {
    const out = flattenLayers([
      layer('base', [dir('etc'), file('etc/a', 'base-a'), file('etc/b', 'base-b'), dir('usr', 0o755)]),
      layer('ext', [dir('etc', 0o775), file('etc/a', 'ext-a', 0o600), dir('usr/lib')]),
    ]);
    expect(shape(out)).toEqual(['etc dir 775', 'etc/a file 600', 'etc/b file 644', 'usr dir 755', 'usr/lib dir 755']);
    expect(await textOf(out[1])).toBe('ext-a');
    expect(await textOf(out[2])).toBe('base-b');
  });

  it('whiteouts delete a path with its whole subtree, and only that', () => {
    const out = flattenLayers([
      layer('base', [dir('opt'), dir('opt/x'), file('opt/x/1', '1'), dir('opt/x/y'), file('opt/x/y/2', '2'), file('opt/xx', 'keep'), file('opt/z', 'z')]),
      layer('up', [], ['opt/x', 'opt/z']),
    ]);
    expect(out.map((e) => e.path)).toEqual(['opt', 'opt/xx']);
  });

  it('a whiteout then a new entry at the same path in one layer gives the new entry', () => {
    const out = flattenLayers([layer('base', [dir('d'), file('d/old', 'o')]), layer('up', [file('d', 'now a file')], ['d'])]);
    expect(shape(out)).toEqual(['d file 644']);
  });

  it('a non-directory replacing a directory removes the subtree; a directory replacing a file has no stale children', () => {
    const out = flattenLayers([
      layer('base', [dir('a'), file('a/f', 'x'), file('b', 'file')]),
      layer('up', [sym('a', '/elsewhere'), dir('b'), file('b/c', 'c')]),
    ]);
    expect(shape(out)).toEqual(['a symlink->/elsewhere 777', 'b dir 755', 'b/c file 644']);
  });

  it('a hard link whose target is replaced later keeps the content it was made with', async () => {
    const out = flattenLayers([
      layer('base', [dir('bin'), file('bin/app', 'v1', 0o755), link('bin/app-alias', 'bin/app')]),
      layer('up', [file('bin/app', 'v2', 0o755)]),
    ]);
    const byPath = new Map(out.map((e) => [e.path, e]));
    expect(byPath.get('bin/app-alias')!.kind).toBe('file');
    expect(await textOf(byPath.get('bin/app-alias'))).toBe('v1');
    expect(await textOf(byPath.get('bin/app'))).toBe('v2');
  });

  it('a hard-link group whose data entry is deleted moves the data to the first remaining path', async () => {
    const out = flattenLayers([
      layer('base', [dir('x'), file('x/a', 'data'), link('x/b', 'x/a'), link('x/c', 'x/a')]),
      layer('up', [], ['x/a']),
    ]);
    expect(shape(out)).toEqual(['x dir 755', 'x/b file 644', 'x/c hardlink->x/b 644']);
    expect(await textOf(out[1])).toBe('data');
  });

  it('hard-link groups are canonical: data on the first path in sort order, links to it', () => {
    const out = normalizeEntries([dir('a'), file('a/z', 'data'), link('a-b', 'a/z'), link('a/y', 'a-b')]);
    expect(shape(out)).toEqual(['a dir 755', 'a-b file 644', 'a/y hardlink->a-b 644', 'a/z hardlink->a-b 644']);
  });

  it('a link into a lower layer resolves against that layer; links in a layer resolve before they replace', async () => {
    const out = flattenLayers([
      layer('base', [file('f', 'lower'), file('g', 'g')]),
      layer('up', [link('h', 'f'), link('g', 'f')]),
    ]);
    expect(shape(out)).toEqual(['f file 644', 'g hardlink->f 644', 'h hardlink->f 644']);
    expect(await textOf(out[0])).toBe('lower');
  });

  it('missing parents become root 0755 dirs; entries under a non-directory and dangling links are dropped', () => {
    const out = flattenLayers([
      layer('base', [file('etc', 'not a dir'), dir('usr', 0o700)]),
      layer('up', [file('etc/x', 'x'), file('usr/local/bin/t', 't'), link('dangling', 'nowhere')]),
    ]);
    expect(shape(out)).toEqual(['etc file 644', 'usr dir 700', 'usr/local dir 755', 'usr/local/bin dir 755', 'usr/local/bin/t file 644']);
  });

  it('duplicate paths inside one layer (concatenated cpio): the later one wins', async () => {
    const out = normalizeEntries([file('a', 'first'), dir('d'), file('a', 'second')]);
    expect(shape(out)).toEqual(['a file 644', 'd dir 755']);
    expect(await textOf(out[0])).toBe('second');
  });
});
