import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/env.js';
import { buildImageConfig, type ImageConfig } from '../../src/outputs/docker/config.js';
import { writeImageArchive, writeImageArchiveAsBuilt, type ArchiveLayer } from '../../src/outputs/docker/archive.js';
import { connectEngine, tagImage } from '../../src/outputs/docker/engine.js';
import { Loader, findImage } from '../../src/outputs/docker/preload.js';
import { busyboxLayer, engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';
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

describe('an archive for the engine that leaves blobs out', () => {
  const tmp = tempDir('dbco-preload-omit-');
  let layers: ArchiveLayer[];
  const configOf = (ls: ArchiveLayer[]): ImageConfig => buildImageConfig({
    recipe, lockDigest: 'p', epoch: 0, layers: ls.map((l, i) => ({ id: `l${i}`, diffId: l.diffId })),
  });
  beforeAll(() => {
    layers = [busyboxLayer(tmp.dir), fileLayer(tmp.dir, 'b', 'b\n'), fileLayer(tmp.dir, 'c', 'c\n')];
  });
  afterAll(() => tmp.cleanup());

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

  test('an archive sent as the build goes: ready layers come out before the rest exist; the members are those of the whole archive', async () => {
    let finishBuild!: () => void;
    const rest = new Promise<void>((r) => { finishBuild = r; });
    const pending = [Promise.resolve(layers[0]!), rest.then(() => layers[1]!), rest.then(() => layers[2]!)];
    const image = rest.then(() => ({ config: configOf(layers), layers }));
    const it = writeImageArchiveAsBuilt({ pending, image, tags: ['t:1'], mtime: 0 })[Symbol.asyncIterator]();
    const chunks: Buffer[] = [];
    // Everything of layer 0 (its header and its bytes) arrives while layers 1 and 2 are still "being built".
    const first = layers[0]!.size + 3 * 512;
    while (chunks.reduce((n, c) => n + c.length, 0) < first) {
      const r = await Promise.race([it.next(), later('waiting' as const, 5000)]);
      if (r === 'waiting') throw new Error('the archive waited for layers that were not ready before sending a ready one');
      if (r.done) throw new Error('ended early');
      chunks.push(Buffer.from(r.value));
    }
    finishBuild();
    for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(Buffer.from(r.value));
    const file = path.join(tmp.dir, 'as-built.tar');
    writeFileSync(file, Buffer.concat(chunks));
    const whole = path.join(tmp.dir, 'whole.tar');
    const all: Buffer[] = [];
    for await (const c of writeImageArchive({ config: configOf(layers), layers, tags: ['t:1'], mtime: 0 })) all.push(Buffer.from(c));
    writeFileSync(whole, Buffer.concat(all));
    const names = (f: string) => execFileSync('tar', ['-tf', f]).toString().split('\n').filter(Boolean);
    expect(names(file)[2]).toBe(`blobs/sha256/${layers[0]!.diffId.slice(7)}`);
    expect(names(file).at(-1)).not.toBe(`blobs/sha256/${layers[2]!.diffId.slice(7)}`);
    expect([...names(file)].sort()).toEqual([...names(whole)].sort());
    for (const n of names(whole).filter((x) => !x.endsWith('/') && x !== 'blobs' && x !== 'blobs/sha256')) {
      const member = (f: string) => execFileSync('tar', ['-xOf', f, n], { maxBuffer: 1 << 28 });
      expect(member(file).equals(member(whole))).toBe(true);
    }
  });

});

describe.each(ENGINES)('loading while layers are still being built, on $name', (e: TestEngine) => {
  const tmp = tempDir('dbco-preload-');
  const cli = engineCli(e.host);
  const created: string[] = [];
  let layers: ArchiveLayer[];
  const lockDigest = `p${process.pid}`;
  const configOf = (ls: ArchiveLayer[], extra: Record<string, string> = {}): ImageConfig => buildImageConfig({
    recipe: { ...recipe, image: { labels: { run: `${process.pid}-${Date.now()}`, ...extra }, cmd: ['/bin/sh', '-c', 'cat /etc/b.txt /etc/c.txt'] } },
    lockDigest, epoch: 0, layers: ls.map((l, i) => ({ id: `l${i}`, diffId: l.diffId })),
  });
  /** This process's dbco-internal tags (the Loader's owner token names the pid). */
  const ownTags = () => cli.imageTags().filter((t) => t.startsWith('dbco-internal/') && t.includes(`p${process.pid}-`));

  beforeAll(() => {
    requireEngine(e);
    const stamp = `${process.pid}-${Date.now()}-${e.name}`;
    layers = [busyboxLayer(tmp.dir), fileLayer(tmp.dir, 'b', `b ${stamp}\n`), fileLayer(tmp.dir, 'c', `c ${stamp}\n`)];
  });
  afterAll(() => { cli.removeImages(...created, ...ownTags()); tmp.cleanup(); });

  test('ready layers go in as an intermediate image under a tag of the run; the final load omits them; cleanup leaves only the final image', async () => {
    const engine = await connectEngine(2000, e.host);
    const loader = new Loader(engine, 0);
    const partials: [ImageConfig, ArchiveLayer[]][] = [];
    const pending = [Promise.resolve(layers[0]!), later(layers[1]!, 1500), later(layers[2]!, 1500)];
    const built = await loader.preload(pending, (ready) => {
      const c = configOf(ready, { 'dbco.partial': 'true' });
      partials.push([c, ready]);
      return c;
    });
    expect(built.map((b) => b.diffId)).toEqual(layers.map((l) => l.diffId));
    // Layer 0 was ready long before the others: it was loaded on its own while they were "built", tagged.
    expect(partials.length).toBeGreaterThanOrEqual(1);
    expect(await findImage(engine, ...partials[0]!)).toBeDefined();
    expect(ownTags().some((t) => t.startsWith('dbco-internal/partial:'))).toBe(true);

    const final = configOf(built);
    const ref = `dbco-internal/load:test-p${process.pid}-t0-h00000000`;
    const id = await loader.load(final, built, ref);
    // As a build does: the user's tag before the run's own tags go.
    const tag = `dbco-preload-${e.name}:${process.pid}`;
    await tagImage(engine, id, tag);
    created.push(tag);
    expect(await findImage(engine, final, built)).toBe(id);
    await loader.cleanup();
    for (const [c, ls] of partials) expect(await findImage(engine, c, ls)).toBeUndefined();
    expect(ownTags()).toEqual([]);
    // Nothing of this run is left untagged: the final image is held by its ID only through `created`.
    expect(cli.docker(['images', '-a', '-q', '--filter', 'dangling=true', '--filter', `label=dbco.lock.digest=${lockDigest}`]).trim()).toBe('');
    expect(cli.docker(['run', '--rm', tag]).split('\n')[0]).toMatch(/^b /);
  });

  test('when the preloaded layers are gone before the final load, the whole archive is sent', async () => {
    const engine = await connectEngine(2000, e.host);
    const said: string[] = [];
    const loader = new Loader(engine, 0, { info: (m) => said.push(m), warn: (m) => said.push(m) });
    // A bottom layer no other image has, so removing the intermediate image really drops it.
    const own = [fileLayer(tmp.dir, 'd', `d ${process.pid} ${Date.now()} ${e.name}\n`), layers[1]!, layers[2]!];
    const pending = [Promise.resolve(own[0]!), later(own[1]!, 1500), later(own[2]!, 1500)];
    const built = await loader.preload(pending, (ready) => configOf(ready, { 'dbco.partial': 'true', fallback: 'yes' }));
    // Someone removes the intermediate images (and with them the only reference to their layers).
    const partialTags = ownTags().filter((t) => t.startsWith('dbco-internal/partial:'));
    expect(partialTags.length).toBeGreaterThanOrEqual(1);
    cli.removeImages(...partialTags);
    const final = configOf(built, { fallback: 'yes' });
    const id = await loader.load(final, built, `dbco-internal/load:test2-p${process.pid}-t0-h00000000`);
    const tag = `dbco-preload-${e.name}:${process.pid}-fallback`;
    await tagImage(engine, id, tag);
    created.push(tag);
    await loader.cleanup();
    expect(said.join('\n')).toMatch(/did not take the archive without the \d+ layer\(s\) it was sent before/);
    expect(await findImage(engine, final, built)).toBe(id);
    expect(JSON.parse(cli.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', id]))).toEqual(own.map((l) => l.diffId));
    expect(ownTags()).toEqual([]);
  });
  test('one load sent while the layers are built: the image, under a tag of the run, as a whole load makes it; bottom layers the engine held are left out', async () => {
    const engine = await connectEngine(2000, e.host);
    const said: string[] = [];
    const loader = new Loader(engine, 0, { info: (m) => said.push(m), warn: (m) => said.push(m) });
    const pending = [Promise.resolve(layers[0]!), later(layers[1]!, 1000), later(layers[2]!, 1500)];
    const final = configOf(layers, { streamed: 'yes' });
    const ref = `dbco-internal/load:test3-p${process.pid}-t0-h00000000`;
    const id = await loader.loadAsBuilt(pending, later({ config: final, layers }, 1600), ref);
    const tag = `dbco-preload-${e.name}:${process.pid}-streamed`;
    await tagImage(engine, id, tag);
    created.push(tag);
    await loader.cleanup();
    expect(await findImage(engine, final, layers)).toBe(id);
    expect(cli.docker(['run', '--rm', tag]).split('\n')[0]).toMatch(/^b /);

    // A rebuild with the top layer changed: the two bottom ones are in the engine under the tag.
    const top = fileLayer(tmp.dir, 'e', `e ${process.pid} ${Date.now()} ${e.name}\n`);
    const next = [layers[0]!, layers[1]!, top];
    const again = new Loader(engine, 0, { info: (m) => said.push(m), warn: (m) => said.push(m) });
    again.assumeHeld(layers.map((l) => l.diffId));
    const config2 = configOf(next, { streamed: 'again' });
    const id2 = await again.loadAsBuilt([Promise.resolve(next[0]!), Promise.resolve(next[1]!), later(top, 500)], later({ config: config2, layers: next }, 600),
      `dbco-internal/load:test4-p${process.pid}-t0-h00000000`);
    const tag2 = `dbco-preload-${e.name}:${process.pid}-streamed2`;
    await tagImage(engine, id2, tag2);
    created.push(tag2);
    await again.cleanup();
    expect(said.join('\n')).not.toMatch(/did not take the archive/);
    expect(JSON.parse(cli.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', id2]))).toEqual(next.map((l) => l.diffId));
    expect(ownTags()).toEqual([]);
    expect(cli.docker(['images', '-a', '-q', '--filter', 'dangling=true', '--filter', `label=dbco.lock.digest=${lockDigest}`]).trim()).toBe('');
  });

  test('a streamed load whose build fails part-way fails with the build\'s error and leaves no image', async () => {
    const engine = await connectEngine(2000, e.host);
    const loader = new Loader(engine, 0);
    const broken = new Error('layer c could not be written');
    const pending: Promise<ArchiveLayer>[] = [Promise.resolve(layers[0]!), later(layers[1]!, 300), later(undefined, 800).then(() => { throw broken; })];
    const image = later(undefined, 900).then((): never => { throw broken; });
    image.catch(() => undefined);
    const ref = `dbco-internal/load:test5-p${process.pid}-t0-h00000000`;
    await expect(loader.loadAsBuilt(pending, image, ref)).rejects.toThrow('layer c could not be written');
    await loader.cleanup();
    expect(cli.imageTags().filter((t) => t.includes('test5-'))).toEqual([]);
    expect(ownTags()).toEqual([]);
    expect(cli.docker(['images', '-a', '-q', '--filter', 'dangling=true', '--filter', `label=dbco.lock.digest=${lockDigest}`]).trim()).toBe('');
  });
});
