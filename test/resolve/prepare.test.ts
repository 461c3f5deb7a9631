import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, mkdirSync, readFileSync, writeFileSync, existsSync, copyFileSync, chmodSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { serveFolder } from '../helpers/static-server.js';
import { sharedMirror, tempDir } from '../helpers/env.js';
import { prepare } from '../../src/pipeline/prepare.js';
import { openSession } from '../../src/resolve/session.js';
import { readKernelVersion } from '../../src/resolve/base-kernel.js';
import { fetchSession } from '../../src/pipeline/fetch.js';
import { lockJson, lockDigest, readLock, recipeDigests, rootfsLockDigest, writeLock } from '../../src/resolve/lock.js';
import { OfflineError, ResolveError } from '../../src/errors.js';
import { shellWalk } from './walk-helpers.js';

const M = sharedMirror();
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('prepare() against the real mirror over HTTP', () => {
  const t = tempDir();
  let server: Awaited<ReturnType<typeof serveFolder>>;
  beforeAll(async () => { server = await serveFolder(M); });
  afterAll(async () => { await server.close(); t.cleanup(); });

  const recipe14 = (): string => {
    const file = path.join(t.dir, 'r14.yaml');
    writeFileSync(file, [
      'name: r14', 'release: "14.0"', 'arch: x86_64', 'kernel_version: 6.1.2-tinycore64',
      `base: {file: ${JSON.stringify(path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz'))}}`,
      'extensions: [iproute2, dialog, scsi-KERNEL]', '',
    ].join('\n'));
    return file;
  };

  test('14.x: tce-load order, KERNEL substituted, every file verified in the cache', async () => {
    const cache = path.join(t.dir, 'cache');
    const inputs = await prepare(recipe14(), { mirror: server.url, cache });
    const ref = shellWalk(path.join(M, '14.x/x86_64/tcz'), ['iproute2', 'dialog', 'scsi-KERNEL.tcz'], '6.1.2-tinycore64');
    expect(inputs.extensions.map((e) => e.name)).toEqual(ref.order);
    expect(inputs.extensions.map((e) => e.name)).toContain('scsi-6.1.2-tinycore64.tcz');
    for (const e of inputs.extensions) {
      expect(e.file.path.startsWith(cache)).toBe(true);
      expect(sha(e.file.path)).toBe(sha(path.join(M, '14.x/x86_64/tcz', e.name)));
      expect(e.file.sha256).toBe(sha(e.file.path));
      expect(e.file.origin).toBe(`${server.url}/14.x/x86_64/tcz/${e.name}`);
    }
    expect(inputs.extensions.find((e) => e.name === 'iproute2.tcz')!.deps).toEqual(['db.tcz']);
    expect(inputs.base.sha256).toBe(sha(path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz')));
    expect(inputs.kernelVersion).toBe('6.1.2-tinycore64');
    expect(inputs.lockDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs.recipeDigest).toBe(sha(recipe14()));
  });

  test('kernel version read from real bzImages', async () => {
    expect(await readKernelVersion(path.join(M, '7.x/x86/release/distribution_files/vmlinuz'))).toBe('4.2.9-tinycore');
    expect(await readKernelVersion(path.join(M, '6.x/x86_64/release/distribution_files/vmlinuz64'))).toBe('3.16.6-tinycore64');
    expect(await readKernelVersion(path.join(M, '14.x/x86_64/tcz/dialog.tcz'))).toBeUndefined();
  });

  test('a hole reached through a dependency is a ResolveError with the chain (prepare fetches)', async () => {
    const file = path.join(t.dir, 'r3.yaml');
    writeFileSync(file, `name: r3\nrelease: "3.0"\narch: x86\nbase: {file: ${JSON.stringify(path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz'))}}\nextensions: [mc, compiletc]\n`);
    const err = await prepare(file, { mirror: server.url, cache: path.join(t.dir, 'cache') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toContain(`base-dev.tcz is not on ${server.url}: base-dev.tcz <- compiletc.tcz <- recipe`);
    expect((err as Error).message).toContain('also missing: gcc.tcz <- compiletc.tcz <- recipe');
  });
});

describe('lock, --frozen, --offline (folder mirror copy)', () => {
  const t = tempDir();
  const mirror = path.join(t.dir, 'mirror');
  const tcz = path.join(mirror, '7.x/x86/tcz');
  const recipe = path.join(t.dir, 'recipes', 'seven.yaml');
  const cache = path.join(t.dir, 'cache');
  beforeAll(() => {
    mkdirSync(path.dirname(tcz), { recursive: true });
    cpSync(path.join(M, '7.x/x86/tcz'), tcz, { recursive: true });
    cpSync(path.join(M, '7.x/x86/release'), path.join(mirror, '7.x/x86/release'), { recursive: true });
    for (const f of readdirSync(tcz)) chmodSync(path.join(tcz, f), 0o644);
    mkdirSync(path.dirname(recipe));
    writeFileSync(recipe, 'name: seven\nrelease: "7.2"\narch: x86\nbase: vmlinuz\nkernel: vmlinuz\nextensions: [curl, gnupg]\n');
  });
  afterAll(t.cleanup);

  test('lock written next to the recipe: canonical, every extension with path, url, size, md5, sha256, deps', async () => {
    const s = await openSession(recipe, { mirror, cache });
    const { lock, inputs } = await fetchSession(s);
    await writeLock(s.lockPath, lock);
    const lockFile = path.join(t.dir, 'recipes', 'seven.lock.json');
    expect(s.lockPath).toBe(lockFile);
    const text = readFileSync(lockFile, 'utf8');
    expect(text).toBe(lockJson(JSON.parse(text)));
    expect(text.endsWith('}\n')).toBe(true);
    // inputs.lockDigest (the image label) leaves out the kernel, which a Docker build never fetches.
    expect(rootfsLockDigest(JSON.parse(text))).toBe(inputs.lockDigest);
    expect(lockDigest(JSON.parse(text))).not.toBe(inputs.lockDigest);
    const l = (await readLock(lockFile))!;
    expect(l.recipe.digest).toBe(recipeDigests(s.recipe).digest);
    expect(l.kernelVersion).toBe('4.2.9-tinycore');
    expect(l.extensions.map((e) => e.name)).toEqual(shellWalk(tcz, ['curl', 'gnupg']).order);
    for (const e of l.extensions) {
      expect(e.path).toBe(`7.x/x86/tcz/${e.name}`);
      expect(e.sha256).toBe(sha(path.join(tcz, e.name)));
      expect(e.md5).toBe(createHash('md5').update(readFileSync(path.join(tcz, e.name))).digest('hex'));
      expect(e.size).toBe(readFileSync(path.join(tcz, e.name)).length);
      // relative to the recipe's folder: a committed lock names no host path
      expect(e.url).toBe(path.relative(path.join(t.dir, 'recipes'), path.join(tcz, e.name)));
    }
    expect(l.extensions.find((e) => e.name === 'curl.tcz')!.deps).toEqual(readFileSync(path.join(tcz, 'curl.tcz.dep'), 'utf8').split('\n').map((x) => x.trim()).filter(Boolean));
    // same inputs, same lock bytes
    const again = await fetchSession(await openSession(recipe, { mirror, cache }));
    expect(lockJson(again.lock)).toBe(text);
  });

  test('--frozen passes when nothing changed', async () => {
    const inputs = await prepare(recipe, { mirror, cache, frozen: true });
    expect(inputs.extensions.length).toBeGreaterThan(5);
  });

  test('--offline with a warm cache works without the mirror', async () => {
    const inputs = await prepare(recipe, { mirror: path.join(t.dir, 'no-such-mirror'), cache, offline: true, frozen: true });
    expect(inputs.extensions.map((e) => e.name)).toContain('curl.tcz');
    for (const e of inputs.extensions) expect(existsSync(e.file.path)).toBe(true);
  });

  test('--offline with a cold cache names the missing file', async () => {
    const locked = await prepare(recipe, { mirror, cache: path.join(t.dir, 'cold'), offline: true }).catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(OfflineError);
    expect((locked as Error).message).toMatch(/^--offline: not in the cache .*cold: libidn\.tcz \(\S*\/7\.x\/x86\/tcz\/libidn\.tcz, sha256 [0-9a-f]{64}\), /);
    // without a lock: the first .dep or payload it would need from the HTTP mirror
    const unlocked = path.join(t.dir, 'unlocked.yaml');
    copyFileSync(recipe, unlocked);
    const server = await serveFolder(mirror);
    try {
      const err = await prepare(unlocked, { mirror: server.url, cache: path.join(t.dir, 'cold'), offline: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OfflineError);
      expect((err as Error).message).toMatch(new RegExp(`${server.url}/7\\.x/x86/\\S+ is not in the cache`));
      expect(server.requests).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test('--frozen refuses a changed resolution, listing the differences', async () => {
    const dep = path.join(tcz, 'curl.tcz.dep');
    const before = readFileSync(dep, 'utf8');
    writeFileSync(dep, `${before.trimEnd()}\npth.tcz\n`);
    try {
      const err = await prepare(recipe, { mirror, cache, frozen: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OfflineError);
      expect((err as Error).message).toMatch(/--frozen: the resolution differs from .*seven\.lock\.json/);
      expect((err as Error).message).toMatch(/curl\.tcz: deps were \[.*\], now \[.*pth\.tcz\]/);
      expect((err as Error).message).toContain('install order changed');
    } finally {
      writeFileSync(dep, before);
    }
    // a changed payload: same name, other bytes
    const f = path.join(tcz, 'libidn.tcz');
    const orig = readFileSync(f);
    copyFileSync(path.join(tcz, 'pth.tcz'), f);
    try {
      const err = await prepare(recipe, { mirror, cache, frozen: true }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/libidn\.tcz.*(sha256|md5) mismatch/);
    } finally {
      writeFileSync(f, orig);
    }
  });

  test('--frozen refuses a changed recipe', async () => {
    const before = readFileSync(recipe, 'utf8');
    writeFileSync(recipe, `${before}bootcodes: [nozswap]\n`);
    try {
      const err = await prepare(recipe, { mirror, cache, frozen: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OfflineError);
      expect((err as Error).message).toContain('recipe fields changed since it was locked: bootcodes (added)');
    } finally {
      writeFileSync(recipe, before);
    }
  });
});

describe('KERNEL version from the base initramfs', () => {
  const t = tempDir();
  afterAll(t.cleanup);

  test('lib/modules/<version> in a gzip\'d cpio base; none there is an error naming the extension', async () => {
    const { requireTool } = await import('../helpers/env.js');
    requireTool('cpio');
    requireTool('gzip');
    const root = path.join(t.dir, 'root');
    mkdirSync(path.join(root, 'lib/modules/6.1.2-tinycore64/kernel'), { recursive: true });
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    writeFileSync(path.join(root, 'etc/hostname'), 'box\n');
    const { execSync } = await import('node:child_process');
    const base = path.join(t.dir, 'core.gz');
    execSync(`cd ${JSON.stringify(root)} && find . | sort | cpio -o -H newc 2>/dev/null | gzip -9 > ${JSON.stringify(base)}`);
    const recipe = path.join(t.dir, 'mods.yaml');
    writeFileSync(recipe, `name: mods\nrelease: "14.0"\narch: x86_64\nbase: {file: core.gz}\nextensions: [scsi-KERNEL, dialog]\n`);
    const inputs = await prepare(recipe, { mirror: M, cache: path.join(t.dir, 'cache') });
    expect(inputs.extensions.map((e) => e.name)).toEqual(['scsi-6.1.2-tinycore64.tcz', 'ncursesw.tcz', 'dialog.tcz']);
    expect(inputs.kernelVersion).toBe('6.1.2-tinycore64');

    const plain = path.join(t.dir, 'plain.yaml');
    writeFileSync(plain, `name: plain\nrelease: "14.0"\narch: x86_64\nbase: {file: ${JSON.stringify(path.join(M, '6.x/x86_64/release/distribution_files/rootfs64.gz'))}}\nextensions: [dialog, scsi-KERNEL]\n`);
    const err = await prepare(plain, { mirror: M, cache: path.join(t.dir, 'cache') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolveError);
    expect((err as Error).message).toMatch(/^scsi-KERNEL\.tcz needs the kernel version .*: scsi-KERNEL\.tcz <- recipe$/);
  });
});
