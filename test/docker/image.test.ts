import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { fixtureMirror, writeRecipe } from './helpers/fixtures.js';
import { runDbco } from '../helpers/env.js';
import { docker, imageTags, removeImages } from './helpers/docker-util.js';

/**
 * The user's path end to end: the built CLI, a real HTTP mirror holding the real TC 6.4.1 rootfs64.gz
 * plus x86_64 fixture extensions, and the real engine running the result.
 */
describe('dbco image --docker (x86_64, TC 6.4.1 + fixture extensions)', () => {
  const tmp = tempDir('dbco-image-');
  const T = `dbco-t${process.pid}`;
  let mirror: Awaited<ReturnType<typeof serveFolder>>;
  let recipes: Record<string, string>;
  const tags: string[] = [];
  const build = async (recipe: string, args: string[], cache = path.join(tmp.dir, 'cache')) => {
    const r = await runDbco(['image', recipe, '--docker', '--cache', cache, ...args]);
    if (r.code !== 0) throw new Error(`dbco image failed (${r.code}): ${r.stderr}`);
    const [id, tag] = r.stdout.trim().split('\n');
    tags.push(tag!);
    return { id: id!, tag: tag!, stderr: r.stderr };
  };

  beforeAll(async () => {
    requireTool('docker');
    const root = fixtureMirror(path.join(tmp.dir, 'mirror'));
    mirror = await serveFolder(root);
    const common = `release: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\n`;
    recipes = {
      plain: writeRecipe(tmp.dir, 'plain', `name: plain\n${common}`),
      build: writeRecipe(tmp.dir, 'build', `name: withsetup\n${common}extensions: [a, greet, setupext]\nimage:\n  tag: ${T}-build:1\n`),
      boot: writeRecipe(tmp.dir, 'boot', `name: withboot\n${common}extensions: [a, greet, setupext]\nimage:\n  setup: boot\n`),
    };
  }, 300_000);
  afterAll(async () => {
    removeImages(...tags);
    await mirror?.close();
    tmp.cleanup();
  });

  test('the real 6.4.1 rootfs runs: release.txt, busybox applets', async () => {
    const { id, tag } = await build(recipes.plain!, ['--tag', `${T}-plain`]);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(tag).toBe(`${T}-plain`);
    expect(docker(['image', 'inspect', '--format', '{{.Id}} {{.Architecture}}', tag]).trim()).toBe(`${id} amd64`);
    expect(docker(['run', '--rm', tag, 'cat', '/usr/share/doc/tc/release.txt']).trim()).toBe('6.4.1');
    expect(docker(['run', '--rm', tag, 'ls', '/']).split('\n')).toEqual(expect.arrayContaining(['bin', 'etc', 'usr', 'opt']));
    expect(docker(['run', '--rm', tag, 'sh', '-c', 'echo ok'])).toBe('ok\n');
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
    expect(imageTags().filter((t) => t.startsWith('dbco-internal/'))).toEqual([]);
    expect(docker(['ps', '-a', '--filter', 'label=dbco.setup', '--format', '{{.ID}}']).trim()).toBe('');
  });

  test('warm rebuild: no container, no load (the engine has the image ID), same ID', async () => {
    const first = await build(recipes.build!, []);
    const started = Date.now();
    const again = await build(recipes.build!, ['--tag', `${T}-build:again`]);
    expect(again.id).toBe(first.id);
    expect(again.stderr).toMatch(/already had this image/);
    expect(again.stderr).not.toMatch(/running setup scripts/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(imageTags()).toContain(`${T}-build:again`);
  });

  test('setup boot: the wrapper runs the setup scripts when the container starts', async () => {
    const { tag } = await build(recipes.boot!, []);
    expect(tag).toBe('withboot:latest');
    const ep = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}}', tag]));
    expect(ep).toEqual(['/usr/local/sbin/dbco-setup']);
    expect(docker(['run', '--rm', tag, 'sh', '-c', 'cat /etc/dbco-setup-done; greet']).trim().split('\n')).toEqual(['setup ran as 0', 'dynamic-ok']);
    expect(docker(['run', '--rm', '--entrypoint', '/bin/sh', tag, '-c', 'test -e /etc/dbco-setup-done && echo baked || echo not-baked']).trim()).toBe('not-baked');
  });

  test('two builds with fresh caches give the same image ID', async () => {
    const a = await build(recipes.build!, ['--tag', `${T}-det:a`], path.join(tmp.dir, 'cache-a'));
    const b = await build(recipes.build!, ['--tag', `${T}-det:b`], path.join(tmp.dir, 'cache-b'));
    expect(b.id).toBe(a.id);
  });

  test('--output: one archive that docker load, skopeo and umoci read, written without the daemon', async () => {
    requireTool('skopeo');
    requireTool('umoci');
    const file = path.join(tmp.dir, 'out', 'image.tar');
    mkdirSync(path.dirname(file), { recursive: true });
    const r = await runDbco(['image', recipes.build!, '--docker', '--cache', path.join(tmp.dir, 'cache'), '--tag', `${T}-file:v1`, '--output', file],
      { env: { DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(r.stderr).not.toMatch(/error|cannot reach/i);
    expect(r.code).toBe(0);
    const id = r.stdout.trim().split('\n')[0]!;
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${file}`]).toString());
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Labels['org.opencontainers.image.title']).toBe('withsetup');
    expect(inspect.Labels['dbco.tc.release']).toBe('6.4.1');
    const layout = path.join(tmp.dir, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', file, '-C', layout]);
    expect(execFileSync('umoci', ['ls', '--layout', layout]).toString().trim()).toBe('v1');
    const bundle = path.join(tmp.dir, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, bundle]);
    expect(readFileSync(path.join(bundle, 'rootfs/usr/share/doc/tc/release.txt'), 'utf8').trim()).toBe('6.4.1');
    expect(readFileSync(path.join(bundle, 'rootfs/etc/dbco-setup-done'), 'utf8')).toBe('setup ran as 0\n');
    expect(existsSync(path.join(bundle, 'rootfs/usr/local/share/setupext/remove-me'))).toBe(false);
    tags.push(`${T}-file:v1`);
    expect(docker(['load', '-i', file])).toContain(`${T}-file:v1`);
    expect(docker(['image', 'inspect', '--format', '{{.Id}}', `${T}-file:v1`]).trim()).toBe(id);
  });
});
