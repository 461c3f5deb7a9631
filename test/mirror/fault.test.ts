import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/index.js';
import { DigestMismatchError, FetchError } from '../../src/errors.js';
import { openMirror } from '../../src/mirror/index.js';
import type { MirrorSource } from '../../src/mirror/types.js';
import { faultServer, type FaultServer } from '../helpers/fault-server.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { assertCacheSound } from './cache-walk.js';

const REL = '7.x/x86/tcz/gtk2.tcz'; // 2.5 MB: big enough to fail midway
const SMALL = '7.x/x86/tcz/atk.tcz';

describe('HTTP mirror against a fault-injecting server', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  let server: FaultServer;
  let cacheDir: string;
  let mirror: MirrorSource;
  const sha = (rel: string) => createHash('sha256').update(readFileSync(path.join(root, rel))).digest('hex');

  beforeAll(() => {
    tmp = tempDir('dbco-fault-');
    root = path.join(tmp.dir, 'mirror');
    cpSync(path.join(sharedMirror(), '7.x/x86/tcz'), path.join(root, '7.x/x86/tcz'), { recursive: true });
  });
  afterAll(() => tmp.cleanup());

  beforeEach(async () => {
    server = await faultServer(root);
    cacheDir = path.join(tmp.dir, `cache-${Math.random().toString(36).slice(2)}`);
    mirror = openMirror(server.url, {
      cache: new Cache(cacheDir),
      retry: { retries: 4, baseDelayMs: 10, maxDelayMs: 50, stallMs: 400 },
      tty: false,
    });
  });
  afterEach(async () => {
    await server.close();
    // Whatever happened, the cache holds only whole, verified, read-only blobs and no temp files.
    assertCacheSound(cacheDir);
  });

  const payloadRequests = (rel: string) => server.requests.filter((r) => r.path === `/${rel}`);

  it('500, 503 then OK: succeeds with the right bytes after retries', async () => {
    server.script(`/${REL}`, [{ kind: 'status', status: 500 }, { kind: 'status', status: 503 }]);
    const f = await mirror.fetch(REL);
    expect(f!.sha256).toBe(sha(REL));
    expect(createHash('sha256').update(readFileSync(f!.path)).digest('hex')).toBe(sha(REL));
    expect(payloadRequests(REL).map((r) => r.status)).toEqual([500, 503, 200]);
  });

  it('connection reset midway with Range support: resumes with a 206 from the byte it had', async () => {
    server.script(`/${REL}`, [{ kind: 'reset', after: 1_000_000 }]);
    const f = await mirror.fetch(REL);
    expect(f!.sha256).toBe(sha(REL));
    const reqs = payloadRequests(REL);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.status).toBe(206);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(reqs[1]!.range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(1_000_000);
  });

  it('connection reset midway without Range support: restarts from zero', async () => {
    server.setRanges(false);
    server.script(`/${REL}`, [{ kind: 'reset', after: 700_000 }, { kind: 'reset', after: 1_500_000 }]);
    const f = await mirror.fetch(REL);
    expect(f!.sha256).toBe(sha(REL));
    expect(payloadRequests(REL).map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('truncated body with a correct content-length, then OK', async () => {
    server.script(`/${REL}`, [{ kind: 'truncate', after: 123_456 }, { kind: 'truncate', after: 2_000_000 }]);
    const f = await mirror.fetch(REL);
    expect(f!.sha256).toBe(sha(REL));
    expect(payloadRequests(REL).length).toBe(3);
  });

  it('a stall longer than the stall timeout, then OK', async () => {
    server.script(`/${REL}`, [{ kind: 'stall', after: 50_000, ms: 5_000 }]);
    const t0 = Date.now();
    const f = await mirror.fetch(REL);
    expect(f!.sha256).toBe(sha(REL));
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(payloadRequests(REL).length).toBe(2);
  });

  it('a stall before any byte of a .dep, then OK', async () => {
    server.script('/7.x/x86/tcz/gtk2.tcz.dep', [{ kind: 'stall', after: 0, ms: 5_000 }]);
    expect(await mirror.text('7.x/x86/tcz/gtk2.tcz.dep')).toBe(readFileSync(path.join(root, '7.x/x86/tcz/gtk2.tcz.dep'), 'utf8'));
  });

  it('wrong md5 in .md5.txt: DigestMismatchError naming URL, expected and actual; nothing cached', async () => {
    const wrong = '0123456789abcdef0123456789abcdef';
    server.override(`/${SMALL}.md5.txt`, `${wrong}  atk.tcz\n`);
    const err = await mirror.fetch(SMALL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    const e = err as DigestMismatchError;
    expect(e.url).toBe(`${server.url}/${SMALL}`);
    expect(e.expected).toBe(wrong);
    expect(e.actual).toBe(createHash('md5').update(readFileSync(path.join(root, SMALL))).digest('hex'));
    expect(e.message).toContain(`${server.url}/${SMALL}: md5 mismatch`);
    expect(assertCacheSound(cacheDir)).toEqual([]);
    // The wrong answer is not remembered: once the mirror is fixed, the next fetch succeeds.
    server.override(`/${SMALL}.md5.txt`, readFileSync(path.join(root, `${SMALL}.md5.txt`)));
    expect((await mirror.fetch(SMALL))!.sha256).toBe(sha(SMALL));
  });

  it('an HTML error page served as .md5.txt is a clear FetchError, not remembered', async () => {
    server.override(`/${SMALL}.md5.txt`, '<html><body>Service Unavailable</body></html>');
    await expect(mirror.fetch(SMALL)).rejects.toThrow(`${server.url}/${SMALL}.md5.txt: not an .md5.txt`);
    server.override(`/${SMALL}.md5.txt`, readFileSync(path.join(root, `${SMALL}.md5.txt`)));
    expect((await mirror.fetch(SMALL))!.sha256).toBe(sha(SMALL));
  });

  it('a wrong expected sha256 is a DigestMismatchError and caches nothing', async () => {
    const err = await mirror.fetch(SMALL, { sha256: 'f'.repeat(64) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).algorithm).toBe('sha256');
    expect(assertCacheSound(cacheDir)).toEqual([]);
  });

  it('persistent 500: FetchError naming the URL and the last cause, nothing cached', async () => {
    server.script(`/${SMALL}`, Array.from({ length: 10 }, () => ({ kind: 'status' as const, status: 500 })));
    const err = await mirror.fetch(SMALL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).url).toBe(`${server.url}/${SMALL}`);
    expect((err as Error).message).toMatch(/failed after 5 attempts: HTTP 500/);
    expect(payloadRequests(SMALL)).toHaveLength(5);
  });

  it('persistent resets: FetchError with the connection cause', async () => {
    server.script(`/${REL}`, Array.from({ length: 10 }, () => ({ kind: 'reset' as const, after: 10 })));
    const err = await mirror.fetch(REL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as Error).message).toContain(`${server.url}/${REL}: failed after 5 attempts`);
  });

  it('404 is null (absent), for payloads and texts, without retries (a .dep 404 is confirmed once)', async () => {
    expect(await mirror.fetch('7.x/x86/tcz/no-such.tcz')).toBeNull();
    expect(await mirror.text('7.x/x86/tcz/no-such.tcz.dep')).toBeNull();
    expect(payloadRequests('7.x/x86/tcz/no-such.tcz')).toHaveLength(1);
    expect(payloadRequests('7.x/x86/tcz/no-such.tcz.dep')).toHaveLength(2);
  });

  it('exists(): HEAD through 502s, remembered afterwards; absent is false', async () => {
    server.script(`/${SMALL}`, [{ kind: 'status', status: 502 }]);
    expect(await mirror.exists!(SMALL)).toBe(true);
    expect(await mirror.exists!('7.x/x86/tcz/no-such.tcz')).toBe(false);
    expect(payloadRequests(SMALL).map((r) => r.status)).toEqual([502, 200]);
    const n = server.requests.length;
    const again = openMirror(server.url, { cache: new Cache(cacheDir), offline: true });
    expect(await again.exists!(SMALL)).toBe(true);
    expect(await again.exists!('7.x/x86/tcz/no-such.tcz')).toBe(false);
    await expect(again.exists!(REL)).rejects.toThrow(`--offline: whether ${server.url}/${REL} exists is not in the cache`);
    expect(server.requests.length).toBe(n);
  });

  it('a 403 is not retried and not taken for absent', async () => {
    server.script(`/${SMALL}`, [{ kind: 'status', status: 403 }]);
    await expect(mirror.fetch(SMALL)).rejects.toThrow(/HTTP 403/);
    expect(payloadRequests(SMALL)).toHaveLength(1);
  });
});
