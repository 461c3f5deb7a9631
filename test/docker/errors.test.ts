import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { requireTool, tempDir } from '../helpers/env.js';
import { serveFolder } from '../helpers/static-server.js';
import { TC6, makeTcz, mirrorWith6x, writeRecipe } from './helpers/fixtures.js';
import { runDbco } from '../helpers/env.js';
import { engineCli } from './helpers/docker-util.js';
import { ENGINES, requireEngine } from './helpers/engines.js';

/** Lists every file under the cache (relative), to show a failed build left nothing half-written. */
function cacheFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('dbco image --docker: failures are clear, non-zero, tag nothing', () => {
  const tmp = tempDir('dbco-image-err-');
  const T = `dbco-err${process.pid}`;
  let mirror: Awaited<ReturnType<typeof serveFolder>>;
  let common: string;
  beforeAll(async () => {
    requireTool('docker');
    const root = mirrorWith6x(path.join(tmp.dir, 'mirror'));
    const tcz = path.join(root, TC6, 'tcz');
    makeTcz(tcz, 'good', { 'usr/local/share/good.txt': 'good\n' }, ['missing-dep']);
    makeTcz(tcz, 'tampered', { 'usr/local/share/t.txt': 'tampered\n' });
    writeFileSync(path.join(tcz, 'tampered.tcz.md5.txt'), `${'0'.repeat(32)}  tampered.tcz\n`);
    mirror = await serveFolder(root);
    common = `release: "6.4.1"\narch: x86_64\nmirror: ${mirror.url}\nbase: rootfs64.gz\n`;
  }, 300_000);
  afterAll(async () => { await mirror?.close(); tmp.cleanup(); });

  const run = async (recipe: string, env: NodeJS.ProcessEnv = {}, host = ENGINES[0]!.host) => {
    const { imageTags } = engineCli(host);
    const before = imageTags();
    const cache = path.join(tmp.dir, `cache-${path.basename(recipe, '.yaml')}`);
    const started = Date.now();
    const r = await runDbco(['image', recipe, '--docker', '--cache', cache, '--tag', `${T}:x`], { env: { DOCKER_HOST: host, ...env } });
    return { ...r, ms: Date.now() - started, newTags: imageTags().filter((t) => !before.includes(t) && t.startsWith(T)), cache };
  };

  test.each(ENGINES)('unknown extension on $name: the dependency chain is named, nothing tagged', async (e) => {
    requireEngine(e);
    const r = await run(writeRecipe(tmp.dir, `unknown-${e.name}`, `name: unknown\n${common}extensions: [good]\n`), {}, e.host);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/missing-dep\.tcz/);
    expect(r.stderr).toMatch(/good\.tcz/);
    expect(r.stderr.trim().split('\n').length).toBeLessThan(5);
    expect(r.newTags).toEqual([]);
  });

  test.each(ENGINES)('md5 mismatch on $name: named, and the bad file is not in the cache', async (e) => {
    requireEngine(e);
    const r = await run(writeRecipe(tmp.dir, `md5-${e.name}`, `name: md5\n${common}extensions: [tampered]\n`), {}, e.host);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tampered\.tcz/);
    expect(r.stderr).toMatch(/md5/i);
    expect(r.newTags).toEqual([]);
    const blobs = cacheFiles(path.join(r.cache, 'blobs'));
    expect(blobs.filter((f) => f.includes('/')).length).toBeLessThanOrEqual(1); // at most the verified rootfs64.gz
    expect(cacheFiles(path.join(r.cache, 'tmp'))).toEqual([]);
  });

  test('Docker down: fails before any download, naming DOCKER_HOST and --output', async () => {
    const requestsBefore = mirror.requests.length;
    const r = await run(writeRecipe(tmp.dir, 'down', `name: down\n${common}`), { DOCKER_HOST: 'unix:///nonexistent.sock' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unix:\/\/\/nonexistent\.sock/);
    expect(r.stderr).toMatch(/--output/);
    // Before anything is fetched (the standards forbid timed assertions: the order shows it failed fast).
    expect(mirror.requests.length).toBe(requestsBefore);
    expect(r.newTags).toEqual([]);
  });

  test('an engine that accepts but never answers: DockerError after the 2 s ping timeout, before any download', async () => {
    const requestsBefore = mirror.requests.length;
    const sock = path.join(tmp.dir, 'silent.sock');
    const silent = createServer(() => { /* accept, never reply */ });
    await new Promise<void>((resolve) => silent.listen(sock, resolve));
    try {
      const r = await run(writeRecipe(tmp.dir, 'silent', `name: silent\n${common}`), { DOCKER_HOST: `unix://${sock}` });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/no answer within 2000 ms/);
      expect(r.stderr).toContain(sock);
      expect(r.ms).toBeGreaterThanOrEqual(2000);
      expect(mirror.requests.length).toBe(requestsBefore);
    } finally {
      silent.close();
    }
  });

  test('an engine that answers the ping but never the load: a clear timeout naming the engine, not a hang', async () => {
    const sock = path.join(tmp.dir, 'wedged.sock');
    const loads: string[] = [];
    // Answers what dbco asks before loading (as dockerd would, for an engine with no images), then
    // takes the whole load request and never replies.
    const wedged = createHttpServer((req, res) => {
      const url = (req.url ?? '').replace(/^\/v1\.\d+\//, '/'); // the API version dbco settled on
      if (req.method === 'POST' && url.startsWith('/images/load')) {
        req.on('data', () => undefined);
        req.on('end', () => loads.push(url));
        return;
      }
      const json = (code: number, body: unknown) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body)); };
      if (url.startsWith('/_ping')) { res.writeHead(200, { Server: 'Docker/99.1.0-wedged (linux)', 'Api-Version': '1.41' }); res.end('OK'); return; }
      if (url.startsWith('/info')) return json(200, { Driver: 'overlay2', DriverStatus: [] });
      if (url.startsWith('/images/json') || url.startsWith('/containers/json')) return json(200, []);
      if (/^\/images\/.+\/json/.test(url)) return json(404, { message: 'No such image' });
      return json(500, { message: `unexpected ${req.method} ${url}` });
    });
    await new Promise<void>((resolve) => wedged.listen(sock, resolve));
    try {
      const recipe = writeRecipe(tmp.dir, 'wedged', `name: wedged\n${common}image:\n  setup: none\n`);
      const r = await runDbco(['image', recipe, '--docker', '--cache', path.join(tmp.dir, 'cache-wedged'), '--tag', `${T}:x`],
        { env: { DOCKER_HOST: `unix://${sock}`, DBCO_ENGINE_TIMEOUT: '2' } });
      expect(loads.length).toBeGreaterThanOrEqual(1);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Docker 99\.1\.0-wedged \(overlay2\) at unix:\/\/.*wedged\.sock: docker load: the engine went silent for 2 s/);
      expect(r.stderr).toMatch(/DBCO_ENGINE_TIMEOUT/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // one line, no stack trace
    } finally {
      wedged.close();
    }
  });

  test('a bad recipe field: file, field and reason; nothing fetched', async () => {
    const r = await run(writeRecipe(tmp.dir, 'badfield', `name: Bad Name\n${common}image:\n  setup: sometimes\n`));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/badfield\.yaml/);
    expect(r.stderr).toMatch(/name/);
    expect(r.stderr).toMatch(/setup/);
    expect(mirror.requests.filter((u) => u.includes('badfield'))).toEqual([]);
    expect(r.newTags).toEqual([]);
  });

  test('a bad recipe and Docker down: the recipe is reported (the ping runs beside the recipe read, but is awaited after it)', async () => {
    const r = await run(writeRecipe(tmp.dir, 'baddown', `name: Bad Name\n${common}`), { DOCKER_HOST: 'unix:///nonexistent.sock' });
    expect(r.code).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('dbco: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/baddown\.yaml/);
    expect(lines[0]).not.toMatch(/nonexistent/);
  });

  test('32-bit recipe with setup build: refused before any download, suggesting boot or none', async () => {
    const before = mirror.requests.length;
    const r = await run(writeRecipe(tmp.dir, 'x86build', `name: x86build\nrelease: "7.2"\narch: x86\nmirror: ${mirror.url}\nbase: core.gz\nimage: {setup: build}\n`));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot run x86 \(i386\) binaries/);
    expect(r.stderr).toMatch(/setup: boot/);
    expect(r.stderr).toMatch(/none/);
    expect(mirror.requests.length).toBe(before);
  });

  test('neither --docker nor --disk is a usage error', async () => {
    const r = await runDbco(['image', 'whatever.yaml']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--docker.* or --disk/);
  });
});
