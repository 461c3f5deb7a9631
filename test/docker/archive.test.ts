import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/env.js';
import { buildImageConfig, TC_PATH } from '../../src/outputs/docker/config.js';
import { writeImageArchive, fullReference, planArchive } from '../../src/outputs/docker/archive.js';
import { connectEngine, inspectImage, loadArchive, tagImage } from '../../src/outputs/docker/engine.js';
import { findImage } from '../../src/outputs/docker/preload.js';
import { busyboxLayer, docker, engineCli, removeImages } from './helpers/docker-util.js';
import { ENGINES, requireEngine, shortRef, type TestEngine } from './helpers/engines.js';
import type { Recipe } from '../../src/recipe/schema.js';

const recipe: Recipe = {
  name: 'archtest', release: '6.4.1', arch: 'x86_64', base: 'rootfs64.gz',
  image: { env: { FOO: 'bar' }, labels: { team: 'dbco' } },
};

async function toFile(chunks: AsyncIterable<Uint8Array>, file: string): Promise<void> {
  await pipeline(Readable.from(chunks), createWriteStream(file));
}

describe('image archive (docker-archive + OCI layout)', () => {
  const tmp = tempDir('dbco-archive-');
  const tag = `dbco-test-archive:${process.pid}`;
  let layer: ReturnType<typeof busyboxLayer>;
  beforeAll(() => { layer = busyboxLayer(tmp.dir); });
  afterAll(() => { removeImages(tag); tmp.cleanup(); });

  test('config: arch, env, labels, diff_ids, history, canonical id', () => {
    const cfg = buildImageConfig({ recipe, lockDigest: 'sha256:abc', epoch: 1700000000, layers: [{ id: 'base', diffId: layer.diffId }] });
    const json = JSON.parse(cfg.bytes.toString());
    expect(json.architecture).toBe('amd64');
    expect(json.os).toBe('linux');
    expect(json.created).toBe('2023-11-14T22:13:20Z');
    expect(json.config.Env).toEqual([`PATH=${TC_PATH}`, 'FOO=bar']);
    expect(json.config.Cmd).toEqual(['/bin/sh']);
    expect(json.config.Labels).toEqual({
      team: 'dbco', 'org.opencontainers.image.title': 'archtest', 'dbco.tc.release': '6.4.1',
      'dbco.tc.arch': 'x86_64', 'dbco.lock.digest': 'sha256:abc',
    });
    expect(json.rootfs).toEqual({ type: 'layers', diff_ids: [layer.diffId] });
    expect(json.history).toEqual([{ created: '2023-11-14T22:13:20Z', created_by: 'dbco layer base' }]);
    const x86 = buildImageConfig({ recipe: { ...recipe, arch: 'x86' }, lockDigest: 'x', epoch: 0, layers: [] });
    expect(JSON.parse(x86.bytes.toString()).architecture).toBe('386');
    const boot = buildImageConfig({ recipe: { ...recipe, image: { entrypoint: ['/app'] } }, lockDigest: 'x', epoch: 0, layers: [], setupWrapper: '/usr/local/sbin/dbco-setup' });
    expect(JSON.parse(boot.bytes.toString()).config.Entrypoint).toEqual(['/usr/local/sbin/dbco-setup', '/app']);
    expect(JSON.parse(boot.bytes.toString()).config.Cmd).toBeUndefined();
    // Key order in the input does not change the bytes.
    const again = buildImageConfig({ recipe: { ...recipe, image: { labels: { team: 'dbco' }, env: { FOO: 'bar' } } }, lockDigest: 'sha256:abc', epoch: 1700000000, layers: [{ id: 'base', diffId: layer.diffId }] });
    expect(again.id).toBe(cfg.id);
  });

  test('references normalize as docker does', () => {
    expect(fullReference('demo:1')).toBe('docker.io/library/demo:1');
    expect(fullReference('me/demo:1')).toBe('docker.io/me/demo:1');
    expect(fullReference('localhost:5000/demo:1')).toBe('localhost:5000/demo:1');
  });

  test('same input -> same bytes; identical layers stored once', async () => {
    const cfg = buildImageConfig({ recipe, lockDigest: 'x', epoch: 0, layers: [{ id: 'a', diffId: layer.diffId }, { id: 'b', diffId: layer.diffId }] });
    const input = { config: cfg, layers: [layer, layer], tags: [tag], mtime: 0 };
    const a = path.join(tmp.dir, 'a.tar');
    const b = path.join(tmp.dir, 'b.tar');
    await toFile(writeImageArchive(input), a);
    await toFile(writeImageArchive(input), b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(planArchive(input).layerBlobs.size).toBe(1);
    const list = execFileSync('tar', ['-tvf', a]).toString();
    expect(list.split('\n').filter((l) => l.includes(layer.diffId.slice(7))).length).toBe(1);
  });

  test('docker load, skopeo and umoci read the archive; the image runs', async () => {
    const cfg = buildImageConfig({ recipe: { ...recipe, image: { ...recipe.image, cmd: ['/bin/cat', '/etc/hello.txt'] } }, lockDigest: 'x', epoch: 0, layers: [{ id: 'base', diffId: layer.diffId }] });
    const file = path.join(tmp.dir, 'image.tar');
    await toFile(writeImageArchive({ config: cfg, layers: [layer], tags: [tag], mtime: 0 }), file);

    const names = execFileSync('tar', ['-tf', file]).toString().split('\n').filter(Boolean);
    expect(names).toEqual(expect.arrayContaining(['oci-layout', 'index.json', 'manifest.json', `blobs/sha256/${cfg.id.slice(7)}`]));

    requireTool('skopeo');
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${file}`]).toString());
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Layers).toEqual([layer.diffId]);
    expect(inspect.Labels['org.opencontainers.image.title']).toBe('archtest');

    requireTool('umoci');
    const layout = path.join(tmp.dir, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', file, '-C', layout]);
    const ref = tag.split(':')[1]!;
    expect(execFileSync('umoci', ['ls', '--layout', layout]).toString().trim()).toBe(ref);
    const bundle = path.join(tmp.dir, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:${ref}`, bundle]);
    expect(readFileSync(path.join(bundle, 'rootfs/etc/hello.txt'), 'utf8')).toBe('hello from a dbco test layer\n');

    const out = docker(['load', '-i', file]);
    expect(out).toContain(tag);
    expect(docker(['image', 'inspect', '--format', '{{.Id}}', tag]).trim()).toBe(cfg.id);
    expect(docker(['run', '--rm', tag])).toBe('hello from a dbco test layer\n');
    expect(docker(['run', '--rm', tag, 'sh', '-c', 'echo ok'])).toBe('ok\n');
  });

});

describe.each(ENGINES)('Engine API load on $name', (e: TestEngine) => {
  const tmp = tempDir('dbco-archive-api-');
  const cli = engineCli(e.host);
  const tag = `dbco-test-archive-${e.name}:${process.pid}`;
  let layer: ReturnType<typeof busyboxLayer>;
  beforeAll(() => { requireEngine(e); layer = busyboxLayer(tmp.dir); });
  afterAll(() => { cli.removeImages(`${tag}-api`, `${tag}-named`); tmp.cleanup(); });

  test('untagged and tagged loads: what the engine says it loaded; errors in the progress stream fail', async () => {
    const engine = await connectEngine(2000, e.host);
    expect(engine.name).toMatch(e.expect);
    const run = `${process.pid}-${Date.now()}`;
    const cfg = buildImageConfig({ recipe: { ...recipe, name: 'archtest-api', image: { labels: { run } } }, lockDigest: 'y', epoch: 0, layers: [{ id: 'base', diffId: layer.diffId }] });
    const untagged = await loadArchive(engine, writeImageArchive({ config: cfg, layers: [layer], tags: [], mtime: 0 }));
    // dockerd says 'Loaded image ID: <id>', Podman 'Loaded image: <id>': either way an ID the engine knows.
    const said = [...untagged.ids, ...untagged.refs];
    expect(said).toHaveLength(1);
    const id = (await inspectImage(engine, said[0]!))!.Id;
    expect([cfg.id, planArchive({ config: cfg, layers: [layer], tags: [], mtime: 0 }).manifestDigest]).toContain(id);
    await tagImage(engine, id, `${tag}-api`);
    expect(cli.imageTags()).toContain(`${tag}-api`);
    const named = await loadArchive(engine, writeImageArchive({ config: cfg, layers: [layer], tags: [`${tag}-named`], mtime: 0 }));
    expect(named.refs.map(shortRef)).toEqual([`${tag}-named`]);
    expect((await inspectImage(engine, `${tag}-named`))!.Id).toBe(id);

    // A layer whose bytes do not match its diff_id: the engine reports it, and keeps no image of it.
    const bad = buildImageConfig({ recipe: { ...recipe, name: 'archtest-bad', image: { labels: { run } } }, lockDigest: 'z', epoch: 0, layers: [{ id: 'base', diffId: `sha256:${'0'.repeat(64)}` }] });
    await expect(loadArchive(engine, writeImageArchive({ config: bad, layers: [{ ...layer, diffId: `sha256:${'0'.repeat(64)}` }], tags: [], mtime: 0 })))
      .rejects.toThrow(e.expect.source.startsWith('^Podman') ? /Podman .*docker load/ : /Docker .*docker load/);
    expect(await findImage(engine, bad, [{ ...layer, diffId: `sha256:${'0'.repeat(64)}` }])).toBeUndefined();
  });
});
