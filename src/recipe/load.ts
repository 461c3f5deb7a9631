import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeRecordAtomic } from '../cache/atomic.js';
import { DbcoError } from '../errors.js';
import type { Arch, Recipe, RecipeDocument } from './schema.js';
import { archesOf, forArch, pickArch } from './arch.js';

export { withTcz } from './names.js';

export interface LoadedRecipe {
  /** The recipe narrowed to the one arch this run builds (src/recipe/arch.ts). */
  recipe: Recipe;
  /** The recipe as written, every arch. */
  document: RecipeDocument;
  /** Every arch the recipe lists, in its order. */
  arches: Arch[];
  path: string;
  dir: string;
  /** The file's bytes, exactly as read (the recipe digest is taken over them). */
  bytes: Buffer;
  digest: string;
}

/**
 * Reads and validates a recipe. With `cacheRoot`, a recipe validated before (same bytes, same schema
 * module) is read back from `<cacheRoot>/recipes/` instead: the YAML parser and zod are then never
 * loaded, which is most of a warm `dbco resolve`.
 */
export async function loadRecipe(file: string, opts: { cacheRoot?: string; arch?: Arch } = {}): Promise<LoadedRecipe> {
  return narrowRecipe(await loadRecipeDocument(file, opts), opts.arch);
}

/** A loaded recipe document narrowed to `arch` (or its only arch; several without `arch` is an error). */
export function narrowRecipe(loaded: Omit<LoadedRecipe, 'recipe' | 'arches'>, arch?: Arch): LoadedRecipe {
  const one = pickArch(loaded.document, loaded.path, arch);
  return { ...loaded, recipe: forArch(loaded.document, one), arches: archesOf(loaded.document) };
}

/** The recipe as written, not narrowed to an arch: what a multi-arch build reads first. */
export async function loadRecipeDocument(file: string, opts: { cacheRoot?: string } = {}): Promise<Omit<LoadedRecipe, 'recipe' | 'arches'>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new DbcoError('RECIPE', `${file}: cannot read recipe: ${(err as Error).message}`, { cause: err });
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  const abs = path.resolve(file);
  const done = (document: RecipeDocument): Omit<LoadedRecipe, 'recipe' | 'arches'> => ({ document, path: abs, dir: path.dirname(abs), bytes, digest });
  const memo = opts.cacheRoot ? await memoPath(opts.cacheRoot, digest) : undefined;
  if (memo) {
    try {
      return done(JSON.parse(await readFile(memo, 'utf8')) as RecipeDocument);
    } catch {
      // not validated before (or unreadable): validate now
    }
  }
  const { parseRecipe } = await import('./parse.js');
  const recipe = parseRecipe(bytes.toString('utf8'), file);
  if (memo && opts.cacheRoot) {
    await writeRecordAtomic(path.join(opts.cacheRoot, 'tmp'), memo, JSON.stringify(recipe)).catch(() => {});
  }
  return done(recipe);
}

// Set by scripts/bundle.mjs (esbuild `define`) to validatorDigestIn(dist/src/recipe, '.js'): the bundle
// carries schema and parse inside its chunks, not as files beside this module.
declare const DBCO_RECIPE_VALIDATOR: string | undefined;

async function memoPath(cacheRoot: string, digest: string): Promise<string> {
  // The validating modules' own bytes are part of the key: a changed schema or parser revalidates every
  // recipe. Unbundled they sit beside this module with its own extension (.js when built, .ts under a test runner).
  const validator = typeof DBCO_RECIPE_VALIDATOR === 'string' ? DBCO_RECIPE_VALIDATOR : await validatorBeside(fileURLToPath(import.meta.url));
  return path.join(cacheRoot, 'recipes', memoName(digest, validator));
}

function validatorBeside(file: string): Promise<string> {
  return validatorDigestIn(path.dirname(file), path.extname(file));
}

/** The digest of the validating modules' bytes: `schema` and `parse` in `dir`, with extension `ext`. */
export async function validatorDigestIn(dir: string, ext: string): Promise<string> {
  return validatorDigest(await Promise.all(['schema', 'parse'].map((mod) => readFile(path.join(dir, `${mod}${ext}`)))));
}

export function validatorDigest(sources: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const s of sources) hash.update('\0').update(s);
  return hash.digest('hex');
}

/** The memo's file name for a recipe (its bytes' sha256) validated by the modules of `validator`. */
export function memoName(recipeDigest: string, validator: string): string {
  return `${createHash('sha256').update(recipeDigest).update('\0').update(validator).digest('hex')}.json`;
}

/** --mirror > DBCO_MIRROR > recipe.mirror > the official mirror. */
export function pickMirror(flag: string | undefined, recipe: Pick<Recipe, 'mirror'>, fallback: string, env = process.env): string {
  return flag || env.DBCO_MIRROR || recipe.mirror || fallback;
}
