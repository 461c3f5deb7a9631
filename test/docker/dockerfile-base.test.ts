import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, mkdirSync } from 'node:fs';
import { execSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, requireTool, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { mirrorWith6x, writeRecipe } from './helpers/fixtures.js';
import { runDbco } from '../helpers/env.js';
import { dockerManaged, engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';
import { diffTrees, treeOfDir as walkTree } from '../helpers/tree.js';

/** Dockerfile.base + `dbco rootfs --layer base` with plain `docker build` gives dbco's base tree. */
describe.each(ENGINES)('Dockerfile.base on $name', (eng: TestEngine) => {
  const { docker, removeImages, env: cliEnv } = engineCli(eng.host);
  const tmp = tempDir('dbco-dockerfile-');
  const T = `dbco-dfb-${process.pid}-${eng.name}`;
  const exportTree = (image: string, dir: string): ReturnType<typeof walkTree> => {
    mkdirSync(dir);
    const cid = docker(['create', image]).trim();
    try {
      execSync(`docker export ${cid} | tar -x -p --numeric-owner -C ${dir}`, { env: cliEnv });
    } finally {
      docker(['rm', '-f', cid]);
    }
    return walkTree(dir);
  };
  let mirror: Awaited<ReturnType<typeof serveFolder>>;
  beforeAll(async () => {
    requireTool('docker');
    requireEngine(eng);
    mirror = await serveFolder(mirrorWith6x(path.join(tmp.dir, 'mirror')));
  });
  afterAll(async () => { removeImages(`${T}:docker-build`, `${T}:dbco`); await mirror?.close(); tmp.cleanup(); });

  test('docker build of the exported base layer == the base layer of dbco image', async () => {
    const recipe = writeRecipe(tmp.dir, 'base', `name: base\nrelease: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\nimage:\n  setup: none\n`);
    const cache = path.join(tmp.dir, 'cache');
    const ctx = path.join(tmp.dir, `ctx-${eng.name}`);
    mkdirSync(ctx);
    const exp = await runDbco(['rootfs', recipe, '--layer', 'base', '-o', path.join(ctx, 'base-rootfs.tar'), '--cache', cache], { env: { DOCKER_HOST: eng.host } });
    expect(exp.stderr).not.toMatch(/error/i);
    expect(exp.code).toBe(0);
    copyFileSync(path.join(REPO_ROOT, 'Dockerfile.base'), path.join(ctx, 'Dockerfile'));
    docker(['build', '-q', '-t', `${T}:docker-build`, ctx]);
    expect(docker(['run', '--rm', `${T}:docker-build`, 'cat', '/usr/share/doc/tc/release.txt']).trim()).toBe('6.4.1');

    const img = await runDbco(['image', recipe, '--docker', '--cache', cache, '--tag', `${T}:dbco`], { env: { DOCKER_HOST: eng.host } });
    expect(img.code).toBe(0);
    const plain = exportTree(`${T}:docker-build`, path.join(tmp.dir, `a-${eng.name}`));
    const viaDbco = exportTree(`${T}:dbco`, path.join(tmp.dir, `b-${eng.name}`));
    // The dbco image has the config layer on top (extension markers, bootlocal): compare the base's paths.
    const problems = diffTrees(plain, viaDbco, (p) => dockerManaged(p));
    expect(problems.filter((p) => !p.startsWith('extra '))).toEqual([]);
    expect(plain.size).toBeGreaterThan(500);

    // Without --layer: the whole flattened tree, config layer included.
    const full = path.join(tmp.dir, `full-${eng.name}.tar`);
    const all = await runDbco(['rootfs', recipe, '-o', full, '--cache', cache], { env: { DOCKER_HOST: eng.host } });
    expect(all.code).toBe(0);
    const names = execSync(`tar -tf ${full}`).toString().split('\n');
    expect(names).toEqual(expect.arrayContaining(['usr/share/doc/tc/release.txt', 'bin/busybox']));
    const bad = await runDbco(['rootfs', recipe, '-o', full, '--layer', 'nope', '--cache', cache], { env: { DOCKER_HOST: eng.host } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--layer nope: no such layer; the layers are base, config/);
  });
});
