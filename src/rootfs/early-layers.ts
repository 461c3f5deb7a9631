import type { Cache } from '../cache/index.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import { Semaphore } from '../io/semaphore.js';
import { startLayer } from './layer-tar.js';
import type { Layer } from './layer.js';
import { extensionLayer } from './tcz-layer.js';
import { withoutWhiteoutNames } from './whiteout-names.js';

/** Extensions read at once: each holds one open tcz and its entry list. */
export const PARALLEL_EXTENSIONS = 4;
/** Layer tars written at once ahead of need: the machine this runs on in CI has 2 cores. */
export const PARALLEL_TARS = 2;

/**
 * Extension layers started while the other downloads still run: a cold build otherwise fetches every
 * tcz and only then reads the first one, leaving the CPU idle while it waits for the network and the
 * network idle while it unpacks. An extension's layer (and its tar) depends on the verified file alone,
 * not on the resolution or the install order, so it can start as soon as that file is in the cache;
 * assembleRootfs then takes the started layer instead of reading the tcz again.
 */
export class EarlyLayers {
  /** Layer tars written at once, shared with assembleRootfs so early and late tars keep one bound. */
  readonly tarGate = new Semaphore(PARALLEL_TARS);
  readonly readGate = new Semaphore(PARALLEL_EXTENSIONS);
  private readonly layers = new Map<string, Promise<Layer>>();

  constructor(private readonly opts: { cache: Pick<Cache, 'root'>; epoch: number; log?: Logger }) {}

  /** Starts reading the extension and writing its tar (once per name and content). */
  start(ext: { name: string; file: CachedFile }): void {
    const key = keyOf(ext);
    if (this.layers.has(key)) return;
    const { cache, epoch, log } = this.opts;
    const p = this.readGate.run(async () => {
      const layer = withoutWhiteoutNames(await extensionLayer(ext, { cacheRoot: cache.root, epoch }), log);
      startLayer(layer, { cache, epoch }, this.tarGate);
      return layer;
    });
    p.catch(() => undefined); // reported by take(), when the build gets that far
    this.layers.set(key, p);
  }

  /** The layer started for this extension, if any. */
  take(ext: { name: string; file: CachedFile }): Promise<Layer> | undefined {
    return this.layers.get(keyOf(ext));
  }

  /**
   * Waits until nothing started here still reads or writes (tars included): a build that fails before
   * it takes its layers must not leave writes into the cache running behind its error.
   */
  async settle(): Promise<void> {
    const layers = await Promise.all([...this.layers.values()].map((p) => p.catch(() => undefined)));
    const { cache, epoch } = this.opts;
    await Promise.all(layers.map((l) => (l ? startLayer(l, { cache, epoch }, this.tarGate).catch(() => undefined) : undefined)));
  }
}

function keyOf(ext: { name: string; file: CachedFile }): string {
  return `${ext.name}\0${ext.file.sha256}`;
}
