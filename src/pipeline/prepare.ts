/**
 * The first half of every build: recipe -> verified local files. Opening the sources is src/mirror's,
 * resolving and the lock src/resolve's, fetching is ./fetch.ts; the types it hands later stages are in
 * src/resolve/prepared.ts.
 */
import type { LoadedRecipe } from '../recipe/load.js';
import type { PreparedInputs, SourceOptions } from '../resolve/prepared.js';

/**
 * Loads the recipe (unless the caller loaded it already), opens its sources (a base ISO first, then the
 * mirror), resolves as tce-load does, fetches base, kernel and extensions into the cache in parallel
 * (verified against the lock when there is one), and honours --offline/--frozen. Does not write the
 * lock: `dbco lock` does.
 */
export async function prepare(recipe: string | LoadedRecipe, opts: SourceOptions = {}): Promise<PreparedInputs> {
  const [{ openSession }, { fetchSession }] = await Promise.all([import('../resolve/session.js'), import('./fetch.js')]);
  const session = await openSession(recipe, opts);
  try {
    const { inputs } = await fetchSession(session);
    return opts.allowOutsideSrc ? { ...inputs, allowOutsideSrc: true } : inputs;
  } finally {
    await session.close();
  }
}
