import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { openMirror } from '../../src/mirror/index.js';
import { faultServer, type FaultServer } from '../helpers/fault-server.js';
import { REPO_ROOT, sharedMirror, tempDir } from '../helpers/env.js';
import { assertCacheSound } from './cache-walk.js';

const TCZ = '7.x/x86/tcz';

/** Runs a node script; resolves with its stdout, rejects with its stderr on a non-zero exit. */
function runNode(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe('several dbco processes sharing one cache', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  let server: FaultServer;
  let script: string;

  beforeAll(async () => {
    tmp = tempDir('dbco-concurrent-');
    root = path.join(tmp.dir, 'mirror');
    cpSync(path.join(sharedMirror(), TCZ), path.join(root, TCZ), { recursive: true });
    server = await faultServer(root);
    // Latency keeps the four processes' downloads overlapping.
    server.setLatency(15);
    // Compile just the mirror and cache (and what they import) so children run plain node, no loader.
    const out = path.join(tmp.dir, 'build');
    execFileSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        '--outDir', out, '--rootDir', REPO_ROOT, '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
        '--target', 'ES2022', '--types', 'node', '--skipLibCheck', '--strict',
        path.join(REPO_ROOT, 'src/mirror/index.ts'), path.join(REPO_ROOT, 'src/cache/index.ts'),
      ],
      { stdio: 'pipe', cwd: REPO_ROOT },
    );
    script = path.join(tmp.dir, 'fetch-all.mjs');
    writeFileSync(
      script,
      `import { Cache } from ${JSON.stringify(pathToFileURL(path.join(out, 'src/cache/index.js')).href)};
import { openMirror } from ${JSON.stringify(pathToFileURL(path.join(out, 'src/mirror/index.js')).href)};
const [url, cacheDir, ...rels] = process.argv.slice(2);
const mirror = openMirror(url, { cache: new Cache(cacheDir), concurrency: 4 });
const deps = await Promise.all(rels.map((r) => mirror.text(r + '.dep')));
const files = await Promise.all(rels.map((r) => mirror.fetch(r)));
console.log(JSON.stringify(files.map((f, i) => ({ rel: rels[i], sha256: f.sha256, md5: f.md5, size: f.size, path: f.path, dep: deps[i] }))));
`,
    );
  }, 120_000);
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('four processes fetching the same 16 tczs into one cold cache all succeed with identical results', async () => {
    const names = readdirSync(path.join(root, TCZ)).filter((n) => n.endsWith('.tcz')).sort().slice(0, 16);
    const rels = names.map((n) => `${TCZ}/${n}`);
    const cacheDir = path.join(tmp.dir, 'shared-cache');
    const outs = await Promise.all([0, 1, 2, 3].map(() => runNode(script, [server.url, cacheDir, ...rels])));
    const results = outs.map((o) => JSON.parse(o) as Array<{ rel: string; sha256: string; size: number; path: string; dep: string | null }>);
    for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    for (const f of results[0]!) {
      expect(f.sha256).toBe(createHash('sha256').update(readFileSync(path.join(root, f.rel))).digest('hex'));
      expect(createHash('sha256').update(readFileSync(f.path)).digest('hex')).toBe(f.sha256);
    }
    expect(assertCacheSound(cacheDir).length).toBe(new Set(results[0]!.map((f) => f.sha256)).size);
    // They really raced: more payload downloads than files.
    const payloadGets = server.requests.filter((r) => r.path.endsWith('.tcz')).length;
    expect(payloadGets).toBeGreaterThan(rels.length);
  });

  it('a process killed mid-download leaves no blob; its temp file is swept (its writer is gone); the next run succeeds', async () => {
    const rel = `${TCZ}/gtk2.tcz`;
    const cacheDir = path.join(tmp.dir, 'killed-cache');
    server.script(`/${rel}`, [{ kind: 'stall', after: 1_000_000, ms: 60_000 }]);
    const child = spawn(process.execPath, [script, server.url, cacheDir, rel], { stdio: 'ignore' });
    const tmpDir = path.join(cacheDir, 'tmp');
    // Wait until the child holds a partial download, then kill it without any chance to clean up.
    for (let i = 0; i < 200; i++) {
      const partial = existsSync(tmpDir) && readdirSync(tmpDir).some((n) => statSync(path.join(tmpDir, n)).size >= 1_000_000);
      if (partial) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(readdirSync(tmpDir).length).toBe(1);
    expect(existsSync(path.join(cacheDir, 'blobs')) ? readdirSync(path.join(cacheDir, 'blobs/sha256')) : []).toEqual([]);
    const cache = new Cache(cacheDir);
    // Fresh, but its pid is dead: no need to wait for the age limit.
    expect(await cache.sweepTemps(60_000)).toBe(1);
    expect(await new Cache(cacheDir).sweepTemps(0)).toBe(0);
    const f = await openMirror(server.url, { cache }).fetch(rel);
    expect(f!.sha256).toBe(createHash('sha256').update(readFileSync(path.join(root, rel))).digest('hex'));
    assertCacheSound(cacheDir);
  });
});
