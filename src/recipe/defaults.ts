import type { Recipe } from './schema.js';

/**
 * `image.setup` when the recipe does not say. x86_64: `build`, the setup scripts run once in a
 * container at build time and the image starts ready. x86: `boot`, because `build` would need the
 * host to run i386 binaries in a container, which an x86_64 Docker host is not assumed to do; the
 * scripts then run when the container starts, as TC runs them at boot.
 */
export function defaultSetup(arch: Recipe['arch']): 'build' | 'boot' {
  return arch === 'x86' ? 'boot' : 'build';
}

export function setupOf(recipe: Pick<Recipe, 'arch' | 'image'>): 'build' | 'boot' | 'none' {
  return recipe.image?.setup ?? defaultSetup(recipe.arch);
}
