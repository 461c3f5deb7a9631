import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, requireTool, runDbco, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { TC6, makeTcz, mirrorWith6x, writeRecipe } from './helpers/fixtures.js';
import { engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine, type TestEngine } from './helpers/engines.js';

/**
 * Interrupted builds leave nothing in the engine: SIGTERM and SIGINT clean up at once (exit 143/130);
 * after kill -9 the next run removes what the dead one left (its setup container, its dbco-internal tags).
 * The setup script of the fixture extension sleeps, so the build is caught with its container running.
 */
const tmp = tempDir('dbco-leftovers-');
let mirror: Awaited<ReturnType<typeof serveFolder>>;
beforeAll(async () => {
  const root = mirrorWith6x(path.join(tmp.dir, 'mirror'));
  makeTcz(path.join(root, TC6, 'tcz'), 'sleeper', {
    'usr/local/tce.installed/sleeper': { content: '#!/bin/sh\nsleep 600\n', mode: 0o755 },
  });
  mirror = await serveFolder(root);
}, 120_000);
afterAll(async () => { await mirror?.close(); tmp.cleanup(); });

describe.each(ENGINES)('interrupted builds on $name', (e: TestEngine) => {
  const cli = engineCli(e.host);
  const dir = path.join(tmp.dir, e.name);
  const cache = path.join(dir, 'cache');
  let recipe: string;
  const run = `dbco-left-${process.pid}-${e.name}`;
  /** This suite's containers (they carry the image's labels) and dbco-internal tags of its images. */
  const containers = () => cli.docker(['ps', '-a', '-q', '--filter', `label=dbco.test.run=${run}`]).trim().split('\n').filter(Boolean);
  const internalTags = () => cli.docker(['images', '-a', '--filter', `label=dbco.test.run=${run}`, '--format', '{{.Repository}}:{{.Tag}}'])
    .split('\n').filter((t) => t.includes('dbco-internal/'));
  const dangling = () => cli.docker(['images', '-a', '-q', '--filter', 'dangling=true', '--filter', `label=dbco.test.run=${run}`]).trim();

  beforeAll(() => {
    requireTool('docker');
    requireEngine(e);
    recipe = writeRecipe(tmp.dir, `sleeper-${e.name}`, `name: sleeper\nrelease: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\n` +
      `extensions: [sleeper]\nimage:\n  tag: ${run}:1\n  labels: { dbco.test.run: ${run} }\n`);
  });
  afterAll(() => {
    for (const c of containers()) cli.docker(['rm', '-f', c]);
    cli.removeImages(...internalTags(), `${run}:1`);
  });

  /** Starts a build and resolves once its setup container is running. */
  const startBuild = async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/dbco.js'), 'image', recipe, '--docker', '--cache', cache],
      { env: { ...process.env, DOCKER_HOST: e.host }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    for (let i = 0; i < 600 && containers().length === 0; i++) {
      if (child.exitCode !== null) throw new Error(`dbco exited early: ${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(containers()).toHaveLength(1);
    expect(internalTags().length).toBeGreaterThanOrEqual(1);
    return { child, exited, stderr: () => stderr };
  };

  test.each([['SIGTERM', 143], ['SIGINT', 130]] as const)('%s: the container and the internal tags are removed, exit %i', async (signal, code) => {
    const b = await startBuild();
    b.child.kill(signal);
    const r = await b.exited;
    expect(r.code).toBe(code);
    expect(containers()).toEqual([]);
    expect(internalTags()).toEqual([]);
    expect(dangling()).toBe('');
    expect(cli.imageTags()).not.toContain(`${run}:1`);
  }, 300_000);

  test('kill -9: the next run removes the dead run\'s container and tags', async () => {
    const b = await startBuild();
    b.child.kill('SIGKILL');
    await b.exited;
    expect(containers()).toHaveLength(1);
    const left = internalTags();
    expect(left.length).toBeGreaterThanOrEqual(1);
    // Any build at this engine sweeps: one that needs no container.
    const other = writeRecipe(tmp.dir, `plain-${e.name}`, `name: plain\nrelease: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\nimage:\n  tag: ${run}:plain\n`);
    const r = await runDbco(['image', other, '--docker', '--cache', cache], { env: { DOCKER_HOST: e.host } });
    expect(r.code).toBe(0);
    // This run removed them (or a build of a suite running beside this one, at the same engine, did).
    expect(containers()).toEqual([]);
    expect(internalTags()).toEqual([]);
    expect(dangling()).toBe('');
    cli.removeImages(`${run}:plain`);
  }, 300_000);
});
