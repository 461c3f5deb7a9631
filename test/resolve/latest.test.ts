import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { serveFolder } from '../helpers/static-server.js';
import { runDbco, sharedMirror, tempDir } from '../helpers/env.js';
import { Cache } from '../../src/cache/index.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { fetchSession } from '../../src/pipeline/fetch.js';
import { openSession } from '../../src/resolve/session.js';
import { readLock, recipeDigests, writeLock } from '../../src/resolve/lock.js';
import { parseRecipe } from '../../src/recipe/parse.js';
import { FetchError, OfflineError, RecipeError } from '../../src/errors.js';

const M = sharedMirror();

/** A mirror copy with 6.x/x86_64 (base, kernel) and 7.x/x86 (kernel, tczs), and the two latest-* files. */
function mirrorCopy(dir: string, latest: { x86?: string; x86_64?: string }): string {
  const root = path.join(dir, 'mirror');
  mkdirSync(root, { recursive: true });
  cpSync(path.join(M, '6.x/x86_64/release'), path.join(root, '6.x/x86_64/release'), { recursive: true });
  cpSync(path.join(M, '7.x/x86'), path.join(root, '7.x/x86'), { recursive: true });
  if (latest.x86 !== undefined) writeFileSync(path.join(root, 'latest-x86'), latest.x86);
  if (latest.x86_64 !== undefined) writeFileSync(path.join(root, 'latest-x86_64'), latest.x86_64);
  return root;
}

const RECIPE64 = 'name: latest64\nrelease: latest\narch: x86_64\nbase: rootfs64.gz\nkernel: vmlinuz64\nimage: {setup: none}\n';

describe('release: latest over HTTP (a real server over a mirror copy)', () => {
  const t = tempDir();
  let server: Awaited<ReturnType<typeof serveFolder>>;
  let root: string;
  const env = { DBCO_HTTP_RETRY_DELAY_MS: '10' };
  beforeAll(async () => {
    root = mirrorCopy(t.dir, { x86_64: '6.4.1\n' });
    server = await serveFolder(root);
    process.env.DBCO_HTTP_RETRY_DELAY_MS = '10';
  });
  afterAll(async () => { delete process.env.DBCO_HTTP_RETRY_DELAY_MS; await server.close(); t.cleanup(); });

  test('the release the mirror names picks the folder, the kernel, the lock and the image label', async () => {
    const recipe = path.join(t.dir, 'latest64.yaml');
    writeFileSync(recipe, RECIPE64);
    const cache = path.join(t.dir, 'cache');
    const inputs = await prepare(recipe, { mirror: server.url, cache });
    expect(inputs.recipe.release).toBe('6.4.1');
    expect(inputs.base.origin).toBe(`${server.url}/6.x/x86_64/release/distribution_files/rootfs64.gz`);
    expect(inputs.kernel!.origin).toBe(`${server.url}/6.x/x86_64/release/distribution_files/vmlinuz64`);
    expect(inputs.kernelVersion).toBe('3.16.6-tinycore64');
    expect(server.requests).toContain('/latest-x86_64');

    const lock = await runDbco(['lock', recipe, '--mirror', server.url, '--cache', cache], { env });
    expect(lock.stderr).toContain(`release: latest is 6.4.1 (${server.url}/latest-x86_64)`);
    expect(lock.code).toBe(0);
    const l = (await readLock(path.join(t.dir, 'latest64.lock.json')))!;
    expect(l.release).toBe('6.4.1');
    // the lock's recipe digest is that of the recipe as written: a new latest is a new release, not a new recipe
    expect(l.recipe.digest).toBe(recipeDigests(parseRecipe(RECIPE64, recipe)).digest);

    // --offline with the lock and a cache that never asked the mirror: the lock's release, no request.
    const asked = server.requests.length;
    const offline = await openSession(recipe, { mirror: server.url, cache: path.join(t.dir, 'cache-offline'), offline: true });
    expect(offline.recipe.release).toBe('6.4.1');
    expect(server.requests.length).toBe(asked);
    await offline.close();

    const tar = path.join(t.dir, 'latest64.tar');
    const img = await runDbco(['image', recipe, '--docker', '--output', tar, '--mirror', server.url, '--cache', cache], { env });
    expect(img.stderr).not.toContain('    at ');
    expect(img.code).toBe(0);
    const index = JSON.parse(execFileSync('tar', ['-xOf', tar, 'manifest.json']).toString()) as { Config: string }[];
    const config = JSON.parse(execFileSync('tar', ['-xOf', tar, index[0]!.Config]).toString()) as { config: { Labels: Record<string, string> } };
    expect(config.config.Labels['dbco.tc.release']).toBe('6.4.1');
  });

  test('an HTML page or garbage is refused naming the URL, and not kept: the mirror is asked again next time', async () => {
    writeFileSync(path.join(root, 'latest-x86_64'), '<html><body>Mirror maintenance</body></html>\n');
    const recipe = path.join(t.dir, 'garbage.yaml');
    writeFileSync(recipe, RECIPE64.replace('latest64', 'garbage'));
    const cache = path.join(t.dir, 'cache-garbage');
    const err = await prepare(recipe, { mirror: server.url, cache }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as Error).message).toContain(`${server.url}/latest-x86_64: release: latest: not a release string ("<html><body>Mirror maintenance</body></html>"`);
    expect(await new Cache(cache).getMeta(`${server.url}/latest-x86_64`)).toBeUndefined();
    writeFileSync(path.join(root, 'latest-x86_64'), '6.4.1');
    expect((await prepare(recipe, { mirror: server.url, cache })).recipe.release).toBe('6.4.1');

    writeFileSync(path.join(root, 'latest-x86_64'), '17.0-rc1\n');
    const cli = await runDbco(['fetch', recipe, '--mirror', server.url, '--cache', path.join(t.dir, 'cache-garbage2')], { env });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(`${server.url}/latest-x86_64: release: latest: not a release string ("17.0-rc1"`);
    expect(cli.stderr).not.toContain('    at ');
    writeFileSync(path.join(root, 'latest-x86_64'), '6.4.1\n');
  });

  test('a mirror without the file: the error names the URL and says to pin release', async () => {
    const recipe = path.join(t.dir, 'missing.yaml');
    writeFileSync(recipe, 'name: missing\nrelease: latest\narch: x86\nbase: vmlinuz\n');
    const cli = await runDbco(['resolve', recipe, '--mirror', server.url, '--cache', path.join(t.dir, 'cache-missing')], { env });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(`${server.url}/latest-x86: release: latest: the mirror has no latest-x86`);
    expect(cli.stderr).toContain('pin release: in the recipe');
    expect(cli.stderr).not.toContain('    at ');
  });
});

describe('release: latest from a folder mirror', () => {
  const t = tempDir();
  let root: string;
  beforeAll(() => { root = mirrorCopy(t.dir, { x86: '7.2\n', x86_64: '6.4.1' }); });
  afterAll(t.cleanup);

  test('multi-arch: each arch reads its own latest-* file', async () => {
    const recipe = path.join(t.dir, 'both.yaml');
    writeFileSync(recipe, 'name: both\nrelease: latest\narch: [x86, x86_64]\nbase: {x86: vmlinuz, x86_64: rootfs64.gz}\nextensions: [curl]\n');
    const cache = path.join(t.dir, 'cache');
    const x86 = await openSession(recipe, { mirror: root, cache, arch: 'x86' });
    const x64 = await openSession(recipe, { mirror: root, cache, arch: 'x86_64' });
    expect(x86.recipe.release).toBe('7.2');
    expect(x64.recipe.release).toBe('6.4.1');
    const { inputs } = await fetchSession(x86);
    expect(inputs.extensions.map((e) => e.file.origin)).toContain(path.join(root, '7.x/x86/tcz/curl.tcz'));
    await Promise.all([x86.close(), x64.close()]);
  });

  test('--frozen: a newer latest than the lock records fails naming the field', async () => {
    const recipe = path.join(t.dir, 'frozen.yaml');
    writeFileSync(recipe, RECIPE64.replace('latest64', 'frozen'));
    const cache = path.join(t.dir, 'cache');
    const s = await openSession(recipe, { mirror: root, cache });
    const { lock } = await fetchSession(s);
    await writeLock(s.lockPath, lock);
    expect(lock.release).toBe('6.4.1');
    await openSession(recipe, { mirror: root, cache, frozen: true }).then((x) => x.close());
    writeFileSync(path.join(root, 'latest-x86_64'), '6.5\n');
    const err = await openSession(recipe, { mirror: root, cache, frozen: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfflineError);
    expect((err as Error).message).toBe(`--frozen: release: latest is now 6.5 at ${path.join(root, 'latest-x86_64')}, ${s.lockPath} has 6.4.1 (run dbco lock, or pin release:)`);
    writeFileSync(path.join(root, 'latest-x86_64'), 'six');
    const bad = await openSession(recipe, { mirror: root, cache }).catch((e: unknown) => e);
    expect((bad as Error).message).toContain(`${path.join(root, 'latest-x86_64')}: release: latest: not a release string ("six"`);
    writeFileSync(path.join(root, 'latest-x86_64'), '6.4.1');
  });

  test('an ISO base cannot answer latest: a recipe error naming the field', async () => {
    const recipe = path.join(t.dir, 'iso.yaml');
    writeFileSync(recipe, `name: iso\narch: x86\nrelease: latest\nbase: {iso: tc.iso, sha256: "${'0'.repeat(64)}"}\n`);
    const err = await openSession(recipe, { mirror: root, cache: path.join(t.dir, 'cache') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecipeError);
    expect((err as Error).message).toBe(`${recipe}:3:10: release: latest needs a mirror that answers latest-x86 / latest-x86_64; a base ISO holds one release: pin release: to it`);
  });

  test('the recipe takes latest or a release string, nothing else', () => {
    expect(parseRecipe('name: a\nrelease: latest\narch: x86\n', 'a.yaml').release).toBe('latest');
    expect(() => parseRecipe('name: a\nrelease: newest\narch: x86\n', 'a.yaml')).toThrow('a.yaml:2:10: release: "newest" is not a TC release such as "6.4.1", or latest');
  });
});
