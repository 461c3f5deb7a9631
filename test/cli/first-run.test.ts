import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';

const M = sharedMirror();
const BASE = path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz');

describe('a new user\'s first run', () => {
  const t = tempDir();
  let server: Awaited<ReturnType<typeof serveFolder>>;
  beforeAll(async () => { server = await serveFolder(M); });
  afterAll(async () => { await server.close(); t.cleanup(); });

  test('--docker never downloads the kernel it does not use', async () => {
    const recipe = path.join(t.dir, 'k.yaml');
    writeFileSync(recipe, 'name: k\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\nkernel: vmlinuz64\nimage: {setup: none}\n');
    const out = path.join(t.dir, 'k.tar');
    const r = await runDbco(['image', recipe, '--docker', '-q', '-o', out, '--mirror', server.url, '--cache', path.join(t.dir, 'cache')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(server.requests.some((u) => u.includes('rootfs64.gz'))).toBe(true);
    expect(server.requests.filter((u) => u.includes('vmlinuz64'))).toEqual([]);
    expect(existsSync(out)).toBe(true);
  });

  test('an x86 recipe builds by default on an x86_64 host (default setup: boot for x86)', async () => {
    const recipe = path.join(t.dir, 'x86.yaml');
    writeFileSync(recipe, `name: x86\nrelease: "7.2"\narch: x86\nbase: {file: ${JSON.stringify(BASE)}}\nextensions: [Xprogs]\n`);
    const out = path.join(t.dir, 'x86.tar');
    const r = await runDbco(['image', recipe, '--docker', '-q', '-o', out, '--mirror', M, '--cache', path.join(t.dir, 'cache')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const l = await runDbco(['ls', out]);
    expect(l.code).toBe(0);
  });
});

describe('first run without the network, or without ../shared', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());

  test('a mirror host that does not resolve fails at once, naming --mirror and DBCO_MIRROR', async () => {
    const recipe = path.join(t.dir, 'net.yaml');
    writeFileSync(recipe, 'name: net\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\n');
    const r = await runDbco(['fetch', recipe, '--mirror', 'http://dbco-test.invalid', '--cache', path.join(t.dir, 'cache')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dbco: http:\/\/dbco-test\.invalid\/\S+: cannot resolve dbco-test\.invalid \((ENOTFOUND|EAI_AGAIN): no network\?\); give a reachable mirror or a local mirror folder with --mirror or DBCO_MIRROR/);
    expect(r.stderr).not.toMatch(/attempts/);
  });

  test('.ci/run in a clone not beside ../shared: one clear failure naming DBCO_SHARED_MIRROR, before installing anything', () => {
    const repo = path.join(t.dir, 'clone');
    mkdirSync(path.join(repo, '.ci'), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, '.ci/run'), path.join(repo, '.ci/run'));
    const env = { ...process.env };
    delete env.DBCO_SHARED_MIRROR;
    const r = spawnSync('bash', [path.join(repo, '.ci/run')], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`.ci/run: no TC mirror folder at ${path.join(t.dir, 'shared/tc-mirror')}: put the real TC files (tc-mirror) at ../shared/tc-mirror beside this checkout, or set DBCO_SHARED_MIRROR=/path/to/tc-mirror\n`);
  });
});
