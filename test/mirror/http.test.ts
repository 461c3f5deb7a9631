import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache, defaultCacheDir } from '../../src/cache/index.js';
import { FetchError, OfflineError } from '../../src/errors.js';
import { DEFAULT_MIRROR, openMirror } from '../../src/mirror/index.js';
import type { Logger } from '../../src/io/logger.js';
import { serveFolder } from '../helpers/static-server.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { assertCacheSound } from './cache-walk.js';

const TCZ = '7.x/x86/tcz';

describe('HTTP mirror over a copy of the shared TC mirror', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  let server: Awaited<ReturnType<typeof serveFolder>>;
  let cacheDir: string;
  let names: string[];

  beforeAll(async () => {
    tmp = tempDir('dbco-http-');
    root = path.join(tmp.dir, 'mirror');
    cpSync(path.join(sharedMirror(), '7.x'), path.join(root, '7.x'), { recursive: true });
    server = await serveFolder(root);
    cacheDir = path.join(tmp.dir, 'cache');
    names = readdirSync(path.join(root, TCZ)).filter((n) => n.endsWith('.tcz')).sort();
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('fetches every 7.x tcz in parallel, verified against its .md5.txt, into read-only blobs', async () => {
    const lines: string[] = [];
    const log: Logger = { info: (m) => lines.push(m), warn: (m) => lines.push(m) };
    const mirror = openMirror(server.url, { cache: new Cache(cacheDir), concurrency: 8, log, tty: false });
    const files = await Promise.all(names.map((n) => mirror.fetch(`${TCZ}/${n}`)));
    for (const [i, f] of files.entries()) {
      const bytes = readFileSync(path.join(root, TCZ, names[i]!));
      expect(f!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(f!.md5).toBe(readFileSync(path.join(root, TCZ, `${names[i]}.md5.txt`), 'utf8').slice(0, 32));
      expect(f!.size).toBe(bytes.length);
      expect(f!.origin).toBe(`${server.url}/${TCZ}/${names[i]}`);
      expect(f!.path).toBe(path.join(cacheDir, 'blobs/sha256', f!.sha256));
    }
    expect(assertCacheSound(cacheDir).length).toBe(new Set(files.map((f) => f!.sha256)).size);
    // Not a TTY: one plain line per fetched file.
    expect(lines.filter((l) => l.startsWith('fetched ')).length).toBe(names.length);
  });

  it('a warm fetch and a warm .dep answer need no request; absent answers are remembered too', async () => {
    const cache = new Cache(cacheDir);
    const mirror = openMirror(server.url, { cache });
    await mirror.text(`${TCZ}/gtk2.tcz.dep`);
    await mirror.text(`${TCZ}/no-such.tcz.dep`);
    const before = server.requests.length;
    const again = openMirror(server.url, { cache });
    expect(await again.text(`${TCZ}/gtk2.tcz.dep`)).toBe(readFileSync(path.join(root, TCZ, 'gtk2.tcz.dep'), 'utf8'));
    expect(await again.text(`${TCZ}/no-such.tcz.dep`)).toBeNull();
    const f = await again.fetch(`${TCZ}/gtk2.tcz`);
    expect(f!.size).toBe(statSync(path.join(root, TCZ, 'gtk2.tcz')).size);
    expect(server.requests.length).toBe(before);
  });

  it('metadata answers older than DBCO_METADATA_TTL are asked again online, and trusted whatever their age offline', async () => {
    const cache = new Cache(cacheDir);
    const rel = `${TCZ}/gtk2.tcz.dep`;
    await openMirror(server.url, { cache }).text(rel);
    const url = `${server.url}/${rel}`;
    const before = server.requests.length;
    process.env.DBCO_METADATA_TTL = '0';
    try {
      await new Promise((r) => setTimeout(r, 5));
      expect(await openMirror(server.url, { cache }).text(rel)).toBe(readFileSync(path.join(root, rel), 'utf8'));
      expect(server.requests.slice(before)).toContain(`/${rel}`);
      const mid = server.requests.length;
      await new Promise((r) => setTimeout(r, 5));
      expect(await openMirror(server.url, { cache, offline: true }).text(rel)).not.toBeNull();
      expect(server.requests.length).toBe(mid);
      expect(await cache.getMeta(url, 0)).toBeUndefined();
    } finally {
      delete process.env.DBCO_METADATA_TTL;
    }
  });

  it('--offline answers from the cache and names the URL of anything missing', async () => {
    const cache = new Cache(cacheDir);
    const before = server.requests.length;
    const off = openMirror(server.url, { cache, offline: true });
    expect((await off.fetch(`${TCZ}/curl.tcz`))!.sha256).toBe(createHash('sha256').update(readFileSync(path.join(root, TCZ, 'curl.tcz'))).digest('hex'));
    expect(await off.text(`${TCZ}/no-such.tcz.dep`)).toBeNull();
    await expect(off.text(`${TCZ}/curl.tcz.dep`)).rejects.toThrow(OfflineError);
    await expect(off.text(`${TCZ}/curl.tcz.dep`)).rejects.toThrow(`${server.url}/${TCZ}/curl.tcz.dep is not in the cache`);
    await expect(off.fetch('7.x/x86/release/distribution_files/vmlinuz')).rejects.toThrow(
      new RegExp(`${server.url}/7.x/x86/release/distribution_files/vmlinuz is not in the cache`),
    );
    const cold = openMirror(server.url, { cache: new Cache(path.join(tmp.dir, 'cold')), offline: true });
    await expect(cold.fetch(`${TCZ}/curl.tcz`)).rejects.toBeInstanceOf(OfflineError);
    expect(server.requests.length).toBe(before);
  });

  it('an expected digest that differs from the cached one fetches again and verifies', async () => {
    const cache = new Cache(cacheDir);
    const mirror = openMirror(server.url, { cache });
    const rel = `${TCZ}/atk.tcz`;
    const sha = createHash('sha256').update(readFileSync(path.join(root, rel))).digest('hex');
    expect((await mirror.fetch(rel, { sha256: sha }))!.sha256).toBe(sha);
    const before = server.requests.length;
    await expect(mirror.fetch(rel, { sha256: '0'.repeat(64) })).rejects.toThrow(/sha256 mismatch/);
    expect(server.requests.length).toBeGreaterThan(before);
  });

  it('a payload whose sha256 is already in the cache needs no network, whatever mirror is asked', async () => {
    const cache = new Cache(cacheDir);
    const rel = `${TCZ}/curl.tcz`;
    const bytes = readFileSync(path.join(root, rel));
    const sha = createHash('sha256').update(bytes).digest('hex');
    // Port 9 (discard) on localhost: nothing listens, so any request would fail.
    for (const offline of [true, false]) {
      const elsewhere = openMirror('http://127.0.0.1:9', { cache, offline, retry: { retries: 0 } });
      const f = await elsewhere.fetch(rel, { sha256: sha, size: bytes.length });
      expect(f!.path).toBe(cache.blobPath(sha));
      expect(f!.origin).toBe(`http://127.0.0.1:9/${rel}`);
    }
    await expect(openMirror('http://127.0.0.1:9', { cache, retry: { retries: 0 } }).fetch(rel, { sha256: 'a'.repeat(64) })).rejects.toThrow(
      /http:\/\/127\.0\.0\.1:9\/7\.x\/x86\/tcz\/curl\.tcz(\.md5\.txt)?: failed after 1 attempts: .*ECONNREFUSED/,
    );
  });

  it('refuses paths that leave the mirror and schemes it does not speak', async () => {
    const mirror = openMirror(server.url, { cache: new Cache(cacheDir) });
    await expect(async () => mirror.text('7.x/../../etc/passwd')).rejects.toBeInstanceOf(FetchError);
    await expect(async () => mirror.fetch('/etc/passwd')).rejects.toBeInstanceOf(FetchError);
    expect(() => openMirror('ftp://example.org/tc', { cache: new Cache(cacheDir) })).toThrow(/unsupported mirror scheme/);
    expect(mirror.urlOf('7.x/x86/tcz/gtk2.tcz')).toBe(`${server.url}/7.x/x86/tcz/gtk2.tcz`);
    expect(openMirror(`${server.url}/`, { cache: new Cache(cacheDir) }).urlOf('a/b.tcz')).toBe(`${server.url}/a/b.tcz`);
  });

  it('DEFAULT_MIRROR and defaultCacheDir follow the agreed defaults', () => {
    expect(DEFAULT_MIRROR).toBe('http://tinycorelinux.net');
    const saved = process.env.DBCO_CACHE;
    try {
      process.env.DBCO_CACHE = path.join(tmp.dir, 'env-cache');
      expect(defaultCacheDir()).toBe(path.join(tmp.dir, 'env-cache'));
      delete process.env.DBCO_CACHE;
      expect(defaultCacheDir()).toBe(path.resolve('cache'));
    } finally {
      if (saved === undefined) delete process.env.DBCO_CACHE;
      else process.env.DBCO_CACHE = saved;
    }
  });
});
