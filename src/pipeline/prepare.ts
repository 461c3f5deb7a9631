/**
 * CONTRACT (owned by the recipe/mirror/resolve work): the first half of every build. Loads the recipe,
 * resolves extensions exactly as tce-load does, fetches everything into the content-addressed cache
 * (verified), honours the lock, and hands later stages local, verified files.
 *
 * The work lives in src/resolve/session.ts; the types here are the agreement between stages.
 */
import type { Recipe } from '../recipe/schema.js';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** Progress for long operations; a TTY shows a bar, a pipe shows plain lines. */
  progress?(label: string, done: number, total?: number): void;
}

export interface SourceOptions {
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  log?: Logger;
}

/** A verified file in the cache. `path` is read-only: never modify it. */
export interface CachedFile {
  path: string;
  sha256: string;
  size: number;
  md5?: string;
  /** Where it came from: a mirror URL, a file path, or iso:PATH!/inner/path. */
  origin: string;
}

export interface PreparedExtension {
  /** File name with .tcz, e.g. 'openssh.tcz' (KERNEL already substituted). */
  name: string;
  file: CachedFile;
  /** Direct dependencies as named in its .dep (cleaned, .tcz appended, KERNEL substituted). */
  deps: string[];
}

export interface PreparedInputs {
  recipe: Recipe;
  recipePath: string;
  /** Folder that relative `files[].src` paths resolve against. */
  recipeDir: string;
  /** sha256 of the recipe file's bytes. */
  recipeDigest: string;
  /** sha256 of the canonical lock JSON (labels use it). */
  lockDigest: string;
  base: CachedFile;
  kernel?: CachedFile;
  kernelVersion?: string;
  /** Dependencies before dependants, the order tce-load installs them. */
  extensions: PreparedExtension[];
}

/**
 * Loads the recipe, opens its sources (a base ISO first, then the mirror), resolves as tce-load does,
 * fetches base, kernel and extensions into the cache in parallel (verified against the lock when there
 * is one), and honours --offline/--frozen. Does not write the lock: `dbco lock` does.
 */
export async function prepare(recipePath: string, opts: SourceOptions = {}): Promise<PreparedInputs> {
  const { openSession, fetchSession } = await import('../resolve/session.js');
  const session = await openSession(recipePath, opts);
  try {
    return (await fetchSession(session)).inputs;
  } finally {
    await session.close();
  }
}
