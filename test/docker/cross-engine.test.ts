import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { diffTrees, treeOfDir } from '../helpers/tree.js';
import { fixtureMirror, writeRecipe } from './helpers/fixtures.js';
import { dockerManaged, engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine } from './helpers/engines.js';

/**
 * The same recipe on all three engines, each from an empty cache of its own (so each runs the setup
 * scripts in its own container): the same config digest, and the same files in `docker export` of a
 * container of the image.
 */
describe('one recipe, three engines', () => {
  const tmp = tempDir('dbco-cross-');
  const T = `dbco-cross-${process.pid}`;
  let mirror: Awaited<ReturnType<typeof serveFolder>>;
  let recipe: string;
  beforeAll(async () => {
    requireTool('docker');
    requireTool('tar');
    for (const e of ENGINES) requireEngine(e);
    mirror = await serveFolder(fixtureMirror(path.join(tmp.dir, 'mirror')));
    recipe = writeRecipe(tmp.dir, 'cross', `name: cross\nrelease: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\n` +
      `extensions: [a, greet, setupext]\nimage:\n  tag: ${T}:1\n`);
  }, 300_000);
  afterAll(async () => {
    for (const e of ENGINES) engineCli(e.host).removeImages(`${T}:1`);
    await mirror?.close();
    tmp.cleanup();
  });

  test('same config digest and same exported file tree on every engine', async () => {
    const results: { name: string; configDigest: string; tree: ReturnType<typeof treeOfDir> }[] = [];
    for (const e of ENGINES) {
      const r = await runDbco(['image', recipe, '--docker', '--json', '--cache', path.join(tmp.dir, `cache-${e.name}`)], { env: { DOCKER_HOST: e.host } });
      expect(r.code, r.stderr).toBe(0);
      const json = JSON.parse(r.stdout) as { configDigest: string; setupRan: boolean };
      expect(json.setupRan).toBe(true);
      const cli = engineCli(e.host);
      const cid = cli.docker(['create', `${T}:1`]).trim();
      const dir = path.join(tmp.dir, `tree-${e.name}`);
      mkdirSync(dir);
      try {
        const exported = cli.dockerRaw(['export', cid]);
        const x = spawnSync('tar', ['-x', '-p', '--numeric-owner', '-C', dir], { input: exported, maxBuffer: 1024 * 1024 * 1024 });
        expect(x.status, x.stderr?.toString()).toBe(0);
      } finally {
        cli.docker(['rm', '-f', cid]);
      }
      results.push({ name: e.name, configDigest: json.configDigest, tree: treeOfDir(dir) });
    }
    const [first, ...rest] = results;
    for (const other of rest) {
      expect(other.configDigest, `${other.name} vs ${first!.name}`).toBe(first!.configDigest);
      expect(diffTrees(first!.tree, other.tree, (p) => dockerManaged(p)), `${other.name} vs ${first!.name}`).toEqual([]);
    }
  }, 600_000);
});
