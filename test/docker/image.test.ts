import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { fixtureMirror, writeRecipe } from './helpers/fixtures.js';
import { runDbco } from '../helpers/env.js';
import { engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';

/** One fixture mirror for every engine: the engines differ, the inputs must not. */
const tmp = tempDir('dbco-image-');
let mirror: Awaited<ReturnType<typeof serveFolder>>;
beforeAll(async () => {
  const root = fixtureMirror(path.join(tmp.dir, 'mirror'));
  mirror = await serveFolder(root);
}, 300_000);
afterAll(async () => {
  await mirror?.close();
  tmp.cleanup();
});

/**
 * The user's path end to end on each engine: the built CLI, a real HTTP mirror holding the real TC
 * 6.4.1 rootfs64.gz plus x86_64 fixture extensions, and the real engine running the result.
 */
describe.each(ENGINES)('dbco image --docker on $name (x86_64, TC 6.4.1 + fixture extensions)', (engine: TestEngine) => {
  const T = `dbco-t${process.pid}-${engine.name}`;
  const { docker, imageTags, removeImages } = engineCli(engine.host);
  const dir = path.join(tmp.dir, engine.name);
  let recipes: Record<string, string>;
  const tags: string[] = [];
  const build = async (recipe: string, args: string[], cache = path.join(dir, 'cache')) => {
    const r = await runDbco(['image', recipe, '--docker', '--json', '--cache', cache, ...args], { env: { DOCKER_HOST: engine.host } });
    if (r.code !== 0) throw new Error(`dbco image failed (${r.code}): ${r.stderr}`);
    const json = JSON.parse(r.stdout) as {
      id: string; tag: string; configDigest: string; manifestDigest: string; alreadyLoaded: boolean;
      engine: { kind: string; version: string; store: string };
      layers: { id: string; diffId: string; rebuilt: boolean; inEngine: boolean }[];
    };
    tags.push(json.tag);
    return { ...json, stderr: r.stderr };
  };
  /** Images of this suite's run that nothing names: must stay none (labels scope it to this run). */
  const dangling = () => docker(['images', '-a', '-q', '--filter', 'dangling=true', '--filter', `label=dbco.test.run=${T}`]).trim();

  beforeAll(async () => {
    requireTool('docker');
    requireEngine(engine);
    mkdirSync(dir, { recursive: true });
    const common = `release: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\n`;
    const labels = `  labels: { dbco.test.run: ${T} }\n`;
    recipes = {
      plain: writeRecipe(dir, 'plain', `name: plain\n${common}image:\n${labels}`),
      build: writeRecipe(dir, 'build', `name: withsetup\n${common}extensions: [a, greet, setupext]\nimage:\n  tag: ${T}-build:1\n${labels}`),
      boot: writeRecipe(dir, 'boot', `name: withboot\n${common}extensions: [a, greet, setupext]\nimage:\n  setup: boot\n  tag: ${T}-boot:1\n${labels}`),
    };
  }, 300_000);
  afterAll(() => { removeImages(...tags); });

  test('the real 6.4.1 rootfs runs: release.txt, busybox applets', async () => {
    const { id, tag, engine: said, configDigest, manifestDigest } = await build(recipes.plain!, ['--tag', `${T}-plain`]);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(tag).toBe(`${T}-plain`);
    // The ID printed is the one the engine uses, whatever its store names images by.
    expect(docker(['image', 'inspect', '--format', '{{.Id}} {{.Architecture}}', tag]).trim()).toBe(`${id} amd64`);
    expect(`${said.kind === 'podman' ? 'Podman' : 'Docker'} ${said.version}`).toMatch(engine.expect);
    expect(id).toBe(said.store === 'containerd' ? manifestDigest : configDigest);
    expect(docker(['run', '--rm', tag, 'cat', '/usr/share/doc/tc/release.txt']).trim()).toBe('6.4.1');
    expect(docker(['run', '--rm', tag, 'ls', '/']).split('\n')).toEqual(expect.arrayContaining(['bin', 'etc', 'usr', 'opt']));
    expect(docker(['run', '--rm', tag, 'sh', '-c', 'echo ok'])).toBe('ok\n');
  });

  test('a cold build loads once on the containerd store and Podman (sent while the layers are built); nothing left behind', async () => {
    const cold = await build(recipes.boot!, ['--tag', `${T}-cold:1`], path.join(dir, 'cache-cold'));
    const loads = Number(/ in (\d+) load\(s\)/.exec(cold.stderr)?.[1]);
    // dockerd's graph driver also takes intermediate images while layers are built (each layer registered then is time saved).
    if (cold.engine.store === 'graphdriver') expect(loads).toBeGreaterThanOrEqual(1);
    else expect(loads).toBe(1);
    expect(cold.layers.every((l) => l.rebuilt && !l.inEngine)).toBe(true);
    expect(docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', cold.tag]).trim()).toBe(JSON.stringify(cold.layers.map((l) => l.diffId)));
    expect(docker(['run', '--rm', cold.tag, 'cat', '/usr/share/doc/tc/release.txt']).trim()).toBe('6.4.1');
    expect(docker(['images', '-a', '--filter', `label=dbco.test.run=${T}`, '--format', '{{.Repository}}']).split('\n').filter((r) => r.includes('dbco-internal'))).toEqual([]);
    expect(dangling()).toBe('');
    // The same again (layers from the cache): the engine has the image, nothing is loaded.
    const warm = await build(recipes.boot!, ['--tag', `${T}-cold:1`], path.join(dir, 'cache-cold'));
    expect(warm.id).toBe(cold.id);
    expect(warm.alreadyLoaded).toBe(true);
    expect(warm.stderr).not.toMatch(/ load\(s\)/);
    expect(warm.layers.every((l) => l.inEngine && !l.rebuilt)).toBe(true);
  });

  test('setup build: dependency chain, dynamic binary after ldconfig, setup script effects baked in', async () => {
    const { tag, stderr } = await build(recipes.build!, []);
    expect(tag).toBe(`${T}-build:1`);
    // ld.so.cache and the script's file changed, the script's rm removed one: nothing else leaks in.
    expect(stderr).toMatch(/setup changed 2 path\(s\), removed 1\b/);
    const out = docker(['run', '--rm', tag, 'sh', '-c',
      'prog-a && prog-b && prog-c && greet && ls /usr/local/tce.installed && cat /etc/dbco-setup-done && ls /usr/local/share/setupext | wc -l']);
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 4)).toEqual(['a-ok', 'b-ok', 'c-ok', 'dynamic-ok']);
    expect(lines).toEqual(expect.arrayContaining(['a', 'b', 'c', 'greet', 'setupext', 'setup ran as 0']));
    expect(lines.at(-1)).toBe('0');
    const history = docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', tag]).trim().split('\n').reverse();
    expect(history[0]).toBe('dbco layer base');
    expect(history.at(-1)).toBe('dbco layer setup');
    expect(history).toEqual(expect.arrayContaining(['dbco layer ext:c.tcz', 'dbco layer ext:b.tcz', 'dbco layer ext:a.tcz']));
    // No temporary image or container is left behind.
    // No temporary image, tag or container is left behind (containers carry their image's labels).
    expect(docker(['images', '-a', '--filter', `label=dbco.test.run=${T}`, '--format', '{{.Repository}}']).split('\n').filter((r) => r.includes('dbco-internal'))).toEqual([]);
    expect(docker(['ps', '-a', '--filter', `label=dbco.test.run=${T}`, '--format', '{{.ID}}']).trim()).toBe('');
    expect(dangling()).toBe('');
  });

  test('warm rebuild: no container, no load (the engine has the image), same ID, every layer in the engine', async () => {
    const first = await build(recipes.build!, []);
    const again = await build(recipes.build!, ['--tag', `${T}-build:again`]);
    expect(again.id).toBe(first.id);
    expect(again.alreadyLoaded).toBe(true);
    expect(again.stderr).toMatch(/already had this image/);
    expect(again.stderr).not.toMatch(/running setup scripts/);
    expect(again.layers.every((l) => l.inEngine && !l.rebuilt)).toBe(true);
    expect(imageTags()).toContain(`${T}-build:again`);
  });

  test('warm run under the same tag: the tag already names the image, so nothing is listed, sent or tagged; a tag moved elsewhere is put back', async () => {
    const first = await build(recipes.boot!, ['--tag', `${T}-same:1`]);
    const traced = async () => {
      const r = await runDbco(['image', recipes.boot!, '--docker', '--json', '--cache', path.join(dir, 'cache'), '--tag', `${T}-same:1`],
        { env: { DOCKER_HOST: engine.host, DBCO_TRACE_ENGINE: '1' } });
      expect(r.code, r.stderr).toBe(0);
      return { ...(JSON.parse(r.stdout) as { id: string; alreadyLoaded: boolean }), stderr: r.stderr };
    };
    const again = await traced();
    expect(again.id).toBe(first.id);
    expect(again.alreadyLoaded).toBe(true);
    expect(again.stderr).toMatch(/tag holds the image/);
    expect(again.stderr).not.toMatch(/findImage|\] tag: |load: begin/);
    // The user points the tag at another image: the next run finds its own image and tags it again.
    const other = await build(recipes.plain!, ['--tag', `${T}-other:1`]);
    docker(['tag', other.tag, `${T}-same:1`]);
    const moved = await traced();
    expect(moved.id).toBe(first.id);
    expect(moved.alreadyLoaded).toBe(true);
    expect(moved.stderr).not.toMatch(/tag holds the image/);
    expect(moved.stderr).toMatch(/\] tag: /);
    expect(JSON.parse(docker(['image', 'inspect', `${T}-same:1`]))[0].Id).toBe(first.id);
    tags.push(`${T}-same:1`);
  });

  test('one extension changed: only its layer and those above it are rebuilt and sent; nothing dangling', async () => {
    const base = await build(recipes.plain!, ['--tag', `${T}-one:1`]);
    const one = writeRecipe(dir, 'one', `name: plain\nrelease: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\n` +
      `extensions: [c]\nimage:\n  setup: none\n  labels: { dbco.test.run: ${T} }\n`);
    const first = await build(one, ['--tag', `${T}-one:1`]);
    expect(first.layers[0]!.diffId).toBe(base.layers[0]!.diffId);
    expect(first.layers[0]!.inEngine).toBe(true);
    expect(first.layers.find((l) => l.id === 'ext:c.tcz')!.inEngine).toBe(false);
    expect(docker(['run', '--rm', first.tag, 'prog-c']).trim()).toBe('c-ok');
    expect(dangling()).toBe('');
  });

  test('setup boot: the wrapper runs the setup scripts when the container starts', async () => {
    const { tag } = await build(recipes.boot!, []);
    expect(tag).toBe(`${T}-boot:1`);
    const ep = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}}', tag]));
    expect(ep).toEqual(['/usr/local/sbin/dbco-setup']);
    expect(docker(['run', '--rm', tag, 'sh', '-c', 'cat /etc/dbco-setup-done; greet']).trim().split('\n')).toEqual(['setup ran as 0', 'dynamic-ok']);
    expect(docker(['run', '--rm', '--entrypoint', '/bin/sh', tag, '-c', 'test -e /etc/dbco-setup-done && echo baked || echo not-baked']).trim()).toBe('not-baked');
  });

  test('two builds with fresh caches give the same image ID', async () => {
    const a = await build(recipes.build!, ['--tag', `${T}-det:a`], path.join(dir, 'cache-a'));
    const b = await build(recipes.build!, ['--tag', `${T}-det:b`], path.join(dir, 'cache-b'));
    expect(b.id).toBe(a.id);
    expect(b.configDigest).toBe(a.configDigest);
  });

  test('--output: one archive that docker load, skopeo and umoci read, written without the daemon', async () => {
    requireTool('skopeo');
    requireTool('umoci');
    const file = path.join(dir, 'out', 'image.tar');
    mkdirSync(path.dirname(file), { recursive: true });
    const r = await runDbco(['image', recipes.build!, '--docker', '--json', '--cache', path.join(dir, 'cache'), '--tag', `${T}-file:v1`, '--output', file],
      { env: { DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(r.stderr).not.toMatch(/error|cannot reach/i);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; configDigest: string; manifestDigest: string; engine: unknown };
    expect(out.engine).toBe(null);
    expect(out.id).toBe(out.configDigest);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${file}`]).toString());
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Labels['org.opencontainers.image.title']).toBe('withsetup');
    expect(inspect.Labels['dbco.tc.release']).toBe('6.4.1');
    const layout = path.join(dir, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', file, '-C', layout]);
    expect(execFileSync('umoci', ['ls', '--layout', layout]).toString().trim()).toBe('v1');
    const bundle = path.join(dir, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, bundle]);
    expect(readFileSync(path.join(bundle, 'rootfs/usr/share/doc/tc/release.txt'), 'utf8').trim()).toBe('6.4.1');
    expect(readFileSync(path.join(bundle, 'rootfs/etc/dbco-setup-done'), 'utf8')).toBe('setup ran as 0\n');
    expect(existsSync(path.join(bundle, 'rootfs/usr/local/share/setupext/remove-me'))).toBe(false);
    tags.push(`${T}-file:v1`);
    expect(docker(['load', '-i', file])).toContain(`${T}-file:v1`);
    // The same image the engine path loads: the engine gives it the same ID either way.
    const engineId = docker(['image', 'inspect', '--format', '{{.Id}}', `${T}-file:v1`]).trim();
    expect([out.configDigest, out.manifestDigest]).toContain(engineId);
    expect(engineId).toBe((await build(recipes.build!, [])).id);
  });
});
