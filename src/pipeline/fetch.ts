/**
 * Fetching: an opened session's base, kernel and extensions into the cache (bounded by the mirror's own
 * limit), verified against the lock when there is one; the new lock, checked against the old one.
 */
import type { CachedFile } from '../cache/cached-file.js';
import { markUsed } from '../cache/maintenance.js';
import { OfflineError } from '../errors.js';
import { expectOf, fetchBase, fromCache, kernelGetter, type KernelInfo } from '../resolve/base-kernel.js';
import { lockDifferences, lockMatchesRecipe, rootfsLockDigest, portableOrigin, recipeDigests, type Lock, type LockedFile } from '../resolve/lock.js';
import { MirrorDeps, tczDir } from '../resolve/mirror-deps.js';
import type { PreparedExtension, PreparedInputs } from '../resolve/prepared.js';
import { resolveExtensions, type Resolution } from '../resolve/resolver.js';
import type { Session } from '../resolve/session.js';
import { parseInfoText, type TczInfo } from '../resolve/info-file.js';
import { withTcz } from '../resolve/dep-file.js';
import type { MirrorSource } from '../mirror/types.js';

export interface FetchRun {
  inputs: PreparedInputs;
  lock: Lock;
  resolution: Resolution;
}

/** Resolve and fetch everything (bounded by the mirror's own limit), verified; the new lock object. */
export async function fetchSession(s: Session): Promise<FetchRun> {
  const basePromise = fetchBase(s);
  basePromise.catch(() => {}); // awaited below; keeps an early failure from being unhandled
  if (s.opts.onBase) basePromise.then((b) => s.opts.onBase!(b.file), () => undefined);
  const kernel = kernelGetter(s, () => basePromise);
  const lockedExt = new Map((s.lock?.extensions ?? []).map((e) => [e.name, e]));
  const dir = tczDir(s.recipe.release, s.recipe.arch);
  const deps = new MirrorDeps(s.sources, {
    cache: s.cache,
    dir,
    offline: s.opts.offline ?? false,
    mode: 'fetch',
    expect: (name) => expectOf(lockedExt.get(name), `${dir}/${name}`),
    ...(s.opts.onExtension ? { onFile: (name: string, file: CachedFile) => s.opts.onExtension!({ name, file }) } : {}),
  });
  const useLock = s.opts.offline && s.lock && lockMatchesRecipe(s.lock, s.loaded);
  let kernelAsked = false;
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
    try {
      resolution = await resolveExtensions(s.recipe.extensions ?? [], deps, {
        kernelVersion: () => { kernelAsked = true; return kernel.version(); },
        warn: (m) => s.log.warn(m),
        ...(s.opts.onOrder ? { onOrder: s.opts.onOrder } : {}),
      });
    } catch (err) {
      // The base download still running must not outlive the failure (it writes into the cache).
      await basePromise.catch(() => undefined);
      throw err;
    }
  }
  // A Docker image never boots the kernel: download it only when a KERNEL name needed its version.
  const wantKernel = s.opts.kernel !== false || kernelAsked;
  const noKernel: KernelInfo = s.recipe.kernel_version ? { version: s.recipe.kernel_version } : {};
  const [base, k] = await Promise.all([basePromise, wantKernel ? kernel.info() : Promise.resolve(noKernel)]);
  // The lock remembers a version found in the base's modules, which the kernel header alone may not give.
  if (useLock && !k.version && s.lock!.kernelVersion) k.version = s.lock!.kernelVersion;
  const infos = s.opts.info ? await Promise.all(resolution.extensions.map((e) => readInfo(deps.origin.get(e.name) ?? s.sources, `${dir}/${e.name}.info`))) : [];
  const extensions: PreparedExtension[] = resolution.extensions.map((e, i) => ({
    name: e.name, file: deps.files.get(e.name)!, deps: e.deps, ...(infos[i] ? { info: infos[i] } : {}),
  }));
  // Last use, for `dbco cache gc`: what this build reads is recent.
  await markUsed([base.file.path, ...(k.file ? [k.file.path] : []), ...extensions.map((e) => e.file.path)].filter((p) => p.startsWith(s.cache.root)));
  const lock = buildLock(s, base, k, extensions);
  // Not fetched is not changed: the lock's kernel stays what it was, so the lock digest is the same.
  if (!wantKernel && s.lock?.kernel && !lock.kernel) lock.kernel = s.lock.kernel;
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
    lockDigest: rootfsLockDigest(lock),
    base: base.file,
    ...(k.file ? { kernel: k.file } : {}),
    ...(k.version ? { kernelVersion: k.version } : {}),
    extensions,
    roots: resolution.roots.map(withTcz),
  };
  return { inputs, lock, resolution };
}

/**
 * An extension's .tcz.info from the source its .tcz came from (or, resolved from the lock, the first
 * source that has one), through the metadata store like a .dep. Absent: no version, no error.
 */
async function readInfo(from: MirrorSource | MirrorSource[], rel: string): Promise<TczInfo | undefined> {
  for (const src of Array.isArray(from) ? from : [from]) {
    const text = await src.text(rel);
    if (text !== null) return parseInfoText(text);
  }
  return undefined;
}

function locked(f: CachedFile, rel: string, recipeDir: string): LockedFile {
  return { path: rel, url: portableOrigin(f.origin, recipeDir), size: f.size, md5: f.md5 ?? '', sha256: f.sha256 };
}

function buildLock(s: Session, base: { file: CachedFile; rel: string }, k: KernelInfo, exts: PreparedExtension[]): Lock {
  const dir = tczDir(s.recipe.release, s.recipe.arch);
  return {
    version: 1,
    recipe: { name: s.recipe.name, ...recipeDigests(s.loaded.recipe) },
    release: s.recipe.release,
    arch: s.recipe.arch,
    base: { ...locked(base.file, base.rel, s.loaded.dir), ...(s.iso ? { iso: { path: s.iso.path, sha256: s.iso.sha256 } } : {}) },
    ...(k.file && k.rel ? { kernel: locked(k.file, k.rel, s.loaded.dir) } : {}),
    ...(k.version ? { kernelVersion: k.version } : {}),
    extensions: exts.map((e) => ({ name: e.name, deps: e.deps, ...locked(e.file, `${dir}/${e.name}`, s.loaded.dir) })),
  };
}
