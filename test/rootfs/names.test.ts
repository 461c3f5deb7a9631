import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RecipeError } from '../../src/errors.js';
import { assembleRootfs, flattenLayers, materializeLayer } from '../../src/rootfs/index.js';
import { readTar } from '../../src/formats/tar/index.js';
import { createReadStream } from 'node:fs';
import { requireTool, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { removeImages } from '../docker/helpers/docker-util.js';
import { buildTcz } from './fixtures.js';
import { extension, inputs, textOf } from './helpers.js';

const tmp = tempDir('dbco-names-');
afterAll(() => tmp.cleanup());
const cache = { root: path.join(tmp.dir, 'cache') };

async function tarPaths(file: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { entry, body } of readTar(createReadStream(file) as AsyncIterable<Uint8Array>)) {
    out.push(entry.path);
    for await (const _ of body) { /* drain */ }
  }
  return out;
}

describe('.wh. names never become Docker whiteouts by accident', () => {
  it('a recipe file named .wh.* is refused, naming the field', async () => {
    for (const dest of ['/etc/.wh.passwd', '/usr/.wh..wh..opq', '/x/.wh.d/f']) {
      const inp = inputs({ recipe: { files: [{ dest: '/etc/motd', content: 'hi\n' }, { dest, content: '' }] } });
      const err = await assembleRootfs(inp, { cache, epoch: 0, setup: 'none' }).catch((e: unknown) => e);
      expect(err, dest).toBeInstanceOf(RecipeError);
      expect((err as RecipeError).field).toBe('files[1].dest');
      expect((err as RecipeError).message).toContain(`${dest}: a name starting with .wh. is a whiteout in a Docker layer`);
    }
  });

  it('a tcz carrying usr/.wh..wh..opq and etc/.wh.passwd: left out of every layer with a warning, /usr and /etc/passwd stay', async () => {
    const tcz = buildTcz(tmp.dir, 'whiteouts.tcz', {
      'usr/.wh..wh..opq': { text: '' },
      'etc/.wh.passwd': { text: '' },
      'usr/local/share/ok/file': { text: 'kept\n' },
    });
    const warnings: string[] = [];
    const log = { info: () => {}, warn: (m: string) => warnings.push(m) };
    const rootfs = await assembleRootfs(inputs({ extensions: [extension(tcz)] }), { cache, epoch: 0, setup: 'none', log });
    const ext = rootfs.layers.find((l) => l.id === 'ext:whiteouts.tcz')!;
    expect(ext.entries.map((e) => e.path).filter((p) => p.includes('.wh.'))).toEqual([]);
    expect(warnings).toEqual(['ext:whiteouts.tcz: left out 2 path(s) named .wh.* (/etc/.wh.passwd, /usr/.wh..wh..opq): Docker layers reserve that name for whiteouts']);
    const blob = await materializeLayer(ext, { cache, epoch: 0 });
    const inTar = await tarPaths(blob.path);
    expect(inTar.filter((p) => p.includes('.wh.'))).toEqual([]);
    expect(inTar).toContain('usr/local/share/ok/file');
    const flat = new Map(flattenLayers(rootfs.layers).map((e) => [e.path, e]));
    expect(flat.get('etc/passwd')?.kind).toBe('file');
    expect(flat.get('usr/bin')?.kind).toBe('dir');
    expect([...flat.keys()].filter((p) => p.startsWith('usr/')).length).toBeGreaterThan(50);
  });
});

/** A newc archive whose entries are written in the order given, duplicates and all. */
function newc(entries: { name: string; mode: number; data?: string }[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 100;
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = Buffer.from(e.data ?? '');
    const name = Buffer.from(`${e.name}\0`);
    const fields = [ino++, e.mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length, 0];
    parts.push(pad(Buffer.concat([Buffer.from(`070701${fields.map((v) => v.toString(16).toUpperCase().padStart(8, '0')).join('')}`), name])), pad(data));
  }
  return Buffer.concat(parts);
}

describe('a base cpio with two entries at one path: what the kernel\'s initramfs unpacker keeps', () => {
  // init/initramfs.c: clean_path() removes a node of another type first (rmdir for a directory,
  // which fails while it has children), then the new node is created.
  it('later entry wins, except a non-directory over a directory that already has children', async () => {
    const base = path.join(tmp.dir, 'dups.cpio.gz');
    writeFileSync(base, gzipSync(newc([
      { name: 'a', mode: 0o100644, data: 'file a\n' }, { name: 'a', mode: 0o40755 }, { name: 'a/inside', mode: 0o100644, data: 'x' },
      { name: 'd', mode: 0o40755 }, { name: 'd/x', mode: 0o100644, data: 'x' }, { name: 'd', mode: 0o100644, data: 'file d\n' },
      { name: 'e', mode: 0o40755 }, { name: 'e', mode: 0o100644, data: 'file e\n' },
      { name: 'f', mode: 0o100644, data: 'old\n' }, { name: 'f', mode: 0o100644, data: 'new\n' },
      { name: 's', mode: 0o40755 }, { name: 's/y', mode: 0o100644, data: 'y' }, { name: 's', mode: 0o120777, data: 'target' },
    ])));
    const rootfs = await assembleRootfs(inputs({ base }), { cache, epoch: 0, setup: 'none' });
    const byPath = new Map(rootfs.layers[0]!.entries.map((e) => [e.path, e]));
    expect(byPath.get('a')?.kind).toBe('dir');
    expect(byPath.has('a/inside')).toBe(true);
    expect(byPath.get('d')?.kind).toBe('dir');
    expect(byPath.has('d/x')).toBe(true);
    expect(byPath.get('e')?.kind).toBe('file');
    expect(await textOf(byPath.get('e'))).toBe('file e\n');
    expect(await textOf(byPath.get('f'))).toBe('new\n');
    expect(byPath.get('s')?.kind).toBe('dir');
  });
});

describe('setup scripts find /etc/sysconfig/tcuser (7.x Xprogs: cat: can\'t open at every start)', () => {
  it('the config layer writes what tc-config would, when a setup script runs and the base lacks it', async () => {
    const tcz = buildTcz(tmp.dir, 'readsuser.tcz', { 'usr/local/tce.installed/readsuser': { text: '#!/bin/sh\ncat /etc/sysconfig/tcuser\n', mode: 0o755 } });
    const rootfs = await assembleRootfs(inputs({ extensions: [extension(tcz)] }), { cache, epoch: 0, setup: 'boot' });
    const config = new Map(rootfs.layers.at(-1)!.entries.map((e) => [e.path, e]));
    expect(await textOf(config.get('etc/sysconfig/tcuser'))).toBe('tc\n');
    expect(config.get('etc/sysconfig/tcuser')).toMatchObject({ mode: 0o644, uid: 0, gid: 0 });
  });

  it('real 7.x Xprogs with setup: boot: the container starts without a word on stderr', async () => {
    requireTool('docker');
    const M = sharedMirror();
    const mirror = path.join(tmp.dir, 'mirror');
    const tczDir = path.join(mirror, '7.x/x86_64/tcz');
    mkdirSync(tczDir, { recursive: true });
    for (const f of ['Xprogs.tcz', 'Xprogs.tcz.md5.txt']) copyFileSync(path.join(M, '7.x/x86/tcz', f), path.join(tczDir, f));
    const recipe = path.join(tmp.dir, 'xprogs.yaml');
    const tag = `dbco-newcomer-xprogs-${process.pid}:1`;
    writeFileSync(recipe, `name: xprogs\nrelease: "7.2"\narch: x86_64\nbase: {file: ${JSON.stringify(path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz'))}}\n`
      + `extensions: [Xprogs]\nimage: {tag: "${tag}", setup: boot}\n`);
    try {
      const r = await runDbco(['image', recipe, '--docker', '-q', '--allow-outside-src', '--mirror', mirror, '--cache', path.join(tmp.dir, 'cache-x')]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const run = spawnSync('docker', ['run', '--rm', tag, 'true']);
      expect(run.stderr.toString()).toBe('');
      expect(run.status).toBe(0);
    } finally {
      removeImages(tag);
    }
  }, 300_000);
});
