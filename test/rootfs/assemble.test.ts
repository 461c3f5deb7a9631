import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../src/formats/entry.js';
import { assembleRootfs, flattenLayers, materializeLayer, SETUP_WRAPPER_PATH } from '../../src/rootfs/index.js';
import type { Rootfs } from '../../src/rootfs/layer.js';
import { derivedPath } from '../../src/rootfs/derived-store.js';
import type { CachedFile } from '../../src/cache/cached-file.js';
import type { PreparedInputs } from '../../src/resolve/prepared.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { buildFixtureTczs } from './fixtures.js';
import { extension, inputs, textOf } from './helpers.js';

const tmp = tempDir('dbco-assemble-');
let tczs: ReturnType<typeof buildFixtureTczs>;
let recipeDir: string;
let inp: PreparedInputs;
let rootfs: Rootfs;

beforeAll(async () => {
  tczs = buildFixtureTczs(tmp.dir);
  recipeDir = path.join(tmp.dir, 'recipe');
  mkdirSync(recipeDir);
  writeFileSync(path.join(recipeDir, 'app.conf'), 'key=value\n');
  inp = inputs({
    recipeDir,
    extensions: [extension(tczs.plain), extension(tczs.setup), extension(tczs.kept), extension(tczs.mods)],
    recipe: {
      bootlocal: ['echo hi', '/usr/local/sbin/sshd'],
      persist: ['/usr/local/etc/ssh', 'etc/passwd', 'opt'],
      files: [
        { dest: '/etc/motd-dbco', content: 'welcome\n', mode: '0600', owner: '1001:50' },
        { dest: '/srv/app/deep/app.conf', src: 'app.conf' },
      ],
    },
  });
  rootfs = await assembleRootfs(inp, { cache: { root: path.join(tmp.dir, 'cache') }, epoch: 1700000000, setup: 'boot' });
});
afterAll(() => tmp.cleanup());

const byPath = (entries: Entry[]) => new Map(entries.map((e) => [e.path, e]));
const meta = (e: Entry | undefined) => e && { kind: e.kind, mode: e.mode.toString(8), owner: `${e.uid}:${e.gid}`, size: e.size };

describe('assembleRootfs', () => {
  it('layers: base, one per extension in install order, config', () => {
    expect(rootfs.arch).toBe('x86_64');
    expect(rootfs.layers.map((l) => l.id)).toEqual(['base', 'ext:plainext.tcz', 'ext:setupext.tcz', 'ext:keptext.tcz', 'ext:modsext.tcz', 'config']);
    expect(rootfs.layers[2]!.cacheKey).toBe(`tcz:${inp.extensions[1]!.file.sha256}:v2:epoch=1700000000`);
    for (const l of rootfs.layers) expect(l.entries.every((e) => e.mtime === 1700000000), l.id).toBe(true);
    const setup = byPath(rootfs.layers[2]!.entries);
    expect(meta(setup.get('usr/local/bin/suid'))).toEqual({ kind: 'file', mode: '4755', owner: '0:0', size: 4 });
    expect(meta(setup.get('usr/local/share/setupext/owned'))).toEqual({ kind: 'file', mode: '640', owner: '1001:50', size: 10 });
    expect(setup.get('usr/local/bin/hello-link')).toMatchObject({ kind: 'hardlink', linkname: 'usr/local/bin/hello' });
  });

  it('config layer: what tce-load records, bootlocal appended, filetool.lst merged, recipe files with parents', async () => {
    const config = byPath(rootfs.layers.at(-1)!.entries);
    expect(meta(config.get('usr/local/tce.installed'))).toEqual({ kind: 'dir', mode: '775', owner: '0:50', size: 0 });
    expect(meta(config.get('usr/local/tce.installed/plainext'))).toEqual({ kind: 'file', mode: '644', owner: '1001:50', size: 0 });
    expect(meta(config.get('usr/local/tce.installed/modsext'))).toEqual({ kind: 'file', mode: '644', owner: '1001:50', size: 0 });
    expect(config.has('usr/local/tce.installed/setupext')).toBe(false); // its executable script stays
    expect(config.has('usr/local/tce.installed/keptext')).toBe(false); // shipped non-executable: touch keeps it
    expect(rootfs.setupScripts).toEqual(['/usr/local/tce.installed/setupext']);

    expect(meta(config.get('opt/bootlocal.sh'))).toMatchObject({ mode: '775', owner: '0:50' });
    expect(await textOf(config.get('opt/bootlocal.sh'))).toBe('#!/bin/sh\n# put other system startup commands here\necho hi\n/usr/local/sbin/sshd\n');
    expect(meta(config.get('opt/.filetool.lst'))).toMatchObject({ mode: '664', owner: '0:50' });
    expect(await textOf(config.get('opt/.filetool.lst'))).toBe('opt\nhome\nusr/local/etc/ssh\netc/passwd\n');

    expect(meta(config.get('etc/motd-dbco'))).toEqual({ kind: 'file', mode: '600', owner: '1001:50', size: 8 });
    expect(await textOf(config.get('srv/app/deep/app.conf'))).toBe('key=value\n');
    for (const d of ['srv', 'srv/app', 'srv/app/deep']) expect(meta(config.get(d))).toEqual({ kind: 'dir', mode: '755', owner: '0:0', size: 0 });
    // Parents that exist below are repeated as they are there, so the layer is a complete tree by itself.
    expect(meta(config.get('opt'))).toEqual({ kind: 'dir', mode: '2775', owner: '0:50', size: 0 });
    // usr/local as the extensions left it: their root 0755 dirs replaced the base's root:staff 0775, as
    // busybox `cp -a` in tce-load does to an existing directory.
    expect(meta(config.get('usr/local'))).toEqual({ kind: 'dir', mode: '755', owner: '0:0', size: 0 });
  });

  it('setup boot: entrypoint wrapper, TC\'s /tmp/setup.lst, newmodules for the module extension', async () => {
    const config = byPath(rootfs.layers.at(-1)!.entries);
    const wrapper = config.get(SETUP_WRAPPER_PATH.slice(1));
    expect(meta(wrapper)).toMatchObject({ kind: 'file', mode: '755', owner: '0:0' });
    expect(meta(config.get('usr/local/sbin'))).toEqual({ kind: 'dir', mode: '755', owner: '0:0', size: 0 });
    const script = await textOf(wrapper);
    expect(script).toContain('/usr/local/tce.installed/setupext');
    requireTool('sh');
    execFileSync('sh', ['-n', '-c', script]);
    expect(await textOf(config.get('tmp/setup.lst'))).toBe('/usr/local/tce.installed/setupext\n');
    expect(config.has('etc/sysconfig/newmodules')).toBe(true);
    const none = await assembleRootfs(inp, { cache: { root: path.join(tmp.dir, 'cache') }, epoch: 1700000000, setup: 'none' });
    const plain = byPath(none.layers.at(-1)!.entries);
    expect([...plain.keys()].filter((p) => p.startsWith('tmp/') || p.includes('dbco-setup') || p.includes('newmodules'))).toEqual([]);
  });

  it('recipe errors name the field', async () => {
    const cache = { root: path.join(tmp.dir, 'cache') };
    const bad = (files: NonNullable<PreparedInputs['recipe']['files']>) => assembleRootfs({ ...inp, recipe: { ...inp.recipe, files } }, { cache, epoch: 0, setup: 'none' });
    await expect(bad([{ dest: '/etc/x', src: 'missing.conf' }])).rejects.toThrow(/files\[0\]\.src: cannot read .*missing\.conf: ENOENT/);
    await expect(bad([{ dest: '/etc' , content: 'x' }])).rejects.toThrow(/files\[0\]\.dest: \/etc is a directory in the image/);
    await expect(bad([{ dest: '/../x', content: 'x' }])).rejects.toThrow(/files\[0\]\.dest: .*\.\./);
    await expect(bad([{ dest: '/etc/passwd/x', content: 'x' }])).rejects.toThrow(/files\[0\]\.dest: \/etc\/passwd is a file in the image/);
    await expect(bad([{ dest: '/opt/bootlocal.sh/x', content: 'x' }])).rejects.toThrow(/files\[0\]\.dest: \/opt\/bootlocal.sh is a file in this recipe/);
    await expect(bad([{ dest: '/a' }])).rejects.toThrow(/files\[0\]: give exactly one of src or content/);
  });
});

describe('layer tars', () => {
  it('the same tcz in two different recipes gives the identical layer tar', async () => {
    const cacheA = { root: path.join(tmp.dir, 'cache-a') };
    const cacheB = { root: path.join(tmp.dir, 'cache-b') };
    const other = inputs({ extensions: [extension(tczs.setup)], recipe: { name: 'other', bootlocal: ['true'] } });
    const a = (await assembleRootfs(inp, { cache: cacheA, epoch: 5, setup: 'build' })).layers.find((l) => l.id === 'ext:setupext.tcz')!;
    const b = (await assembleRootfs(other, { cache: cacheB, epoch: 5, setup: 'none' })).layers.find((l) => l.id === 'ext:setupext.tcz')!;
    expect(b.cacheKey).toBe(a.cacheKey);
    const [ta, tb] = [await materializeLayer(a, { cache: cacheA, epoch: 5 }), await materializeLayer(b, { cache: cacheB, epoch: 5 })];
    expect(tb.diffId).toBe(ta.diffId);
    expect(tb.size).toBe(ta.size);
    // The tar is what GNU tar reads back: sorted, every mtime = epoch, numeric owners kept.
    requireTool('tar');
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', ta.path], { env: { ...process.env, TZ: 'UTC' } }).toString();
    expect(listing).toMatch(/-rwsr-xr-x 0\/0\s+4 1970-01-01 00:00:05 usr\/local\/bin\/suid/);
    expect(listing).toMatch(/-rw-r----- 1001\/50\s+10 1970-01-01 00:00:05 usr\/local\/share\/setupext\/owned/);
    expect(listing).toMatch(/hrwxr-xr-x 0\/0\s+0 1970-01-01 00:00:05 usr\/local\/bin\/hello-link link to usr\/local\/bin\/hello/);
  });

  it('two cold builds give byte-identical layers; a warm build reads no gzip and no tcz', async () => {
    const roots = [path.join(tmp.dir, 'det-1'), path.join(tmp.dir, 'det-2')];
    const blobs = [];
    for (const root of roots) {
      const r = await assembleRootfs(inp, { cache: { root }, epoch: 42, setup: 'boot' });
      blobs.push(await Promise.all(r.layers.map((l) => materializeLayer(l, { cache: { root }, epoch: 42 }))));
    }
    expect(blobs[1]!.map((b) => b.diffId)).toEqual(blobs[0]!.map((b) => b.diffId));
    expect(blobs[0]!.every((b) => b.reused === false)).toBe(true);
    expect(new Set(blobs[0]!.map((b) => b.diffId)).size).toBe(blobs[0]!.length);

    const basePath = derivedPath(roots[0]!, 'base', `${inp.base.sha256}.cpio`);
    const before = statSync(basePath).mtimeMs;
    // Every archive path now points nowhere: only the derived store can answer.
    const gone = (f: CachedFile): CachedFile => ({ ...f, path: path.join(tmp.dir, "does-not-exist", path.basename(f.path)) });
    const warmInputs: PreparedInputs = { ...inp, base: gone(inp.base), extensions: inp.extensions.map((e) => ({ ...e, file: gone(e.file) })) };
    const warm = await assembleRootfs(warmInputs, { cache: { root: roots[0]! }, epoch: 42, setup: 'boot' });
    const again = await Promise.all(warm.layers.map((l) => materializeLayer(l, { cache: { root: roots[0]! }, epoch: 42 })));
    expect(again.map((b) => b.diffId)).toEqual(blobs[0]!.map((b) => b.diffId));
    expect(again.every((b) => b.reused)).toBe(true);
    expect(statSync(basePath).mtimeMs).toBe(before);
    // A different epoch is a different layer.
    const other = await materializeLayer(warm.layers[0]!, { cache: { root: roots[0]! }, epoch: 43 });
    expect(other.diffId).not.toBe(blobs[0]![0]!.diffId);
  });
});

describe('flattened rootfs', () => {
  it('has base + extensions + config with the right winners', async () => {
    const flat = byPath(flattenLayers(rootfs.layers));
    expect(await textOf(flat.get('usr/share/doc/tc/release.txt'))).toMatch(/6\.4\.1/);
    expect(flat.get('usr/local/bin/hello')?.kind).toBe('file');
    expect(flat.get('usr/local/bin/hello-link')).toMatchObject({ kind: 'hardlink', linkname: 'usr/local/bin/hello' });
    expect(await textOf(flat.get('opt/bootlocal.sh'))).toContain('/usr/local/sbin/sshd');
    expect(meta(flat.get('usr/local/tce.installed'))).toMatchObject({ mode: '775', owner: '0:50' });
  });
});
