import type { Logger } from '../../io/logger.js';
import type { ImageConfig } from './config.js';
import { writeImageArchive, type ArchiveLayer } from './archive.js';
import { imageExists, loadArchive, removeReference, type Engine } from './engine.js';

/**
 * Loads into the engine while layers are still being built. dockerd registers the layers of a load one
 * after another (about 70 ms each on 20.10/overlay2: a re-exec of dockerd per layer), and only once the
 * whole archive has arrived; so the layers ready so far go in as an intermediate, untagged image while
 * dbco builds the rest, and later loads leave those blobs out (the engine skips a layer it already has,
 * by chain ID). An engine that wants every blob anyway gets the whole archive on a second try. The
 * intermediate images are removed at the end; the layers stay, held by the final image.
 */
export class Loader {
  /** diffIds of the layers the intermediate images loaded, in order from the bottom. */
  private readonly loaded = new Set<string>();
  private readonly partials: string[] = [];

  constructor(private readonly engine: Engine, private readonly mtime: number, private readonly log?: Logger) {}

  /**
   * Waits for every layer of `pending` (in image order), loading each ready bottom run of them as an
   * intermediate image (config from `partialConfig`) whenever the engine is free and some are still
   * being built.
   */
  async preload(pending: Promise<ArchiveLayer>[], partialConfig: (layers: ArchiveLayer[]) => ImageConfig): Promise<ArchiveLayer[]> {
    const done: (ArchiveLayer | undefined)[] = new Array(pending.length);
    // Registered before any await below, so done[i] is set by the time `await pending[i]` resumes.
    pending.forEach((p, i) => p.then((b) => { done[i] = b; }, () => undefined));
    let sent = 0;
    while (sent < pending.length) {
      await pending[sent];
      let ready = sent;
      while (ready < pending.length && done[ready]) ready++;
      if (ready === pending.length) break;
      const layers = done.slice(0, ready) as ArchiveLayer[];
      const config = partialConfig(layers);
      if (!(await imageExists(this.engine, config.id))) {
        await this.load(config, layers);
        this.partials.push(config.id);
      }
      for (const l of layers) this.loaded.add(l.diffId);
      sent = ready;
    }
    return Promise.all(pending);
  }

  /** Loads an image untagged, leaving out the preloaded blobs; whole if the engine refuses that. */
  async load(config: ImageConfig, layers: ArchiveLayer[]): Promise<void> {
    const omit = new Set([...this.loaded].filter((d) => layers.some((l) => l.diffId === d)));
    if (omit.size > 0) {
      try {
        await loadArchive(this.engine, writeImageArchive({ config, layers, tags: [], mtime: this.mtime, omit }));
        return;
      } catch (err) {
        this.log?.info(`the engine did not take the archive without the ${omit.size} layer(s) it was sent before (${(err as Error).message}); sending every layer`);
      }
    }
    await loadArchive(this.engine, writeImageArchive({ config, layers, tags: [], mtime: this.mtime }));
  }

  /** Removes the intermediate images (never fails: a leftover untagged image is only clutter). */
  async cleanup(): Promise<void> {
    for (const id of this.partials.splice(0)) await removeReference(this.engine, id).catch(() => undefined);
  }
}
