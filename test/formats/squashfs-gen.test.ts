import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, ftruncateSync, linkSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FormatError } from '../../src/errors.js';
import type { Entry } from '../../src/formats/entry.js';
import { openSquashfs } from '../../src/formats/squashfs/index.js';
import { openFileSource } from '../../src/io/file-source.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { dbcoTree, unsquashfsTree } from './squashfs-compare.js';
import { prng } from '../helpers/prng.js';

function randomBytes(n: number, rand: () => number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

function text(n: number): Buffer {
  const lines: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const l = `line ${i} of a compressible file, ${'abc'.repeat(i % 7)}\n`;
    lines.push(l);
    len += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, n);
}

const PSEUDO = [
  'dev d 755 0 0',
  'dev/null c 666 0 0 1 3',
  'dev/sda b 660 0 6 8 0',
  'dev/big b 660 7 6 259 300000',
  'dev/fifo i 644 0 0 f',
  'dev/sock i 600 0 0 s',
];

/** A tree with every kind of node and layout mksquashfs has a distinct encoding for. */
function buildTree(root: string): void {
  const rand = prng(42);
  const p = (...parts: string[]): string => path.join(root, ...parts);
  mkdirSync(p('files'), { recursive: true });
  writeFileSync(p('files/empty'), '');
  writeFileSync(p('files/hello.txt'), 'hello\n');
  writeFileSync(p('files/text-300k.txt'), text(300_000));
  writeFileSync(p('files/random-700k.bin'), randomBytes(700_000, rand));
  writeFileSync(p('files/exact-128k.bin'), text(131_072));
  writeFileSync(p('files/mixed-2.5m.bin'), Buffer.concat([text(1_000_000), randomBytes(1_300_000, rand), text(321_123)]));

  mkdirSync(p('sparse'));
  const sparse = (name: string, size: number, writes: [number, string][]): void => {
    const fd = openSync(p('sparse', name), 'w');
    for (const [at, s] of writes) writeSync(fd, s, at);
    ftruncateSync(fd, size);
    closeSync(fd);
  };
  sparse('hole-5m', 5 * 1024 * 1024, []);
  sparse('middle', 3 * 1024 * 1024, [[1_500_000, 'data in the middle']]);
  sparse('tail', 2 * 1024 * 1024 + 100, [[2 * 1024 * 1024 + 90, '0123456789']]);

  mkdirSync(p('empty-dir'));
  let deep = p('deep');
  for (let i = 0; i < 100; i++) deep = path.join(deep, `d${i}`);
  mkdirSync(deep, { recursive: true });
  writeFileSync(path.join(deep, 'bottom'), 'at the bottom\n');

  mkdirSync(p('names', 'n'.repeat(255)), { recursive: true });
  writeFileSync(p('names', 'f'.repeat(255)), 'long name\n');
  writeFileSync(p('names', 'ünïcødé ✓'), 'utf-8 name\n');
  writeFileSync(p('names', 'with space'), 'space\n');

  mkdirSync(p('many'));
  for (let i = 0; i < 10_000; i++) writeFileSync(p('many', `f${String(i).padStart(5, '0')}`), i % 10 === 0 ? '' : `file ${i}\n`);

  mkdirSync(p('links/sub'), { recursive: true });
  writeFileSync(p('links/a'), 'linked content\n');
  linkSync(p('links/a'), p('links/b'));
  linkSync(p('links/a'), p('links/sub/c'));
  symlinkSync('a', p('links/sym'));
  symlinkSync('/etc/passwd', p('links/abs'));
  symlinkSync('does/not/exist', p('links/dangling'));
  linkSync(p('links/sym'), p('links/sym-hard'));

  mkdirSync(p('perms'));
  writeFileSync(p('perms/setuid'), '#!/bin/sh\n');
  chmodSync(p('perms/setuid'), 0o4755);
  writeFileSync(p('perms/setgid'), '#!/bin/sh\n');
  chmodSync(p('perms/setgid'), 0o2711);
  mkdirSync(p('perms/sticky'));
  chmodSync(p('perms/sticky'), 0o1777);
  writeFileSync(p('perms/none'), 'x');
  chmodSync(p('perms/none'), 0);
  writeFileSync(p('perms/owned'), 'owned\n');
  chownSync(p('perms/owned'), 1234, 5678);
  mkdirSync(p('perms/owned-dir'));
  chownSync(p('perms/owned-dir'), 65534, 100000);

  mkdirSync(p('ipc'));
  execFileSync('mkfifo', [p('ipc/fifo')]);
  // Extended inodes (dir, file, symlink, fifo) are only written for nodes with xattrs.
  requireTool('setfattr');
  for (const [rel, ns] of [['files', 'user'], ['files/hello.txt', 'user'], ['links/sym', 'trusted'], ['ipc/fifo', 'trusted']] as const) {
    execFileSync('setfattr', ['-h', '-n', `${ns}.dbco`, '-v', 'test', p(rel)]);
  }
}

let tmp: ReturnType<typeof tempDir>;
let tree: string;

function mksquashfs(name: string, args: string[], from = tree): string {
  const out = path.join(tmp.dir, `${name}.sqfs`);
  const pseudo = PSEUDO.flatMap((d) => ['-p', d]);
  execFileSync('mksquashfs', [from, out, '-noappend', '-no-progress', '-quiet', ...pseudo, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

beforeAll(() => {
  requireTool('mksquashfs');
  requireTool('unsquashfs');
  tmp = tempDir('dbco-sqfs-gen-');
  tree = path.join(tmp.dir, 'tree');
  buildTree(tree);
});
afterAll(() => tmp?.cleanup());

describe('squashfs reader on images made by mksquashfs', () => {
  const variants: [string, string[]][] = [
    ['gzip 4K blocks', ['-comp', 'gzip', '-b', '4K']],
    ['gzip 128K blocks', ['-comp', 'gzip', '-b', '128K']],
    ['gzip 1M blocks', ['-comp', 'gzip', '-b', '1M']],
    ['nothing compressed (-noI -noD -noF -noX)', ['-b', '4K', '-noI', '-noD', '-noF', '-noX']],
    ['-no-fragments', ['-b', '4K', '-no-fragments']],
    ['-always-use-fragments', ['-b', '4K', '-always-use-fragments']],
    ['lz4 (decoded in-process) 4K blocks', ['-comp', 'lz4', '-b', '4K']],
    ['lz4 -Xhc 128K blocks', ['-comp', 'lz4', '-Xhc', '-b', '128K']],
  ];
  test.each(variants)('%s: same tree as unsquashfs', async (name, args) => {
    const image = mksquashfs(name.replace(/\W+/g, '-'), args);
    const want = unsquashfsTree(image, path.join(tmp.dir, 'x'));
    const got = await dbcoTree(image);
    expect(got.nodes).toEqual(want.nodes);
    expect(got.links).toEqual(want.links);
    // The tree really holds what this suite is about.
    const paths = new Set(got.nodes.map((n) => n.path));
    expect(got.nodes.filter((n) => n.path.startsWith('many/')).length).toBe(10_000);
    expect([...paths].some((p) => p.split('/').length === 102)).toBe(true);
    expect(paths.has(`names/${'f'.repeat(255)}`)).toBe(true);
    // mksquashfs 4.5 does not always keep a hard-linked symlink linked (the comparison above covers both).
    expect(got.links).toContainEqual(['links/a', 'links/b', 'links/sub/c']);
    const kinds = new Set(got.nodes.map((n) => n.kind));
    expect([...kinds].sort()).toEqual(['block', 'char', 'dir', 'fifo', 'file', 'socket', 'symlink']);
    expect(got.nodes.find((n) => n.path === 'dev/big')).toMatchObject({ kind: 'block', dev: '259,300000', uid: 7, gid: 6 });
    expect(got.nodes.find((n) => n.path === 'perms/setuid')?.mode).toBe(0o4755);
    expect(got.nodes.find((n) => n.path === 'perms/owned-dir')).toMatchObject({ uid: 65534, gid: 100000 });
  });

  test('hard links: the first path is the file, later ones are hardlinks naming it', async () => {
    const image = mksquashfs('links', ['-b', '4K']);
    const src = await openFileSource(image);
    try {
      const fs = await openSquashfs(src);
      expect(fs.info).toMatchObject({ compressor: 'gzip', blockSize: 4096 });
      const entries: Entry[] = [];
      for await (const e of fs.entries()) if (e.path.startsWith('links/')) entries.push(e);
      const by = (p: string): Entry => entries.find((e) => e.path === p)!;
      expect(by('links/a')).toMatchObject({ kind: 'file', size: 15 });
      expect(by('links/b')).toMatchObject({ kind: 'hardlink', linkname: 'links/a', size: 0 });
      expect(by('links/b').open).toBeUndefined();
      expect(by('links/sub/c')).toMatchObject({ kind: 'hardlink', linkname: 'links/a' });
      expect(by('links/sym')).toMatchObject({ kind: 'symlink', linkname: 'a' });
      expect(entries.findIndex((e) => e.path === 'links/sub')).toBeLessThan(entries.findIndex((e) => e.path === 'links/sub/c'));
    } finally {
      await src.close();
    }
  });

  // Node 20 has no decoder for these and no npm package earned its place: each is refused by name.
  test.each(['xz', 'lzo', 'zstd', 'lzma'])('compressor %s is refused with a FormatError naming it', async (comp) => {
    const small = path.join(tmp.dir, `small-${comp}`);
    mkdirSync(small);
    writeFileSync(path.join(small, 'f'), 'x');
    const image = mksquashfs(`comp-${comp}`, ['-comp', comp], small);
    const src = await openFileSource(image);
    try {
      const err = await openSquashfs(src).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toBe(`squashfs: compressor ${comp} is not supported (image uses ${comp}; dbco reads gzip and lz4)`);
    } finally {
      await src.close();
    }
  });
});
