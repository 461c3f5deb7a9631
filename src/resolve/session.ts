import { sha256Hex } from '../canonical-json.js';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Cache, defaultCacheDir, metadataMaxAgeMs } from '../cache/index.js';
import { DbcoError, DigestMismatchError, FetchError, OfflineError } from '../errors.js';
import { DEFAULT_MIRROR, openIsoMirror, openMirror } from '../mirror/index.js';
import type { Expected, MirrorSource } from '../mirror/types.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import type { PreparedExtension, PreparedInputs, SourceOptions } from './prepared.js';
import { loadRecipe, pickMirror, type LoadedRecipe } from '../recipe/load.js';
import type { Recipe } from '../recipe/schema.js';
import { bzImageVersionOffset, parseVersionText } from './kernel-version.js';
import { lockDifferences, lockDigest, lockPathFor, readLock, type Lock, type LockedFile } from './lock.js';
import { distDir, MirrorDeps, tczDir } from './mirror-deps.js';
import { resolveExtensions, type Resolution } from './resolver.js';

const silent: Logger = { info: () => {}, warn: () => {} };

/** Everything a command needs before resolving: recipe, cache, sources (ISO first), the lock if any. */
export interface Session {
  loaded: LoadedRecipe;
  recipe: Recipe;
  cache: Cache;
  sources: MirrorSource[];
  mirror: string;
  lockPath: string;
  lock: Lock | null;
  opts: SourceOptions;
  log: Logger;
  iso?: { path: string; sha256: string; kernel?: string; initramfs?: string };
  /** Releases open files (an ISO); call when done. */
  close(): Promise<void>;
}

export async function openSession(recipePath: string, opts: SourceOptions = {}): Promise<Session> {
  const log = opts.log ?? silent;
  const cache = new Cache(opts.cache ?? defaultCacheDir());
  const loaded = await loadRecipe(recipePath, { cacheRoot: cache.root });
  const { recipe } = loaded;
  const mirrorLoc = pickMirror(opts.mirror, recipe, DEFAULT_MIRROR);
  const mirror = openMirror(mirrorLoc, { cache, offline: opts.offline ?? false, log });
  const sources: MirrorSource[] = [mirror];
  const lockPath = lockPathFor(loaded.path);
  const lock = await readLock(lockPath);
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => { await Promise.all(closers.splice(0).map((c) => c())); };
  const session: Session = { loaded, recipe, cache, sources, mirror: mirrorLoc, lockPath, lock, opts, log, close };
  if (typeof recipe.base === 'object' && 'iso' in recipe.base) {
    const isoPath = /^[a-z]+:\/\//i.test(recipe.base.iso) ? recipe.base.iso : path.resolve(loaded.dir, recipe.base.iso);
    const iso = await openIsoMirror(isoPath, recipe.base.sha256, {
      cache,
      offline: opts.offline ?? false,
      log,
      arch: recipe.arch,
      major: recipe.release.split('.')[0]!,
    });
    sources.unshift(iso);
    closers.push(() => iso.close());
    session.iso = {
      path: recipe.base.iso,
      sha256: recipe.base.sha256,
      ...(iso.kernel ? { kernel: iso.kernel } : {}),
      ...(iso.initramfs ? { initramfs: iso.initramfs } : {}),
    };
  }
  if (opts.frozen) {
    if (!lock) throw new OfflineError(`--frozen: no lock file ${lockPath} (run dbco lock first)`);
    if (lock.recipe.digest !== loaded.digest) {
      throw new OfflineError(`--frozen: ${loaded.path} changed since it was locked:\n  recipe digest: lock has ${lock.recipe.digest}, recipe is ${loaded.digest}`);
    }
  }
  return session;
}

/** Mirror-relative name of the base initramfs and kernel (the ISO's /boot answers as distribution_files). */
function baseRel(s: Session): string | null {
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

function kernelRel(s: Session): string | null {
  const dir = distDir(s.recipe.release, s.recipe.arch);
  if (s.recipe.kernel) return `${dir}/${s.recipe.kernel}`;
  const b = s.recipe.base;
  if (typeof b === 'object' && 'iso' in b) {
    const name = b.kernel ?? s.iso?.kernel;
    return name ? `${dir}/${path.basename(name)}` : null;
  }
  return null;
}

function expectOf(f: LockedFile | undefined, rel: string): Expected | undefined {
  return f && f.path === rel ? { sha256: f.sha256, size: f.size, md5: f.md5 } : undefined;
}

/** --offline with a lock: a blob already in the cache under the locked sha256 is the file. */
async function fromCache(s: Session, f: LockedFile | undefined, rel: string): Promise<CachedFile | null> {
  if (!s.opts.offline || !f || f.path !== rel || !(await s.cache.has(f.sha256))) return null;
  return { path: s.cache.blobPath(f.sha256), sha256: f.sha256, size: f.size, md5: f.md5, origin: f.url };
}

async function fetchFrom(s: Session, rel: string, locked: LockedFile | undefined, what: string): Promise<CachedFile> {
  const cached = await fromCache(s, locked, rel);
  if (cached) return cached;
  const expect = expectOf(locked, rel);
  for (const src of s.sources) {
    const f = await src.fetch(rel, expect);
    if (f) return f;
  }
  throw new FetchError(s.sources.map((x) => x.urlOf(rel)).join(' or '), `${what} not found`);
}

async function fetchBase(s: Session): Promise<{ file: CachedFile; rel: string }> {
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

interface KernelInfo { file?: CachedFile; rel?: string; version?: string }

/**
 * The kernel, fetched at most once, with its version from the recipe or the bzImage header. `version()`
 * (asked only when a KERNEL name needs it) falls back to the base initramfs's lib/modules/<version>.
 */
function kernelGetter(s: Session, base?: () => Promise<{ file: CachedFile }>): { info: () => Promise<KernelInfo>; version: () => Promise<string | undefined> } {
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

export interface ResolveRun {
  session: Session;
  resolution: Resolution;
  deps: MirrorDeps;
  kernel: KernelInfo;
}

/**
 * Resolve only: .dep texts (cached or fetched) and existence probes; payloads are not downloaded,
 * except the kernel when a KERNEL name needs its version.
 */
export async function resolveSession(s: Session): Promise<ResolveRun> {
  const kernel = kernelGetter(s, () => fetchBase(s));
  const deps = new MirrorDeps(s.sources, { cache: s.cache, dir: tczDir(s.recipe.release, s.recipe.arch), offline: s.opts.offline ?? false, mode: 'probe' });
  const needsKernel = s.recipe.extensions?.some((e) => e.includes('-KERNEL')) ?? false;
  // The .dep answers it is made of are kept in the cache for good, so a successful resolution of the
  // same recipe bytes against the same sources can be kept the same way: a warm resolve reads one record.
  const memoKey = needsKernel ? undefined : `dbco-resolution:${sha256Hex(JSON.stringify([s.loaded.digest, s.sources.map((x) => x.urlOf(''))]))}`;
  const memo = memoKey ? await s.cache.getMeta(memoKey, metadataMaxAgeMs(Boolean(s.opts.offline))) : undefined;
  let resolution: Resolution;
  if (memo?.present) {
    resolution = JSON.parse(memo.text) as Resolution;
    for (const w of resolution.warnings) s.log.warn(w);
  } else {
    resolution = await resolveExtensions(s.recipe.extensions ?? [], deps, {
      kernelVersion: kernel.version,
      warn: (m) => s.log.warn(m),
    });
    if (memoKey) await s.cache.setMeta(memoKey, JSON.stringify(resolution));
  }
  const k: KernelInfo = needsKernel ? await kernel.info() : { version: s.recipe.kernel_version };
  return { session: s, resolution, deps, kernel: k };
}


export interface FetchRun {
  inputs: PreparedInputs;
  lock: Lock;
  resolution: Resolution;
}

/** Resolve and fetch everything (bounded by the mirror's own limit), verified; the new lock object. */
export async function fetchSession(s: Session): Promise<FetchRun> {
  const basePromise = fetchBase(s);
  basePromise.catch(() => {}); // awaited below; keeps an early failure from being unhandled
  const kernel = kernelGetter(s, () => basePromise);
  const lockedExt = new Map((s.lock?.extensions ?? []).map((e) => [e.name, e]));
  const dir = tczDir(s.recipe.release, s.recipe.arch);
  const deps = new MirrorDeps(s.sources, {
    cache: s.cache,
    dir,
    offline: s.opts.offline ?? false,
    mode: 'fetch',
    expect: (name) => expectOf(lockedExt.get(name), `${dir}/${name}`),
  });
  const useLock = s.opts.offline && s.lock && s.lock.recipe.digest === s.loaded.digest;
  let resolution: Resolution;
  if (useLock) {
    // Offline with a current lock: the lock is the resolution; no .dep needs to be read.
    const lock = s.lock!;
    const missing: string[] = [];
    for (const e of lock.extensions) {
      const f = await fromCache(s, e, `${dir}/${e.name}`);
      if (f) deps.files.set(e.name, f);
      else missing.push(`${e.name} (${e.url}, sha256 ${e.sha256})`);
    }
    if (missing.length > 0) {
      throw new OfflineError(`--offline: not in the cache ${s.cache.root}: ${missing.join(', ')} (run dbco fetch without --offline first)`);
    }
    resolution = { extensions: lock.extensions.map((e) => ({ name: e.name, deps: e.deps })), roots: s.recipe.extensions ?? [], warnings: [] };
  } else {
    resolution = await resolveExtensions(s.recipe.extensions ?? [], deps, {
      kernelVersion: kernel.version,
      warn: (m) => s.log.warn(m),
    });
  }
  const [base, k] = await Promise.all([basePromise, kernel.info()]);
  // The lock remembers a version found in the base's modules, which the kernel header alone may not give.
  if (useLock && !k.version && s.lock!.kernelVersion) k.version = s.lock!.kernelVersion;
  const extensions: PreparedExtension[] = resolution.extensions.map((e) => ({ name: e.name, file: deps.files.get(e.name)!, deps: e.deps }));
  const lock = buildLock(s, base, k, extensions);
  if (s.opts.frozen && s.lock) {
    const diffs = lockDifferences(s.lock, lock);
    if (diffs.length > 0) throw new OfflineError(`--frozen: the resolution differs from ${s.lockPath}:\n  ${diffs.join('\n  ')}`);
  } else if (s.lock) {
    const diffs = lockDifferences(s.lock, lock);
    if (diffs.length > 0) s.log.warn(`${s.lockPath} is out of date (run dbco lock): ${diffs.join('; ')}`);
  }
  const inputs: PreparedInputs = {
    recipe: s.recipe,
    recipePath: s.loaded.path,
    recipeDir: s.loaded.dir,
    recipeDigest: s.loaded.digest,
    lockDigest: lockDigest(lock),
    base: base.file,
    ...(k.file ? { kernel: k.file } : {}),
    ...(k.version ? { kernelVersion: k.version } : {}),
    extensions,
  };
  return { inputs, lock, resolution };
}

function locked(f: CachedFile, rel: string): LockedFile {
  return { path: rel, url: f.origin, size: f.size, md5: f.md5 ?? '', sha256: f.sha256 };
}

function buildLock(s: Session, base: { file: CachedFile; rel: string }, k: KernelInfo, exts: PreparedExtension[]): Lock {
  const dir = tczDir(s.recipe.release, s.recipe.arch);
  return {
    version: 1,
    recipe: { name: s.recipe.name, digest: s.loaded.digest },
    release: s.recipe.release,
    arch: s.recipe.arch,
    base: { ...locked(base.file, base.rel), ...(s.iso ? { iso: { path: s.iso.path, sha256: s.iso.sha256 } } : {}) },
    ...(k.file && k.rel ? { kernel: locked(k.file, k.rel) } : {}),
    ...(k.version ? { kernelVersion: k.version } : {}),
    extensions: exts.map((e) => ({ name: e.name, deps: e.deps, ...locked(e.file, `${dir}/${e.name}`) })),
  };
}
