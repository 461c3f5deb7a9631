import type { Cache } from '../cache/index.js';
import { RecipeError } from '../errors.js';
import type { Logger } from '../io/logger.js';
import type { PreparedInputs } from '../resolve/prepared.js';
import { baseLayer } from './base-layer.js';
import { applyLayerBudget } from './budget.js';
import { configLayer, type SetupMode } from './config-layer.js';
import type { Layer, Rootfs } from './layer.js';
import { extensionLayer } from './tcz-layer.js';
import { withoutWhiteoutNames } from './whiteout-names.js';
import { startLayer } from './layer-tar.js';
import { Semaphore } from '../io/semaphore.js';
import { PARALLEL_EXTENSIONS, PARALLEL_TARS, type EarlyLayers } from './early-layers.js';

export interface AssembleOptions {
  cache: Pick<Cache, 'root'>;
  epoch: number;
  /** Most layers the image may have, counting the setup layer that `setup: 'build'` adds later. Default 100. */
  maxLayers?: number;
  setup: SetupMode;
  log?: Logger;
  /**
   * Start each layer's tar (startLayer) as soon as the layer is listed, while the others are listed and
   * until the caller asks for it: for outputs that need the tars (Docker). Not when the layer budget will
   * merge extensions (their layers are not the ones the image gets).
   */
  startTars?: boolean;
  /** Extension layers started while the downloads ran (prepare's onExtension): taken instead of read again. */
  early?: EarlyLayers;
}

export const DEFAULT_MAX_LAYERS = 100;

/** Layers left for extensions under the budget: base and config take one each, setup 'build' one more. */
export function extensionRoom(maxLayers: number, setup: SetupMode): number {
  return maxLayers - 2 - (setup === 'build' ? 1 : 0);
}

/**
 * The rootfs as layers: base, one per extension in install order (the smallest merged when over the
 * layer budget), config. Entries point lazily into the cached archives; nothing is extracted.
 */
export async function assembleRootfs(inputs: PreparedInputs, opts: AssembleOptions): Promise<Rootfs> {
  const cacheRoot = opts.cache.root;
  const { epoch } = opts;
  const maxLayers = opts.maxLayers ?? DEFAULT_MAX_LAYERS;
  const room = extensionRoom(maxLayers, opts.setup);
  const fixed = maxLayers - room;
  const gate = opts.startTars ? (opts.early?.tarGate ?? new Semaphore(PARALLEL_TARS)) : undefined;
  const start = (layer: Layer): Layer => {
    if (gate) startLayer(layer, { cache: opts.cache, epoch }, gate);
    return layer;
  };
  const startExts = inputs.extensions.length <= room ? start : (layer: Layer) => layer;
  const earlyBase = opts.early?.takeBase(inputs.base);
  const base = start(earlyBase ? await earlyBase : withoutWhiteoutNames(await baseLayer(inputs.base, { cacheRoot, epoch, ...(opts.log ? { log: opts.log } : {}) }), opts.log));
  const exts = await mapLimit(inputs.extensions, PARALLEL_EXTENSIONS, async (ext) => {
    const started = opts.early?.take(ext);
    return startExts(started ? await started : withoutWhiteoutNames(await extensionLayer(ext, { cacheRoot, epoch }), opts.log));
  });

  if (exts.length > 0 && room < 1) {
    throw new RecipeError(inputs.recipePath, 'image.max_layers', `${maxLayers} leaves no layer for extensions (base, config${opts.setup === 'build' ? ', setup' : ''} take ${fixed}): use at least ${fixed + 1}`);
  }
  const { layers: extLayers, merged } = applyLayerBudget(exts, room);
  if (merged) opts.log?.info(`layer budget ${maxLayers}: ${merged.id.split('+').length} smallest extensions share one layer (${merged.id})`);

  const lower: Layer[] = [base, ...extLayers];
  const { layer: config, setupScripts } = await configLayer(inputs, lower, { epoch, setup: opts.setup });
  return { arch: inputs.recipe.arch, layers: [...lower, config], setupScripts };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
