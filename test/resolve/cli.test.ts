import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { sharedMirror, tempDir, REPO_ROOT } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { shellWalk } from './walk-helpers.js';
import { runDbco } from '../helpers/env.js';
import { recipeJsonSchema } from '../../src/recipe/json-schema.js';

const M = sharedMirror();

describe('dbco resolve / fetch / lock / schema (built CLI)', () => {
  const t = tempDir();
  const recipe = path.join(t.dir, 'net.yaml');
  const cache = path.join(t.dir, 'cache');
  let server: Awaited<ReturnType<typeof serveFolder>>;
  beforeAll(async () => {
    server = await serveFolder(M);
    writeFileSync(recipe, 'name: net\nrelease: "14.0"\narch: x86_64\nkernel_version: 6.1.2-tinycore64\n'
      + `base: {file: ${JSON.stringify(path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz'))}}\nextensions: [iproute2, dialog, scsi-KERNEL]\n`);
  });
  afterAll(async () => { await server.close(); t.cleanup(); });

  test('resolve prints the install order; --json and --tree; no payload downloaded', async () => {
    const r = await runDbco(['resolve', recipe, '--mirror', server.url, '--cache', cache]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ref = shellWalk(path.join(M, '14.x/x86_64/tcz'), ['iproute2', 'dialog', 'scsi-KERNEL.tcz'], '6.1.2-tinycore64').order;
    expect(r.stdout.trim().split('\n')).toEqual(ref);
    // existence was probed (HEAD), nothing was downloaded into the cache
    expect(server.requests.filter((u) => u.endsWith('.tcz.dep')).length).toBeGreaterThanOrEqual(6);
    expect(existsSync(path.join(cache, 'blobs'))).toBe(false);
    const j = await runDbco(['resolve', recipe, '--json', '--mirror', server.url, '--cache', cache]);
    expect((JSON.parse(j.stdout) as { name: string }[]).map((e) => e.name)).toEqual(ref);
    const tree = await runDbco(['resolve', recipe, '--tree', '--mirror', server.url, '--cache', cache]);
    expect(tree.stdout).toBe('net\n├─ iproute2.tcz\n│  └─ db.tcz\n│     └─ libdb.tcz\n├─ dialog.tcz\n│  └─ ncursesw.tcz\n└─ scsi-6.1.2-tinycore64.tcz\n');
  });

  test('a hole: exit 1 and the chain on stderr', async () => {
    const bad = path.join(t.dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(recipe, 'utf8').replace('[iproute2', '[getlocale, iproute2'));
    const r = await runDbco(['resolve', bad, '--mirror', server.url, '--cache', cache]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`dbco: glibc_i18n_locale.tcz is not on ${server.url}: glibc_i18n_locale.tcz <- getlocale.tcz <- recipe`);
  });

  test('lock, then --frozen --offline fetch and resolve with the server gone', async () => {
    const l = await runDbco(['lock', recipe, '--mirror', server.url, '--cache', cache]);
    expect(l.code).toBe(0);
    const lockFile = path.join(t.dir, 'net.lock.json');
    expect(existsSync(lockFile)).toBe(true);
    expect(l.stderr).toContain(`wrote ${lockFile}`);
    const f = await runDbco(['fetch', recipe, '--offline', '--frozen', '--mirror', 'http://127.0.0.1:9', '--cache', cache]);
    expect(f.stderr).toMatch(/fetched 6 extensions/);
    expect(f.code).toBe(0);
    const r = await runDbco(['resolve', recipe, '--offline', '--mirror', 'http://127.0.0.1:9', '--cache', cache]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(6);
    // A comment or layout edit changes no field: --frozen and --offline still take the lock.
    writeFileSync(recipe, `# a comment\n${readFileSync(recipe, 'utf8').replace('arch: x86_64', 'arch:   x86_64   # same')}`);
    const same = await runDbco(['fetch', recipe, '--offline', '--frozen', '--mirror', 'http://127.0.0.1:9', '--cache', cache]);
    expect(same.stderr).toMatch(/fetched 6 extensions/);
    expect(same.code).toBe(0);
    writeFileSync(recipe, `${readFileSync(recipe, 'utf8')}bootcodes: [nozswap]\n`);
    const frozen = await runDbco(['resolve', recipe, '--frozen', '--mirror', server.url, '--cache', cache]);
    expect(frozen.code).toBe(1);
    expect(frozen.stderr).toBe(`dbco: --frozen: ${recipe} differs from ${lockFile}: recipe fields changed since it was locked: bootcodes (added) (run dbco lock)\n`);
  });

  test('a lock made from a mirror folder records no absolute host path', async () => {
    const r = path.join(t.dir, 'folder.yaml');
    writeFileSync(r, `name: folder\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\nkernel: vmlinuz64\nmirror: ${JSON.stringify(M)}\n`);
    const l = await runDbco(['lock', r, '--cache', cache]);
    expect(l.code).toBe(0);
    const text = readFileSync(path.join(t.dir, 'folder.lock.json'), 'utf8');
    expect(text).not.toMatch(/"url": "\//);
    const lock = JSON.parse(text) as { base: { url: string }; kernel: { url: string } };
    expect(lock.base.url).toBe(path.relative(t.dir, path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz')));
    expect(lock.kernel.url).toMatch(/^\.\.\/.*vmlinuz64$/);
  });

  test('an image built before dbco lock (no kernel fetched) is the same image after it (kernel in the lock)', async () => {
    const r = path.join(t.dir, 'locked-image.yaml');
    writeFileSync(r, `name: li\nrelease: "6.4.1"\narch: x86_64\nbase: rootfs64.gz\nkernel: vmlinuz64\nmirror: ${JSON.stringify(M)}\nimage: {setup: none, tag: "li:1"}\n`);
    const before = await runDbco(['image', r, '--docker', '--output', path.join(t.dir, 'before.tar'), '--json', '--cache', cache]);
    expect(before.code, before.stderr).toBe(0);
    expect((await runDbco(['lock', r, '--cache', cache])).code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(t.dir, 'locked-image.lock.json'), 'utf8')).kernel).toBeDefined();
    const after = await runDbco(['image', r, '--docker', '--output', path.join(t.dir, 'after.tar'), '--json', '--cache', cache]);
    expect(after.code).toBe(0);
    const digest = (out: string) => (JSON.parse(out) as { configDigest: string }).configDigest;
    expect(digest(after.stdout)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digest(after.stdout)).toBe(digest(before.stdout));
  });

  test('a recipe error names file:line:column', async () => {
    const bad = path.join(t.dir, 'typo.yaml');
    writeFileSync(bad, 'name: x\nrelease: "7.2"\narch: x86\nbase: core.gz\nextenssions: [a]\n');
    const r = await runDbco(['resolve', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`dbco: ${bad}:5:1: extenssions: unknown field "extenssions"\n`);
  });

  test('dbco schema prints recipes/schema.json', async () => {
    const r = await runDbco(['schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(recipeJsonSchema());
    expect(r.stdout).toBe(readFileSync(path.join(REPO_ROOT, 'recipes/schema.json'), 'utf8'));
  });
});
