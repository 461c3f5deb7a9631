/**
 * The sources a recipe's files come from, opened in the order they are asked: a base ISO first (its
 * /boot and /cde answer as the mirror would), then the mirror (flag, environment, recipe, default).
 */
import path from 'node:path';
import type { Cache } from '../cache/index.js';
import type { CachedFile } from '../cache/cached-file.js';
import { FetchError } from '../errors.js';
import type { Logger } from '../io/logger.js';
import { pickMirror, type LoadedRecipe } from '../recipe/load.js';
import { DEFAULT_MIRROR, openIsoMirror, openMirror } from './index.js';
import type { Expected, MirrorSource } from './types.js';

export interface SourcesOptions {
  cache: Cache;
  /** --mirror; DBCO_MIRROR and the recipe's own come after it. */
  mirror?: string;
  offline: boolean;
  log: Logger;
}

export interface OpenedSources {
  /** First source first: an ISO before the mirror. */
  sources: MirrorSource[];
  /** The mirror's location as chosen (URL or folder). */
  mirror: string;
  /** The base ISO as the recipe names it, and what it found in /boot. */
  iso?: { path: string; sha256: string; kernel?: string; initramfs?: string };
  /** Releases open files (an ISO); call when done. */
  close(): Promise<void>;
}

export async function openSources(loaded: LoadedRecipe, opts: SourcesOptions): Promise<OpenedSources> {
  const { recipe } = loaded;
  const { cache, log } = opts;
  const mirrorLoc = pickMirror(opts.mirror, recipe, DEFAULT_MIRROR);
  const mirror = openMirror(mirrorLoc, { cache, offline: opts.offline, log });
  const sources: MirrorSource[] = [mirror];
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => { await Promise.all(closers.splice(0).map((c) => c())); };
  const opened: OpenedSources = { sources, mirror: mirrorLoc, close };
  if (typeof recipe.base === 'object' && 'iso' in recipe.base) {
    const isoPath = /^[a-z]+:\/\//i.test(recipe.base.iso) ? recipe.base.iso : path.resolve(loaded.dir, recipe.base.iso);
    const iso = await openIsoMirror(isoPath, recipe.base.sha256, {
      cache,
      offline: opts.offline,
      log,
      arch: recipe.arch,
      major: recipe.release.split('.')[0]!,
    });
    sources.unshift(iso);
    closers.push(() => iso.close());
    opened.iso = {
      path: recipe.base.iso,
      sha256: recipe.base.sha256,
      ...(iso.kernel ? { kernel: iso.kernel } : {}),
      ...(iso.initramfs ? { initramfs: iso.initramfs } : {}),
    };
  }
  return opened;
}

/** A payload from the first source that has it; `what` names it in the error when none has. */
export async function fetchFromSources(sources: MirrorSource[], rel: string, expect: Expected | undefined, what: string): Promise<CachedFile> {
  for (const src of sources) {
    const f = await src.fetch(rel, expect);
    if (f) return f;
  }
  throw new FetchError(sources.map((x) => x.urlOf(rel)).join(' or '), `${what} not found`);
}
