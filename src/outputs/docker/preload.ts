import { DockerError } from '../../errors.js';
import type { Logger } from '../../io/logger.js';
import type { ImageConfig } from './config.js';
import { planArchive, writeImageArchive, writeImageArchiveAsBuilt, type ArchiveLayer } from './archive.js';
import { inspectImage, loadArchive, removeReference, request, tagImage, type Engine } from './engine.js';
import { internalRef } from './owner.js';
import { LoadProgress } from './load-progress.js';
import type { EngineInfo } from './engine-info.js';
import { trace, traced } from './trace.js';

/**
 * The engine's ID of the image made of `config` and `layers`, asked of the engine itself, or undefined
 * when it has none. Engines name an image differently (dockerd's graph driver and Podman by the config
 * digest, dockerd's containerd store by the manifest digest), so both content digests are looked for:
 * either is exact, as each covers the config. Only images the engine lists count: dockerd's containerd
 * store keeps the record of an image whose load failed half-way, which inspect finds but nothing can run.
 */
export async function findImage(engine: Engine, config: ImageConfig, layers: ArchiveLayer[]): Promise<string | undefined> {
  const manifest = planArchive({ config, layers, tags: [], mtime: 0 }).manifestDigest;
  const lock = (JSON.parse(config.bytes.toString()) as { config?: { Labels?: Record<string, string> } }).config?.Labels?.['dbco.lock.digest'];
  const listed = await request<{ Id: string }[]>(engine, 'listing images', {
    method: 'GET', path: '/images/json', query: { all: true, filters: JSON.stringify(lock ? { label: [`dbco.lock.digest=${lock}`] } : {}) },
  });
  for (const candidate of [config.id, manifest]) {
    if (!listed.some((img) => img.Id === candidate)) continue;
    const found = await inspectImage(engine, candidate);
    if (found && sameLayers(found.RootFS?.Layers, layers)) return found.Id;
  }
  return undefined;
}

const sizesOf = (layers: ArchiveLayer[], omit: Set<string>): number[] => layers.filter((l) => !omit.has(l.diffId)).map((l) => l.size);

/** Whether the engine's layer list (diffIds, from the bottom) is exactly these layers. */
export function sameLayers(engineLayers: string[] | undefined, layers: ArchiveLayer[]): boolean {
  return engineLayers !== undefined && engineLayers.length === layers.length && engineLayers.every((d, i) => d === layers[i]!.diffId);
}

/**
 * Whether loading the layers ready so far as intermediate images, while the rest are built, makes the
 * build finish sooner on this engine. dockerd's graph driver registers the layers of a load one after
 * another once the last byte is in (~70-85 ms each on 20.10/overlay2), so layers registered during the
 * build are time saved. The containerd store and Podman pay a whole import per load instead (Podman
 * spools the archive, then imports; the containerd store unpacks and garbage-collects per load), and
 * their final load of the whole image is what the engine spends anyway: there every extra load is paid
 * on top (measured 2026-12-02, 12 tczs: an intermediate load of one layer 0.36-0.75 s).
 */
export function preloadPays(engine: EngineInfo): boolean {
  return engine.store === 'graphdriver';
}

/**
 * Loads into the engine while layers are still being built. dockerd registers the layers of a load one
 * after another (about 70 ms each on 20.10/overlay2: a re-exec of dockerd per layer), and only once the
 * whole archive has arrived; so the layers ready so far go in as an intermediate image while dbco builds
 * the rest, and later loads leave those blobs out (dockerd skips a layer it already has, by chain ID; the
 * containerd store takes a blob already in its content store). An engine that wants every blob anyway
 * gets the whole archive on a second try.
 *
 * Everything this loads carries a dbco-internal tag of this run (in the archive itself, so no image is
 * ever untagged: the containerd store would collect it, and a dangling image would be left behind on a
 * failure). The tags are removed at the end; images only they held go with them, layers the final image
 * holds stay.
 */
export class Loader {
  /** diffIds of the layers loaded so far, in order from the bottom. */
  private readonly loaded = new Set<string>();
  /** This run's dbco-internal references, removed by cleanup(). */
  private readonly refs: string[] = [];
  private partials = 0;
  private cleaning: Promise<void> | undefined;
  /** diffIds, from the bottom, of an image the engine held before this run (its chain is there). */
  private heldChain: string[] = [];

  /** One account of every load of this build, for the progress lines. */
  private readonly progress: LoadProgress;

  constructor(private readonly engine: Engine, private readonly mtime: number, private readonly log?: Logger) {
    this.progress = new LoadProgress(log, Boolean(process.stderr.isTTY), engine.name);
  }

  /** The engine holds an image with these layers (from the bottom): a load may leave out their prefix. */
  assumeHeld(diffIds: string[]): void {
    this.heldChain = diffIds;
  }

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
      trace(`partial load of ${ready} layer(s)`);
      await traced('partial hold', this.hold(partialConfig(layers), layers, internalRef('partial', String(++this.partials))));
      sent = ready;
    }
    return Promise.all(pending);
  }

  /**
   * Makes sure the engine has the image under `ref` (a tag of this run, removed by cleanup): tags it
   * when the engine already has it, else loads it. Returns the engine's image ID.
   */
  async hold(config: ImageConfig, layers: ArchiveLayer[], ref: string): Promise<string> {
    const present = await traced('hold findImage', findImage(this.engine, config, layers));
    this.refs.push(ref);
    if (present) {
      await tagImage(this.engine, present, ref);
      for (const l of layers) this.loaded.add(l.diffId);
      return present;
    }
    return this.load(config, layers, ref);
  }

  /**
   * Loads an image tagged `ref` (leaving out the blobs loaded before; whole if the engine refuses that)
   * and returns the ID the engine gives it, from its inspect of `ref`.
   */
  async load(config: ImageConfig, layers: ArchiveLayer[], ref: string): Promise<string> {
    if (!this.refs.includes(ref)) this.refs.push(ref);
    const omit = new Set([...this.loaded].filter((d) => layers.some((l) => l.diffId === d)));
    for (let i = 0; i < layers.length && this.heldChain[i] === layers[i]!.diffId; i++) omit.add(layers[i]!.diffId);
    let said: string[] | undefined;
    if (omit.size > 0) {
      try {
        said = (await loadArchive(this.engine, writeImageArchive({ config, layers, tags: [ref], mtime: this.mtime, omit }), this.progress, sizesOf(layers, omit))).messages;
      } catch (err) {
        this.log?.info(`the engine did not take the archive without the ${omit.size} layer(s) it was sent before (${(err as Error).message}); sending every layer`);
      }
    }
    said ??= (await loadArchive(this.engine, writeImageArchive({ config, layers, tags: [ref], mtime: this.mtime }), this.progress, sizesOf(layers, new Set()))).messages;
    for (const l of layers) this.loaded.add(l.diffId);
    return this.verify(ref, layers, said);
  }

  /**
   * One load whose archive goes to the engine while the image is still being built (see
   * writeImageArchiveAsBuilt): the engine takes in the layers during the build, and nothing is loaded
   * twice. Leaves out the bottom layers of the image the engine held before (whole on a second try if
   * it refuses that). Returns the engine's image ID, as load() does.
   */
  async loadAsBuilt(pending: Promise<ArchiveLayer>[], image: Promise<{ config: ImageConfig; layers: ArchiveLayer[] }>, ref: string): Promise<string> {
    if (!this.refs.includes(ref)) this.refs.push(ref);
    let omitted = 0;
    let buildFailed = false;
    const failing = <T>(p: Promise<T>): Promise<T> => {
      const q = p.catch((err: unknown) => { buildFailed = true; throw err; });
      q.catch(() => undefined); // the archive may stop before it reaches this one: the build reports it
      return q;
    };
    let said: string[];
    try {
      said = (await loadArchive(this.engine, writeImageArchiveAsBuilt({
        pending: pending.map(failing), image: failing(image), tags: [ref], mtime: this.mtime,
        // Only an unbroken run from the bottom: the engine finds a layer by its chain, not by its blob.
        omit: (l, i) => {
          const held = i === omitted && this.heldChain[i] === l.diffId;
          if (held) omitted++;
          return held;
        },
        onLayer: (size) => this.progress.addLayer(size),
      }), this.progress)).messages;
    } catch (err) {
      if (buildFailed || omitted === 0) throw err;
      this.log?.info(`the engine did not take the archive without the ${omitted} layer(s) it held before (${(err as Error).message}); sending every layer`);
      const { config, layers } = await image;
      said = (await loadArchive(this.engine, writeImageArchive({ config, layers, tags: [ref], mtime: this.mtime }), this.progress, sizesOf(layers, new Set()))).messages;
    }
    const { layers } = await image;
    for (const l of layers) this.loaded.add(l.diffId);
    return this.verify(ref, layers, said);
  }

  /** The ID of the image the engine now has under `ref`, once its layers are checked against `layers`. */
  private async verify(ref: string, layers: ArchiveLayer[], said: string[]): Promise<string> {
    const image = await traced('inspect loaded', inspectImage(this.engine, ref));
    if (!image) {
      throw new DockerError(`${this.engine.name}: docker load finished but the engine has no image ${ref} (it said: ${said.join('; ') || 'nothing'})`);
    }
    if (!sameLayers(image.RootFS?.Layers, layers)) {
      throw new DockerError(`${this.engine.name}: docker load finished but ${ref} has layers ${JSON.stringify(image.RootFS?.Layers)}, not the ${layers.length} sent`);
    }
    return image.Id;
  }

  /** After the last load: one line of what the build's loads sent. */
  reportLoaded(): void {
    this.progress.summary();
  }

  /**
   * Removes this run's references (never fails: a leftover is clutter, and the next run removes it).
   * An interrupt and the build's own `finally` may both call it: the second waits for the first, so
   * the process does not exit while a removal is still on its way.
   */
  cleanup(): Promise<void> {
    const previous = this.cleaning ?? Promise.resolve();
    this.cleaning = previous.then(async () => {
      for (const ref of this.refs.splice(0).reverse()) {
        // A container of the image being removed at the same moment (an interrupt) makes this fail:
        // kept for the next call, which the interrupt handler makes once its container is gone.
        await removeReference(this.engine, ref).catch(() => { this.refs.push(ref); });
      }
    });
    return this.cleaning;
  }
}
