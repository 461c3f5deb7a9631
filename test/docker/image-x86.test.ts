import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, execSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { requireTool, sharedMirror, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { writeMd5, writeRecipe } from './helpers/fixtures.js';
import { runDbco } from '../helpers/env.js';
import { dockerManaged, engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';
import { diffTrees, treeOfDir as walkTree } from '../helpers/tree.js';

/**
 * 32-bit: real TC 7.x x86 extensions (curl and its dependency chain) over a small fixture core.gz,
 * setup none (this host cannot run i386 code). The exported container tree must equal the base plus
 * every extension as GNU cpio and unsquashfs extract them.
 */
describe.each(ENGINES)('dbco image --docker on $name (x86, TC 7.x extensions, setup none)', (eng: TestEngine) => {
  const { docker, removeImages, env: cliEnv } = engineCli(eng.host);
  const tmp = tempDir('dbco-image-x86-');
  const tag = `dbco-x86-${process.pid}-${eng.name}:latest`;
  let mirror: Awaited<ReturnType<typeof serveFolder>>;
  const order = ['libidn', 'libgpg-error', 'libgcrypt', 'libssh2', 'openssl', 'curl'];

  beforeAll(async () => {
    for (const t of ['cpio', 'unsquashfs', 'tar', 'gzip', 'docker']) requireTool(t);
    requireEngine(eng);
    const root = path.join(tmp.dir, 'mirror');
    cpSync(path.join(sharedMirror(), '7.x/x86/tcz'), path.join(root, '7.x/x86/tcz'), { recursive: true });
    // A tiny core.gz: a few dirs, a file with odd mode and owner, a symlink.
    const base = path.join(tmp.dir, 'base-tree');
    for (const d of ['bin', 'etc', 'tmp', 'usr/local/bin', 'usr/local/tce.installed']) mkdirSync(path.join(base, d), { recursive: true });
    copyFileSync(requireTool('busybox'), path.join(base, 'bin/busybox'));
    symlinkSync('busybox', path.join(base, 'bin/sh'));
    writeFileSync(path.join(base, 'etc/motd'), 'fixture core for dbco\n');
    execFileSync('chmod', ['1777', path.join(base, 'tmp')]);
    execFileSync('chown', ['1001:50', path.join(base, 'etc/motd')]);
    const dist = path.join(root, '7.x/x86/release/distribution_files');
    mkdirSync(dist, { recursive: true });
    execSync(`cd ${base} && find . -mindepth 1 | sort | cpio -o -H newc --quiet | gzip -9n > ${dist}/core.gz`);
    writeMd5(path.join(dist, 'core.gz'));
    mirror = await serveFolder(root);
  }, 300_000);
  afterAll(async () => { removeImages(tag); await mirror?.close(); tmp.cleanup(); });

  test('exported tree == base + each extension (content sha256, modes, owners, links)', async () => {
    const recipe = writeRecipe(tmp.dir, 'x86', `name: x86curl\nrelease: "7.2"\narch: x86\nmirror: ${mirror.url}\nbase: core.gz\nextensions: [curl]\nimage:\n  setup: none\n  tag: ${tag}\n`);
    const r = await runDbco(['image', recipe, '--docker', '--cache', path.join(tmp.dir, 'cache')], { env: { DOCKER_HOST: eng.host } });
    expect(r.stderr).toMatch(/setup scripts .* not run/);
    expect(r.code).toBe(0);
    expect(docker(['image', 'inspect', '--format', '{{.Architecture}}', tag]).trim()).toBe('386');

    const expected = path.join(tmp.dir, 'expected');
    mkdirSync(expected);
    execSync(`cd ${expected} && gzip -dc ${tmp.dir}/mirror/7.x/x86/release/distribution_files/core.gz | cpio -idm --quiet --no-absolute-filenames`);
    for (const name of order) {
      execFileSync('unsquashfs', ['-f', '-n', '-d', expected, path.join(tmp.dir, 'mirror/7.x/x86/tcz', `${name}.tcz`)]);
    }

    const cid = docker(['create', tag, '/bin/true']).trim();
    const actual = path.join(tmp.dir, 'actual');
    mkdirSync(actual);
    try {
      execSync(`docker export ${cid} | tar -x -p --numeric-owner -C ${actual}`, { env: cliEnv });
    } finally {
      docker(['rm', '-f', cid]);
    }
    for (const name of order) expect(existsSync(path.join(actual, 'usr/local/tce.installed', name))).toBe(true);
    // The config layer's own additions: tce.installed markers, and the login user tc-config would write
    // for setup scripts (curl's dependencies ship some), which a container never runs.
    const ignore = (p: string) => dockerManaged(p) || p.startsWith('usr/local/tce.installed') || p === 'etc/sysconfig' || p === 'etc/sysconfig/tcuser';
    const a = walkTree(actual);
    const e = walkTree(expected);
    expect(e.size).toBeGreaterThan(100);
    expect(diffTrees(e, a, ignore)).toEqual([]);
  });

  test('--max-layers merges the smallest extensions; the tree does not change', async () => {
    const recipe = writeRecipe(tmp.dir, 'x86-merged', `name: x86curl\nrelease: "7.2"\narch: x86\nmirror: ${mirror.url}\nbase: core.gz\nextensions: [curl]\nimage:\n  setup: none\n  tag: ${tag}-merged\n`);
    const r = await runDbco(['image', recipe, '--docker', '--cache', path.join(tmp.dir, 'cache'), '--max-layers', '4'], { env: { DOCKER_HOST: eng.host } });
    expect(r.code).toBe(0);
    const layers = JSON.parse(docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', `${tag}-merged`])) as string[];
    expect(layers.length).toBeLessThanOrEqual(4);
    expect(r.stderr).toMatch(/ext:[^,]+\+/);
    const cid = docker(['create', `${tag}-merged`, '/bin/true']).trim();
    const merged = path.join(tmp.dir, 'merged');
    mkdirSync(merged);
    try {
      execSync(`docker export ${cid} | tar -x -p --numeric-owner -C ${merged}`, { env: cliEnv });
    } finally {
      docker(['rm', '-f', cid]);
    }
    expect(diffTrees(walkTree(path.join(tmp.dir, 'actual')), walkTree(merged), dockerManaged)).toEqual([]);
    removeImages(`${tag}-merged`);
  });
});
