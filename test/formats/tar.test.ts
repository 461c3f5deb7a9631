import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexCpio } from '../../src/formats/cpio/index.js';
import type { Entry } from '../../src/formats/entry.js';
import { bufferSource } from '../../src/formats/source.js';
import type { StreamEntry } from '../../src/formats/stream-reader.js';
import { readTar, writeTar } from '../../src/formats/tar/index.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { buildTree } from './archive-build-tree.js';
import { treeOfDir, treeOfStream, type Tree, type TreeOptions } from '../helpers/tree.js';
import { bytesChunks, collect } from './chunks.js';

const tar = (args: string[], opts: { cwd?: string; input?: Buffer } = {}) =>
  execFileSync('tar', args, { cwd: opts.cwd, input: opts.input, maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] });

/** An archive round trip keeps mtimes and hard-link groups. */
const EXACT: TreeOptions = { mtime: true, hardLinks: true };

async function entriesOf(it: AsyncIterable<StreamEntry>): Promise<string[]> {
  const paths: string[] = [];
  for await (const e of it) paths.push(e.entry.path);
  return paths;
}

function extract(archive: Buffer, into: string): void {
  mkdirSync(into, { recursive: true });
  tar(['-xpf', '-', '--numeric-owner'], { cwd: into, input: archive });
}

describe('tar: writeTar read back by GNU tar', () => {
  requireTool('tar');
  requireTool('cpio');
  const tmp = tempDir('dbco-tar-');
  const src = path.join(tmp.dir, 'src');
  let expected: Tree;
  let entries: Entry[];
  beforeAll(async () => {
    mkdirSync(src);
    buildTree(src);
    expected = treeOfDir(src, EXACT);
    // Entries of the on-disk tree, via GNU cpio (so hard links arrive as a real group)
    const list = execSync('find . -mindepth 1 | sort', { cwd: src });
    entries = await indexCpio(bufferSource(execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: list, maxBuffer: 64 << 20 })));
  });
  afterAll(() => tmp.cleanup());

  it('GNU tar extracts (-xpf --numeric-owner) the same tree and --compare finds no difference', async () => {
    const archive = await collect(writeTar(entries));
    const out = path.join(tmp.dir, 'x1');
    extract(archive, out);
    expect(treeOfDir(out, EXACT)).toEqual(expected);
    // --compare against the original tree: contents, modes, owners, link targets, devices
    tar(['--compare', '--numeric-owner', '-f', '-'], { cwd: src, input: archive });
    const listing = tar(['-tvf', '-', '--numeric-owner'], { input: archive }).toString();
    expect(listing).toMatch(/^-rwsr-xr-x 0\/0 .* setuid$/m);
    expect(listing).toMatch(/^-rwx--s--x 2100000\/3000000 .* setgid$/m);
    expect(listing).toMatch(/^drwxrwxrwt 0\/0 .* sticky\/$/m);
    expect(listing).toMatch(/^crw-r--r-- 0\/0 +300,70000 .* bigdev$/m);
    expect(listing).toMatch(/^prw-r--r-- 0\/0 .* fifo$/m);
    expect(listing).toMatch(/^hrw-r--r-- .* hl-a link to d\/hl-b$/m);
    expect(listing).toMatch(/^hrw-r--r-- .* d\/sub\/linked link to d\/hl-b$/m);
    expect(listing).toMatch(/ long-target -> \/very\/t{290}$/m);
    expect(listing).toContain(`${'L'.repeat(120)}/${'M'.repeat(150)}/${'n'.repeat(200)}`);
  });

  it('same entries in any order give the same bytes; two zero blocks end it, no extra padding', async () => {
    const a = await collect(writeTar(entries));
    const b = await collect(writeTar([...entries].reverse()));
    expect(a.equals(b)).toBe(true);
    expect(a.subarray(a.length - 1024).every((x) => x === 0)).toBe(true);
    expect(a.subarray(a.length - 1536, a.length - 1024).every((x) => x === 0)).toBe(false);
    // PAX appears only where ustar cannot hold a value
    const listing = tar(['-tvf', '-', '--numeric-owner', '--format=posix'], { input: a }).toString();
    expect(listing).not.toContain('PaxHeaders');
    const paxHeaders = [...a.toString('latin1').matchAll(/\d+ (path|linkpath|uid|gid|size|mtime)=/g)].map((m) => m[1]);
    expect(new Set(paxHeaders)).toEqual(new Set(['path', 'linkpath', 'uid', 'gid'])); // setgid is owned by 2100000:3000000
    const c = await collect(writeTar(entries, { mtime: 1_700_000_000 }));
    const out = path.join(tmp.dir, 'x2');
    extract(c, out);
    expect([...treeOfDir(out, EXACT).values()].filter((n) => n.kind === 'file').every((n) => n.mtime === 1_700_000_000)).toBe(true);
  });

  it('uid beyond ustar (> 2^21) goes to PAX; whiteouts become .wh. files', async () => {
    const body = Buffer.from('payload\n');
    const ents: Entry[] = [
      { path: 'etc', kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 5, size: 0 },
      { path: 'etc/owned', kind: 'file', mode: 0o600, uid: 5_000_000, gid: 1001, mtime: 5, size: body.length, open: async function* () { yield body; } },
    ];
    const archive = await collect(writeTar(ents, { whiteouts: ['etc/gone', 'usr/local/old'], opaque: ['var/cache'] }));
    expect(archive.toString('latin1')).toMatch(/\d+ uid=5000000\n/);
    const out = path.join(tmp.dir, 'x3');
    extract(archive, out);
    const got = treeOfDir(out, EXACT);
    expect(got.get('etc/owned')).toMatchObject({ uid: 5_000_000, gid: 1001, mode: 0o600, size: 8 });
    expect(got.get('etc/.wh.gone')).toMatchObject({ kind: 'file', size: 0 });
    expect(got.get('usr/local/.wh.old')).toMatchObject({ kind: 'file', size: 0 });
    const listing = tar(['-tf', '-'], { input: archive }).toString().trim().split('\n');
    expect(listing).toEqual(['etc/', 'etc/.wh.gone', 'etc/owned', 'usr/local/.wh.old', 'var/cache/.wh..wh..opq']);
  });

  it('readTar reads back its own output to the same tree', async () => {
    const archive = await collect(writeTar(entries));
    expect(await treeOfStream(readTar(bytesChunks(archive)), EXACT)).toEqual(expected);
  });

  it('an empty archive (our writer with no entries, GNU tar -T /dev/null) reads as no entries; one zero block then data does not', async () => {
    const ours = await collect(writeTar([]));
    expect(ours.length).toBe(1024);
    expect(tar(['-tf', '-'], { input: ours }).toString()).toBe('');
    expect(await entriesOf(readTar(bytesChunks(ours)))).toEqual([]);
    const gnu = tar(['-cf', '-', '-T', '/dev/null']);
    expect(await entriesOf(readTar(bytesChunks(gnu, 700)))).toEqual([]);
    const damaged = Buffer.concat([Buffer.alloc(512), await collect(writeTar(entries.slice(0, 3)))]);
    await expect(entriesOf(readTar(bytesChunks(damaged)))).rejects.toThrow(/single end-of-archive block/);
  });

  for (const format of ['ustar', 'pax', 'gnu', 'oldgnu'] as const) {
    it(`readTar reads GNU tar --format=${format} output as GNU tar extracts it`, async () => {
      // ustar/oldgnu cannot hold the whole tree (long names, big ids): give them the part they can.
      const members = format === 'ustar' || format === 'oldgnu' ? ['d', 'empty', 'setuid', 'sticky', 'fifo', 'hl-a', 'abs-link'] : ['.'];
      const archive = tar(['-cf', '-', `--format=${format}`, ...members], { cwd: src });
      const out = path.join(tmp.dir, `gnu-${format}`);
      extract(archive, out);
      const want = treeOfDir(out, EXACT);
      expect(want.size).toBeGreaterThan(8);
      expect(await treeOfStream(readTar(bytesChunks(archive, 1000)), EXACT)).toEqual(want);
    });
  }
});
