import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/env.js';
import { buildImageConfig, type ImageConfig } from '../../src/outputs/docker/config.js';
import { writeImageArchive, type ArchiveLayer } from '../../src/outputs/docker/archive.js';
import { connectEngine, imageExists } from '../../src/outputs/docker/engine.js';
import { Loader } from '../../src/outputs/docker/preload.js';
import { busyboxLayer, docker, removeImages } from './helpers/docker-util.js';
import type { Recipe } from '../../src/recipe/schema.js';

const recipe: Recipe = { name: 'preloadtest', release: '6.4.1', arch: 'x86_64', base: 'rootfs64.gz' };

/** A one-file layer written by GNU tar, deterministic, distinct per test run. */
function fileLayer(dir: string, name: string, text: string): ArchiveLayer {
  requireTool('tar');
  const root = path.join(dir, `${name}-root`);
  mkdirSync(path.join(root, 'etc'), { recursive: true });
  writeFileSync(path.join(root, 'etc', `${name}.txt`), text);
  const file = path.join(dir, `${name}.tar`);
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=ustar', '-cf', file, '-C', root, `etc/${name}.txt`]);
  const bytes = readFileSync(file);
  return { path: file, diffId: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

const later = <T>(value: T, ms: number): Promise<T> => new Promise((r) => setTimeout(() => r(value), ms));

describe('loading while layers are still being built', () => {
  const tmp = tempDir('dbco-preload-');
  const created: string[] = [];
  let layers: ArchiveLayer[];
  const configOf = (ls: ArchiveLayer[], extra: Record<string, string> = {}): ImageConfig => buildImageConfig({
    recipe: { ...recipe, image: { labels: { run: `${process.pid}-${Date.now()}`, ...extra }, cmd: ['/bin/sh', '-c', 'cat /etc/b.txt /etc/c.txt'] } },
    lockDigest: 'p', epoch: 0, layers: ls.map((l, i) => ({ id: `l${i}`, diffId: l.diffId })),
  });

  beforeAll(() => {
    requireTool('docker');
    const stamp = `${process.pid}-${Date.now()}`;
    layers = [busyboxLayer(tmp.dir), fileLayer(tmp.dir, 'b', `b ${stamp}\n`), fileLayer(tmp.dir, 'c', `c ${stamp}\n`)];
  });
  afterAll(() => { removeImages(...created); tmp.cleanup(); });

  test('an archive without the omitted blobs lists them in the manifest but does not hold them', async () => {
    const config = configOf(layers);
    const file = path.join(tmp.dir, 'omit.tar');
    const chunks: Buffer[] = [];
    for await (const c of writeImageArchive({ config, layers, tags: [], mtime: 0, omit: new Set([layers[0]!.diffId]) })) chunks.push(Buffer.from(c));
    writeFileSync(file, Buffer.concat(chunks));
    const names = execFileSync('tar', ['-tf', file]).toString().split('\n');
    expect(names).not.toContain(`blobs/sha256/${layers[0]!.diffId.slice(7)}`);
    expect(names).toContain(`blobs/sha256/${layers[1]!.diffId.slice(7)}`);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json']).toString()) as { Layers: string[] }[];
    expect(manifest[0]!.Layers).toHaveLength(3);
  });

  test('ready layers go in as an intermediate image; the final load omits them; cleanup leaves only the final image', async () => {
    const engine = await connectEngine();
    const loader = new Loader(engine, 0);
    const partials: string[] = [];
    const pending = [Promise.resolve(layers[0]!), later(layers[1]!, 1500), later(layers[2]!, 1500)];
    const built = await loader.preload(pending, (ready) => {
      const c = configOf(ready, { 'dbco.partial': 'true' });
      partials.push(c.id);
      created.push(c.id);
      return c;
    });
    expect(built.map((b) => b.diffId)).toEqual(layers.map((l) => l.diffId));
    // Layer 0 was ready long before the others: it was loaded on its own while they were "built".
    expect(partials.length).toBeGreaterThanOrEqual(1);
    expect(await imageExists(engine, partials[0]!)).toBe(true);

    const final = configOf(built);
    created.push(final.id);
    await loader.load(final, built);
    await loader.cleanup();
    for (const id of partials) expect(await imageExists(engine, id)).toBe(false);
    expect(docker(['run', '--rm', final.id]).split('\n')[0]).toMatch(/^b /);
  });

  test('when the preloaded layers are gone before the final load, the whole archive is sent', async () => {
    const engine = await connectEngine();
    const said: string[] = [];
    const loader = new Loader(engine, 0, { info: (m) => said.push(m), warn: (m) => said.push(m) });
    const partials: string[] = [];
    // A bottom layer no other image has, so removing the intermediate image really drops it.
    const own = [fileLayer(tmp.dir, 'd', `d ${process.pid} ${Date.now()}\n`), layers[1]!, layers[2]!];
    const pending = [Promise.resolve(own[0]!), later(own[1]!, 1500), later(own[2]!, 1500)];
    const built = await loader.preload(pending, (ready) => {
      // A label of its own: this run's intermediate image is not the previous test's.
      const c = configOf(ready, { 'dbco.partial': 'true', fallback: 'yes' });
      partials.push(c.id);
      created.push(c.id);
      return c;
    });
    expect(partials.length).toBeGreaterThanOrEqual(1);
    // Someone removes the intermediate images (and with them the only reference to their layers).
    removeImages(...partials);
    const final = configOf(built, { fallback: 'yes' });
    created.push(final.id);
    await loader.load(final, built);
    await loader.cleanup();
    expect(said.join('\n')).toMatch(/did not take the archive without the \d+ layer\(s\) it was sent before/);
    expect(await imageExists(engine, final.id)).toBe(true);
    expect(JSON.parse(docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', final.id]))).toEqual(own.map((l) => l.diffId));
  });
});
