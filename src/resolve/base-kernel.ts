/**
 * The base initramfs and the kernel: where they are on the sources, fetched pinned to the lock (or read
 * from a local file), and the kernel's version. Resolving needs them when a KERNEL name does; fetching
 * always does.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Cache } from '../cache/index.js';
import type { CachedFile } from '../cache/cached-file.js';
import { DbcoError, DigestMismatchError, FetchError } from '../errors.js';
import { fetchFromSources } from '../mirror/open-sources.js';
import type { Expected, MirrorSource } from '../mirror/types.js';
import type { LoadedRecipe } from '../recipe/load.js';
import type { Recipe } from '../recipe/schema.js';
import { bzImageVersionOffset, parseVersionText } from './kernel-version.js';
import type { Lock, LockedFile } from './lock.js';
import { distDir } from './mirror-deps.js';
import type { SourceOptions } from './prepared.js';

/** What finding the base and kernel needs of a session (src/resolve/session.ts builds the whole). */
export interface FileSources {
  loaded: LoadedRecipe;
  recipe: Recipe;
  cache: Cache;
  sources: MirrorSource[];
  lock: Lock | null;
  opts: SourceOptions;
  iso?: { path: string; sha256: string; kernel?: string; initramfs?: string };
}

/** Mirror-relative name of the base initramfs and kernel (the ISO's /boot answers as distribution_files). */
function baseRel(s: FileSources): string | null {
  const b = s.recipe.base;
  const dir = distDir(s.recipe.release, s.recipe.arch);
  if (typeof b === 'string') return `${dir}/${b}`;
  if ('iso' in b) {
    const name = b.initramfs ?? s.iso?.initramfs;
    if (!name) throw new DbcoError('RECIPE', `${b.iso}: cannot tell which /boot/*.gz is the initramfs: set base.initramfs`);
    return `${dir}/${path.basename(name)}`;
  }
  return null;
}

function kernelRel(s: FileSources): string | null {
  const dir = distDir(s.recipe.release, s.recipe.arch);
  if (s.recipe.kernel) return `${dir}/${s.recipe.kernel}`;
  const b = s.recipe.base;
  if (typeof b === 'object' && 'iso' in b) {
    const name = b.kernel ?? s.iso?.kernel;
    return name ? `${dir}/${path.basename(name)}` : null;
  }
  return null;
}

export function expectOf(f: LockedFile | undefined, rel: string): Expected | undefined {
  return f && f.path === rel ? { sha256: f.sha256, size: f.size, md5: f.md5 } : undefined;
}

/** --offline with a lock: a blob already in the cache under the locked sha256 is the file. */
export async function fromCache(s: FileSources, f: LockedFile | undefined, rel: string): Promise<CachedFile | null> {
  if (!s.opts.offline || !f || f.path !== rel || !(await s.cache.has(f.sha256))) return null;
  return { path: s.cache.blobPath(f.sha256), sha256: f.sha256, size: f.size, md5: f.md5, origin: f.url };
}

async function fetchFrom(s: FileSources, rel: string, locked: LockedFile | undefined, what: string): Promise<CachedFile> {
  const cached = await fromCache(s, locked, rel);
  if (cached) return cached;
  return fetchFromSources(s.sources, rel, expectOf(locked, rel), what);
}

export async function fetchBase(s: FileSources): Promise<{ file: CachedFile; rel: string }> {
  const b = s.recipe.base;
  if (typeof b === 'object' && 'file' in b) {
    const abs = path.resolve(s.loaded.dir, b.file);
    const want = b.sha256 ?? (s.lock?.base.path === b.file ? s.lock.base.sha256 : undefined);
    let stored;
    try {
      stored = await s.cache.putStream(createReadStream(abs), (info) => {
        if (want && info.sha256 !== want) throw new DigestMismatchError(abs, 'sha256', want, info.sha256);
      });
    } catch (err) {
      if (err instanceof DigestMismatchError) throw err;
      throw new FetchError(abs, `cannot read base: ${(err as Error).message}`, { cause: err });
    }
    return { file: { path: stored.path, sha256: stored.sha256, size: stored.size, md5: stored.md5, origin: abs }, rel: b.file };
  }
  const rel = baseRel(s)!;
  return { file: await fetchFrom(s, rel, s.lock?.base, 'base'), rel };
}

/** The kernel's own version string, read from its bzImage header (a few hundred bytes). */
export async function readKernelVersion(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(0x400);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const at = bzImageVersionOffset(head.subarray(0, bytesRead));
    if (at === null) return undefined;
    const text = Buffer.alloc(256);
    const r = await fh.read(text, 0, text.length, at);
    return parseVersionText(text.subarray(0, r.bytesRead)) ?? undefined;
  } finally {
    await fh.close();
  }
}

export interface KernelInfo { file?: CachedFile; rel?: string; version?: string }

/**
 * The kernel, fetched at most once, with its version from the recipe or the bzImage header. `version()`
 * (asked only when a KERNEL name needs it) falls back to the base initramfs's lib/modules/<version>.
 */
export function kernelGetter(s: FileSources, base?: () => Promise<{ file: CachedFile }>): { info: () => Promise<KernelInfo>; version: () => Promise<string | undefined> } {
  let p: Promise<KernelInfo> | undefined;
  const info = (): Promise<KernelInfo> => (p ??= (async () => {
    const rel = kernelRel(s);
    const k: KernelInfo = {};
    if (rel) {
      k.rel = rel;
      k.file = await fetchFrom(s, rel, s.lock?.kernel, 'kernel');
    }
    k.version = s.recipe.kernel_version ?? (k.file ? await readKernelVersion(k.file.path) : undefined);
    return k;
  })());
  const version = async (): Promise<string | undefined> => {
    const k = await info();
    if (!k.version && base) {
      const { initramfsKernelVersion } = await import('./initramfs-version.js');
      k.version = await initramfsKernelVersion((await base()).file.path).catch(() => undefined);
    }
    return k.version;
  };
  return { info, version };
}
