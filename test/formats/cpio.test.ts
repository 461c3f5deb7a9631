import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexCpio, readCpio, writeCpio } from '../../src/formats/cpio/index.js';
import { gunzipChunks, gzipBytes, gzipChunks } from '../../src/formats/gzip.js';
import { bufferSource } from '../../src/formats/source.js';
import { FormatError } from '../../src/errors.js';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { buildTree } from './archive-build-tree.js';
import { treeOfDir, treeOfEntries, treeOfStream, type Tree, type TreeOptions } from '../helpers/tree.js';
import { bytesChunks, collect, fileChunks } from './chunks.js';

/** An archive round trip keeps mtimes and hard-link groups. */
const EXACT: TreeOptions = { mtime: true, hardLinks: true };
const ROOTFS = () => path.join(sharedMirror(), '6.x/x86_64/release/distribution_files/rootfs64.gz');

function cpioExtract(archive: Buffer, into: string): void {
  mkdirSync(into, { recursive: true });
  execFileSync('cpio', ['-idm', '--no-absolute-filenames', '--quiet'], { cwd: into, input: archive, stdio: ['pipe', 'ignore', 'pipe'] });
}

function gnuCpio(root: string, format: 'newc' | 'crc'): Buffer {
  const list = execSync('find . -mindepth 1 | sort', { cwd: root });
  return execFileSync('cpio', ['-o', '-H', format, '--quiet'], { cwd: root, input: list, maxBuffer: 64 << 20 });
}

describe('cpio: real TC rootfs64.gz', () => {
  requireTool('cpio');
  const tmp = tempDir('dbco-cpio-');
  let expected: Tree;
  let raw: Buffer;
  beforeAll(async () => {
    raw = gunzipSync(readFileSync(ROOTFS()));
    cpioExtract(raw, path.join(tmp.dir, 'x'));
    expected = treeOfDir(path.join(tmp.dir, 'x'), EXACT);
  });
  afterAll(() => tmp.cleanup());

  it('readCpio (streaming through gunzipChunks) gives the tree GNU cpio extracts', async () => {
    const got = await treeOfStream(readCpio(gunzipChunks(fileChunks(ROOTFS()))), EXACT);
    expect(got.size).toBeGreaterThan(600);
    expect(got).toEqual(expected);
    expect([...got.values()].some((n) => n.kind === 'char')).toBe(true);
  });

  it('indexCpio (random access over the gunzipped bytes) gives the same tree, bodies read lazily', async () => {
    const entries = await indexCpio(bufferSource(raw));
    expect(await treeOfEntries(entries, EXACT)).toEqual(expected);
    // open() twice reads twice: a fresh read each time
    const f = entries.find((e) => e.kind === 'file' && e.size > 1000)!;
    expect((await collect(f.open!())).equals(await collect(f.open!()))).toBe(true);
  });
});

describe('cpio: archives written by GNU cpio', () => {
  requireTool('cpio');
  requireTool('mknod');
  const tmp = tempDir('dbco-cpio-gen-');
  const src = path.join(tmp.dir, 'src');
  let expected: Tree;
  beforeAll(async () => {
    mkdirSync(src);
    buildTree(src);
    expected = treeOfDir(src, EXACT);
  });
  afterAll(() => tmp.cleanup());

  for (const format of ['newc', 'crc'] as const) {
    it(`reads -H ${format}: hard links, fifos, devices, symlinks, setuid/sticky, empty, big, long names`, async () => {
      const archive = gnuCpio(src, format);
      const streamed = await treeOfStream(readCpio(bytesChunks(archive)), EXACT);
      expect(streamed).toEqual(expected);
      expect(streamed.get('hl-a')!.links).toEqual(['d/hl-b', 'd/sub/linked', 'hl-a']);
      expect(streamed.get('empty-linked')!.links).toEqual(['empty-linked', 'empty-linked2']);
      expect(streamed.get('bigdev')!.dev).toBe('300,70000');
      expect(streamed.get('setgid')).toMatchObject({ uid: 2_100_000, gid: 3_000_000, mode: 0o2711 });
      expect(await treeOfEntries(await indexCpio(bufferSource(archive)), EXACT)).toEqual(expected);
    });
  }

  it('crc format: a flipped data byte is a FormatError', async () => {
    const archive = gnuCpio(src, 'crc');
    const at = archive.indexOf('shared content');
    archive[at] ^= 1;
    await expect(treeOfStream(readCpio(bytesChunks(archive)), EXACT)).rejects.toBeInstanceOf(FormatError);
  });

  it('reads two archives gzip-ed separately and concatenated (core.gz + extra initrd)', async () => {
    const two = path.join(tmp.dir, 'two');
    mkdirSync(path.join(two, 'etc'), { recursive: true });
    writeFileSync(path.join(two, 'etc/extra.conf'), 'second archive\n');
    const list = Buffer.from('etc\netc/extra.conf\n');
    const second = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: two, input: list });
    const gz = Buffer.concat([gzipSync(gnuCpio(src, 'newc')), gzipSync(second)]);
    const got = await treeOfStream(readCpio(gunzipChunks(bytesChunks(gz, 65536))), EXACT);
    expect(got.get('etc/extra.conf')).toMatchObject({ kind: 'file', size: 15 });
    expect(got.get('big.bin')).toEqual(expected.get('big.bin'));
    expect(got.size).toBe(expected.size + 2);
  });

  it('writeCpio: GNU cpio extracts what dbco wrote to the same tree; writing twice gives identical bytes', async () => {
    const entries = await indexCpio(bufferSource(gnuCpio(src, 'newc')));
    const a = await collect(writeCpio(entries));
    const b = await collect(writeCpio([...entries].reverse()));
    expect(a.equals(b)).toBe(true);
    expect(a.length % 512).toBe(0);
    const out = path.join(tmp.dir, 'out');
    cpioExtract(a, out);
    expect(treeOfDir(out, EXACT)).toEqual(expected);
    // and dbco reads its own output back to the same tree
    expect(await treeOfStream(readCpio(bytesChunks(a)), EXACT)).toEqual(expected);
  });
});

describe('cpio: inconsistent hard-link groups', () => {
  it('two data-bearing members sharing an inode both keep their data', async () => {
    const file = (p: string, text: string) => ({ path: p, kind: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: text.length, open: async function* () { yield Buffer.from(text); } });
    const archive = await collect(writeCpio([file('a', 'one'), file('b', 'two')]));
    // Forge: same ino (field 0) and nlink 2 (field 4) on both headers
    for (let at = archive.indexOf('070701'), n = 0; n < 2; at = archive.indexOf('070701', at + 1), n++) {
      archive.write('00000001', at + 6, 'latin1');
      archive.write('00000002', at + 6 + 4 * 8, 'latin1');
    }
    const got = await treeOfStream(readCpio(bytesChunks(archive)), EXACT);
    expect(got.get('a')).toMatchObject({ kind: 'file', size: 3 });
    expect(got.get('b')).toMatchObject({ kind: 'file', size: 3 });
    expect(got.get('a')!.sha256).not.toBe(got.get('b')!.sha256);
  });
});

describe('gzip helpers', () => {
  it('deterministic gzip: mtime 0, OS byte 3, same bytes streamed or at once; gunzip -t accepts it', async () => {
    requireTool('gzip');
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) & 0xff));
    const a = await collect(gzipChunks(bytesChunks(data, 10_000)));
    const b = gzipBytes(data);
    expect(a.equals(b)).toBe(true);
    expect([...a.subarray(4, 8)]).toEqual([0, 0, 0, 0]);
    expect(a[9]).toBe(3);
    expect(execFileSync('gzip', ['-dc'], { input: a }).equals(data)).toBe(true);
  });

  it('gunzipChunks: zero padding after the last member is fine; garbage or truncation is a FormatError', async () => {
    const two = Buffer.concat([gzipSync('hello'), gzipSync(' world')]);
    expect((await collect(gunzipChunks(bytesChunks(Buffer.concat([two, Buffer.alloc(512)]), 3)))).toString()).toBe('hello world');
    await expect(collect(gunzipChunks(bytesChunks(Buffer.concat([two, Buffer.from('junk')]))))).rejects.toBeInstanceOf(FormatError);
    await expect(collect(gunzipChunks(bytesChunks(two.subarray(0, two.length - 5))))).rejects.toBeInstanceOf(FormatError);
  });
});
