/**
 * The first half of every build: recipe -> verified local files. The work lives in src/resolve; the types
 * it hands later stages are in src/resolve/prepared.ts.
 */
import type { PreparedInputs, SourceOptions } from '../resolve/prepared.js';

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
