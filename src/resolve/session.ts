import { sha256Hex } from '../canonical-json.js';
import { Cache, defaultCacheDir, metadataMaxAgeMs } from '../cache/index.js';
import { announceUser } from '../cache/users.js';
import { OfflineError } from '../errors.js';
import { openSources } from '../mirror/open-sources.js';
import type { Logger } from '../io/logger.js';
import type { SourceOptions } from './prepared.js';
import { loadRecipe, type LoadedRecipe } from '../recipe/load.js';
import { fetchBase, kernelGetter, type FileSources, type KernelInfo } from './base-kernel.js';
import { lockMatchesRecipe, lockPathFor, readLock, recipeFieldChanges } from './lock.js';
import { MirrorDeps, tczDir } from './mirror-deps.js';
import { resolveExtensions, type Resolution } from './resolver.js';
import { refuseLatestWithIso, resolveLatest } from './release.js';
import { LATEST, latestPath } from '../recipe/release.js';

const silent: Logger = { info: () => {}, warn: () => {} };

/** Everything a command needs before resolving: recipe, cache, sources (ISO first), the lock if any. */
export interface Session extends FileSources {
  mirror: string;
  lockPath: string;
  log: Logger;
  /** Releases open files (an ISO); call when done. */
  close(): Promise<void>;
}

/** A recipe path is loaded here; a build that loaded its recipe already passes it on instead. */
export async function openSession(recipe: string | LoadedRecipe, opts: SourceOptions = {}): Promise<Session> {
  const log = opts.log ?? silent;
  const cache = new Cache(opts.cache ?? defaultCacheDir());
  // `dbco cache gc` keeps blobs and derived layers while this build may read them.
  announceUser(cache.root);
  const loaded = typeof recipe === 'string' ? await loadRecipe(recipe, { cacheRoot: cache.root, ...(opts.arch ? { arch: opts.arch } : {}) }) : recipe;
  const lockPath = lockPathFor(loaded.path, loaded.arches.length > 1 ? loaded.recipe.arch : undefined);
  const lock = await readLock(lockPath);
  const latest = loaded.recipe.release === LATEST;
  if (latest && typeof loaded.recipe.base === 'object' && 'iso' in loaded.recipe.base) refuseLatestWithIso(await fieldWhere(loaded, 'release'));
  const opened = await openSources(loaded, { cache, offline: opts.offline ?? false, log, ...(opts.mirror ? { mirror: opts.mirror } : {}) });
  let narrowed = loaded.recipe;
  if (latest) {
    // Every later stage (mirror folders, kernel, labels, the lock) sees the release found; the lock's
    // recipe digest stays that of the recipe as written.
    const mirror = opened.sources[opened.sources.length - 1]!;
    // --offline with a lock of this recipe: the release it recorded (the mirror's answer may not be cached here).
    const fromLock = opts.offline && lock && lockMatchesRecipe(lock, loaded) ? lock.release : undefined;
    let release: string;
    try {
      release = fromLock ?? await resolveLatest(mirror, loaded.recipe.arch);
    } catch (err) {
      await opened.close();
      throw err;
    }
    log.info(`release: latest is ${release} (${fromLock ? `--offline: from ${lockPath}` : mirror.urlOf(latestPath(loaded.recipe.arch))})`);
    if (opts.frozen && lock && lock.release !== release) {
      await opened.close();
      throw new OfflineError(`--frozen: release: latest is now ${release} at ${mirror.urlOf(latestPath(loaded.recipe.arch))}, ${lockPath} has ${lock.release} (run dbco lock, or pin release:)`);
    }
    narrowed = { ...narrowed, release };
  }
  const session: Session = {
    loaded, recipe: narrowed, cache, sources: opened.sources, mirror: opened.mirror, lockPath, lock, opts, log,
    ...(opened.iso ? { iso: opened.iso } : {}),
    close: opened.close,
  };
  if (opts.frozen) {
    if (!lock) throw new OfflineError(`--frozen: no lock file ${lockPath} (run dbco lock first)`);
    if (!lockMatchesRecipe(lock, loaded)) {
      throw new OfflineError(`--frozen: ${loaded.path} differs from ${lockPath}: ${recipeFieldChanges(lock, loaded.recipe)} (run dbco lock)`);
    }
  }
  return session;
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
  const memoKey = needsKernel ? undefined : `dbco-resolution:${sha256Hex(JSON.stringify([s.loaded.digest, s.recipe.release, s.sources.map((x) => x.urlOf(''))]))}`;
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

/** `file:line:column` of a recipe field, for an error found after parsing. */
async function fieldWhere(loaded: LoadedRecipe, field: string): Promise<string> {
  const { fieldPosition } = await import('../recipe/parse.js');
  return fieldPosition(loaded.bytes.toString('utf8'), loaded.path, field);
}
