import type { Cache } from '../cache/index.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import { Semaphore } from '../io/semaphore.js';
import { settleable, type Settleable } from '../io/settleable.js';
import { startLayer, type LayerBlob } from './layer-tar.js';
import { baseLayer } from './base-layer.js';
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
  /** By extension name, for a caller that knows the install order before the payloads are in (tarsInOrder). */
  private readonly named = new Map<string, Settleable<Layer>>();
  private base: { sha256: string; layer: Promise<Layer>; tar: Promise<unknown> } | undefined;

  constructor(private readonly opts: { cache: Pick<Cache, 'root'>; epoch: number; log?: Logger }) {}

  /** Starts reading the extension and writing its tar (once per name and content). */
  start(ext: { name: string; file: CachedFile }): void {
    const key = keyOf(ext);
    if (this.layers.has(key)) return;
    const { cache, epoch, log } = this.opts;
    const p = this.readGate.run(async () => {
      // Every load sends the base first: once it is on its way, extensions wait for its tar, not the other way round.
      await this.base?.tar;
      const layer = withoutWhiteoutNames(await extensionLayer(ext, { cacheRoot: cache.root, epoch }), log);
      startLayer(layer, { cache, epoch }, this.tarGate);
      return layer;
    });
    p.catch(() => undefined); // reported by take(), when the build gets that far
    this.layers.set(key, p);
    this.slot(ext.name).resolve(p);
  }

  /** Starts the base's layer (gunzip, index, tar) as soon as the base is verified. */
  startBase(file: CachedFile): void {
    if (this.base) return;
    const { cache, epoch, log } = this.opts;
    const layer = baseLayer(file, { cacheRoot: cache.root, epoch, ...(log ? { log } : {}) }).then((l) => withoutWhiteoutNames(l, log));
    layer.catch(() => undefined); // reported by takeBase() or tarsInOrder()
    // The bottom layer: every load sends it first, so its tar goes before the extensions' queued ones.
    const tar = layer.then((l) => startLayer(l, { cache, epoch, first: true }, this.tarGate)).catch(() => undefined);
    this.base = { sha256: file.sha256, layer, tar };
  }

  /** The base layer started here for this file, if any. */
  takeBase(file: CachedFile): Promise<Layer> | undefined {
    return this.base?.sha256 === file.sha256 ? this.base.layer : undefined;
  }

  /**
   * The tars of the base and of these extensions, in this order, each settling as soon as its file is
   * verified and its tar written (the order is known before the downloads are over: prepare's onOrder).
   * Fail the ones still waiting with fail() when the build stops.
   */
  tarsInOrder(baseFile: Promise<CachedFile>, names: string[]): Promise<{ layer: Layer; blob: LayerBlob }>[] {
    const { cache, epoch } = this.opts;
    const tarOf = async (layer: Promise<Layer>) => {
      const l = await layer;
      return { layer: l, blob: await startLayer(l, { cache, epoch }, this.tarGate) };
    };
    const base = baseFile.then((f) => { this.startBase(f); return this.base!.layer; });
    const all = [tarOf(base), ...names.map((n) => tarOf(this.slot(n).promise))];
    for (const p of all) p.catch(() => undefined); // awaited by the load that takes them
    return all;
  }

  /** Fails every layer tarsInOrder() waits for that has not started: the build stopped before its file came. */
  fail(err: unknown): void {
    for (const d of this.named.values()) d.reject(err);
  }

  private slot(name: string): Settleable<Layer> {
    let d = this.named.get(name);
    if (!d) {
      d = settleable();
      this.named.set(name, d);
    }
    return d;
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
    const layers = await Promise.all([...this.layers.values(), ...(this.base ? [this.base.layer] : [])].map((p) => p.catch(() => undefined)));
    const { cache, epoch } = this.opts;
    await Promise.all(layers.map((l) => (l ? startLayer(l, { cache, epoch }, this.tarGate).catch(() => undefined) : undefined)));
  }
}

function keyOf(ext: { name: string; file: CachedFile }): string {
  return `${ext.name}\0${ext.file.sha256}`;
}
