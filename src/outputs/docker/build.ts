import { rm } from 'node:fs/promises';
import { setupOf } from '../../recipe/defaults.js';
import { tempFolder } from '../../cache/atomic.js';
import { DockerError, RecipeError } from '../../errors.js';
import { onInterrupt } from '../../io/interrupt.js';
import { Cache, defaultCacheDir } from '../../cache/index.js';
import { loadRecipeDocument, narrowRecipe } from '../../recipe/load.js';
import { archesOf, archOfPlatform, hostArch, PLATFORM } from '../../recipe/arch.js';
import type { Arch, Recipe } from '../../recipe/schema.js';
import type { PreparedInputs } from '../../resolve/prepared.js';
import { prepare } from '../../pipeline/prepare.js';
import type { Logger } from '../../io/logger.js';
import { assembleRootfs, DEFAULT_MAX_LAYERS, extensionRoom } from '../../rootfs/assemble.js';
import { EarlyLayers } from '../../rootfs/early-layers.js';
import { cachedLayerBlob, materializeLayer, type LayerBlob } from '../../rootfs/layer-tar.js';
import { flattenLayers } from '../../rootfs/flatten.js';
import { buildEpoch } from '../../rootfs/epoch.js';
import { SETUP_WRAPPER_PATH } from '../../rootfs/setup-wrapper.js';
import type { Layer } from '../../rootfs/layer.js';
import type { CachedFile } from '../../cache/cached-file.js';
import { settleable, type Settleable } from '../../io/settleable.js';
import { buildImageConfig, type ConfigLayer, type ImageConfig } from './config.js';
import { planArchive, planIndexArchive, writeImageArchive, type ArchiveImage, type ArchiveInput, type ArchiveLayer, type IndexArchiveInput } from './archive.js';
import { connectEngine, inspectImage, tagImage, type Engine } from './engine.js';
import type { EngineInfo } from './engine-info.js';
import { removeLeftovers } from './leftovers.js';
import { internalRef } from './owner.js';
import { Loader, findImage, preloadPays, sameLayers } from './preload.js';
import { cachedSetupLayer, storeSetupLayer } from './setup-store.js';
import { runSetup } from './setup-run.js';
import { writeOutputAtomic } from './stream-file.js';
import { trace, traced } from './trace.js';

export interface DockerImageOptions {
  tag?: string;
  /** Write the archive here instead of loading it into the engine. */
  output?: string;
  /** false: build only, load nothing (e.g. for a push); no engine is needed unless setup 'build' runs. */
  load?: boolean;
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  maxLayers?: number;
  allowOutsideSrc?: boolean;
  log?: Logger;
  /**
   * linux/386 or linux/amd64: the one platform of a multi-arch recipe to build. Without it, --output
   * writes every platform in one image index and loading picks the host's.
   */
  platform?: string;
  /** Build every arch of a multi-arch recipe into `archive` (one index, for --push) even when loading the host's. */
  allPlatforms?: boolean;
  /**
   * Make a CycloneDX SBOM per platform (reads each extension's .tcz.info): returned in `sboms`, and in
   * `archive` (so in --output and --push) as an artifact whose subject is the image manifest.
   */
  sbom?: boolean;
  /**
   * Registers a cleanup to run on SIGINT/SIGTERM; returns the function that unregisters it. Engine
   * objects this run creates are removed through it. Default: the process-wide handler (io/interrupt).
   */
  onInterrupt?: (cleanup: () => unknown, label: string) => () => void;
}

export interface DockerImageResult {
  /**
   * The image ID the engine uses (with --output: the config digest, `docker load`'s ID on dockerd's graph
   * driver; for a multi-arch index: the index digest).
   */
  id: string;
  /** sha256 of the image config: the same on every engine (a multi-arch index: see `platforms`). */
  configDigest?: string;
  /** sha256 of the OCI manifest (the image ID on dockerd's containerd store, and the digest a registry reports); of the index when multi-arch. */
  manifestDigest: string;
  tag: string;
  /** The engine loaded into, as it describes itself; undefined with --output. */
  engine?: EngineInfo & { where: string };
  /**
   * Layers in order; `rebuilt` when this run wrote the layer tar (else it came from the cache);
   * `inEngine` when the engine had the layer before this run (the image, or the same bottom layers under
   * the tag), so its bytes were not sent.
   */
  layers: { id: string; diffId: string; size: number; rebuilt: boolean; inEngine: boolean }[];
  /** true when the engine already had the image and only the tag was set. */
  alreadyLoaded: boolean;
  setupRan: boolean;
  /** Each platform built: its image ID and manifest digest (one entry unless the recipe is multi-arch). */
  platforms: { platform: string; id: string; manifestDigest?: string }[];
  /** The image as the archive writer takes it (cached layer files + config; every platform of a multi-arch build): what a push reads. */
  archive: ArchiveInput | IndexArchiveInput;
  /** With `sbom`: each platform's SBOM bytes and the digest of the artifact manifest that carries it. */
  sboms?: { platform: string; arch: Arch; bytes: Buffer; artifactDigest: string }[];
}

/** One arch's image, built up to its config: what loading, the archive and the SBOM take from a build. */
interface ArchBuild {
  recipe: Recipe;
  inputs: PreparedInputs;
  tag: string;
  config: ReturnType<typeof buildImageConfig>;
  blobs: ArchiveLayer[];
  layers: Omit<DockerImageResult['layers'][number], 'inEngine'>[];
  setupRan: boolean;
  epoch: number;
  engine?: Engine;
  loader?: Loader;
  /** diffIds of the image the engine held under the tag before this run (its bottom layers are not sent again). */
  previousLayers: string[];
  /** The ID of the image the engine held under the tag before this run, if any. */
  previousId?: string;
  /** Unregisters the loader's interrupt cleanup. */
  untrack?: () => void;
  /**
   * The load sent while the layers were built (engines where preloadPays is false): the image ID, or
   * undefined when no layer was written this run (nothing was sent; the engine may hold the image).
   */
  streamed?: Promise<string | undefined>;
  /** The platform's CycloneDX SBOM, when asked for. */
  sbom?: Buffer;
}

const silent: Logger = { info() {}, warn() {} };

type RecipeDocumentFile = Awaited<ReturnType<typeof loadRecipeDocument>>;

/** Layer tars built at once: the machine this runs on in CI has 2 cores. */
const PARALLEL_LAYERS = 2;

/** The x86 (i386) check runs before anything is fetched: a build that cannot finish should not start. */
function checkSetupMode(recipePath: string, arch: string, setup: string): void {
  if (setup === 'build' && arch === 'x86') {
    throw new RecipeError(recipePath, 'image.setup',
      "setup 'build' runs the extensions' setup scripts in a container, but this host cannot run x86 (i386) binaries; " +
      'set image.setup: boot (scripts run when the container starts) or image.setup: none');
  }
}

export async function runDockerImage(recipePath: string, opts: DockerImageOptions = {}): Promise<DockerImageResult> {
  opts = { ...opts, onInterrupt: opts.onInterrupt ?? onInterrupt };
  const wanted = opts.platform ? archOfPlatform(opts.platform) : undefined;
  const loading = !opts.output && opts.load !== false;
  // The engine's ping goes out while the recipe is read and validated (a recipe error is still reported
  // first: the ping is awaited only once the recipe is good).
  const connecting = loading ? traced('connect', connectEngine()) : undefined;
  connecting?.catch(() => undefined);
  const file = await loadRecipeDocument(recipePath, { cacheRoot: opts.cache ?? defaultCacheDir() });
  const arches = archesOf(file.document);
  if (arches.length > 1 && !wanted && (!loading || opts.allPlatforms)) {
    const { result, builds } = await buildMultiArch(file, arches, opts);
    if (!loading) return result;
    // --docker with --push: the index is pushed, the host's arch is the one the engine gets.
    const host = builds.find((b) => b.recipe.arch === hostArch()) ?? builds[0]!;
    if (!host.engine && connecting) host.engine = await connecting;
    try {
      const loaded = await finish(host, { ...opts, output: undefined });
      return { ...result, alreadyLoaded: loaded.alreadyLoaded, ...(loaded.engine ? { engine: loaded.engine } : {}) };
    } finally {
      await release(host);
    }
  }
  // Loading a multi-arch recipe without --platform: the engine runs the host's arch.
  const arch = wanted ?? (arches.length > 1 ? hostArch() : undefined);
  const b = await buildArch(file, arch, opts, connecting);
  try {
    return await finish(b, opts);
  } finally {
    await release(b);
  }
}

/** Removes the run's dbco-internal references (layers the final image holds stay in the engine). */
async function release(b: ArchBuild): Promise<void> {
  await traced('cleanup', b.loader?.cleanup() ?? Promise.resolve());
  b.untrack?.();
}

/** The build's loader, made on first use and registered for interrupts. */
function loaderOf(b: Pick<ArchBuild, 'loader' | 'untrack' | 'epoch' | 'previousLayers'>, engine: Engine, opts: DockerImageOptions): Loader {
  if (!b.loader) {
    const loader = new Loader(engine, b.epoch, opts.log ?? silent);
    loader.assumeHeld(b.previousLayers);
    b.loader = loader;
    b.untrack = opts.onInterrupt?.(() => loader.cleanup(), `dbco-internal images at ${engine.where}`);
  }
  return b.loader;
}

/** Every arch of the recipe, one after the other (the 2-core CI machine), into one image index. */
async function buildMultiArch(file: RecipeDocumentFile, arches: Arch[], opts: DockerImageOptions): Promise<{ result: DockerImageResult; builds: ArchBuild[] }> {
  const built: ArchBuild[] = [];
  for (const arch of arches) {
    const b = await buildArch(file, arch, opts, undefined);
    await release(b);
    built.push(b);
  }
  const images: ArchiveImage[] = built.map((b) => ({ config: b.config, layers: b.blobs, ...(b.sbom ? { sbom: b.sbom } : {}) }));
  const tag = built[0]!.tag;
  const epoch = built[0]!.epoch;
  const archive: IndexArchiveInput = { images, tags: [tag], mtime: epoch };
  const plan = planIndexArchive(archive);
  if (opts.output) await writeOutputAtomic(writeImageArchive(archive), opts.output);
  const result: DockerImageResult = {
    archive,
    id: plan.manifestDigest,
    manifestDigest: plan.manifestDigest,
    tag,
    layers: built.flatMap((b) => b.layers.map((l) => ({ ...l, inEngine: false }))),
    alreadyLoaded: false,
    setupRan: built.some((b) => b.setupRan),
    platforms: built.map((b, i) => ({ platform: PLATFORM[b.recipe.arch], id: b.config.id, manifestDigest: plan.platforms[i]!.manifestDigest })),
    ...sbomsOf(built, plan.platforms),
  };
  return { result, builds: built };
}

function sbomsOf(builds: ArchBuild[], planned: { sbomManifestDigest?: string }[]): Pick<DockerImageResult, 'sboms'> {
  if (!builds.every((b) => b.sbom)) return {};
  return { sboms: builds.map((b, i) => ({ platform: PLATFORM[b.recipe.arch], arch: b.recipe.arch, bytes: b.sbom!, artifactDigest: planned[i]!.sbomManifestDigest! })) };
}

async function finish(b: ArchBuild, opts: DockerImageOptions): Promise<DockerImageResult> {
  const { config, blobs, layers, tag, setupRan, epoch } = b;
  const platforms = [{ platform: PLATFORM[b.recipe.arch], id: config.id }];
  const archive: ArchiveInput = { config, layers: blobs, tags: [tag], mtime: epoch, ...(b.sbom ? { sbom: b.sbom } : {}) };
  const plan = planArchive({ ...archive, tags: [] });
  const { manifestDigest } = plan;
  const result = (id: string, alreadyLoaded: boolean, inEngine: (i: number) => boolean, e?: Engine): DockerImageResult => ({
    id, configDigest: config.id, manifestDigest, tag,
    ...(e ? { engine: { ...e.info, where: e.where } } : {}),
    layers: layers.map((l, i) => ({ ...l, inEngine: inEngine(i) })),
    alreadyLoaded, setupRan, platforms, archive,
    ...sbomsOf([b], plan.platforms),
  });
  if (opts.output) await writeOutputAtomic(writeImageArchive(archive), opts.output);
  if (opts.output || opts.load === false) return result(config.id, false, () => false);
  const engine = b.engine ?? await connectEngine();
  trace('built');
  let id = b.streamed ? await traced('streamed load', b.streamed) : undefined;
  let alreadyLoaded = false;
  if (id) {
    b.loader?.reportLoaded();
  } else if (b.previousId && (b.previousId === config.id || b.previousId === manifestDigest) && sameLayers(b.previousLayers, blobs)) {
    // The tag already names this very image (dbco tags only a finished load): nothing to send or to tag.
    trace('tag holds the image');
    return result(b.previousId, true, () => true, engine);
  } else {
    id = await traced('findImage', findImage(engine, config, blobs));
    alreadyLoaded = id !== undefined;
  }
  const heldBefore = (i: number): boolean => alreadyLoaded || blobs.slice(0, i + 1).every((l, j) => b.previousLayers[j] === l.diffId);
  if (!id) {
    // Loaded under a tag of this run, given the user's tag only once the engine holds every layer and
    // has said which ID it gave the image: a failed load tags nothing and leaves nothing dangling.
    const loader = loaderOf(b, engine, opts);
    id = await traced('final load', loader.load(config, blobs, internalRef('load', '')));
    loader.reportLoaded();
  }
  await traced('tag', tagImage(engine, id, tag));
  return result(id, alreadyLoaded, heldBefore, engine);
}

/** One arch of the recipe (the only one, or `arch`), built up to its image config; with `connecting`, loaded into that engine as it is built. */
async function buildArch(document: RecipeDocumentFile, arch: Arch | undefined, opts: DockerImageOptions, connecting: Promise<Engine> | undefined): Promise<ArchBuild> {
  const recipePath = document.path;
  const log = opts.log ?? silent;
  // Loaded once (runDockerImage), narrowed here: the x86 check needs it before anything starts, and prepare() takes it on.
  const loaded = narrowRecipe(document, arch);
  let { recipe } = loaded;
  const setup = setupOf(recipe);
  checkSetupMode(recipePath, recipe.arch, setup);
  const tag = opts.tag ?? recipe.image?.tag ?? `${recipe.name}:latest`;

  // Ping before the long part, so a stopped daemon is reported in 2 s and not after the downloads.
  let engine: Engine | undefined = connecting ? await connecting : undefined;
  /** The engine this build loads into (setup 'build' may connect one later, for its container only). */
  const target = engine;
  // Listing the engine's objects takes a few hundred ms on the containerd store: done while the inputs
  // are fetched, and awaited before this run writes anything to the engine. It never fails.
  const leftovers = target ? traced('leftovers', removeLeftovers(target, log)) : undefined;

  const cacheRoot = opts.cache ?? defaultCacheDir();
  const cache = new Cache(cacheRoot);
  const epoch = buildEpoch();
  const state: Pick<ArchBuild, 'loader' | 'untrack' | 'epoch' | 'previousLayers' | 'previousId' | 'streamed'> = { epoch, previousLayers: [] };
  // The engine side, made ready while the inputs are fetched: leftovers gone, the tag's layers known.
  const engineReady = target ? (async () => {
    // A read: asked beside the leftover removal, which only has to be over before this run writes.
    const [held] = await Promise.all([traced('inspect tag', inspectImage(target, tag)), leftovers]);
    state.previousLayers = held?.RootFS?.Layers ?? [];
    if (held) state.previousId = held.Id;
    loaderOf(state, target, opts);
  })() : undefined;
  engineReady?.catch(() => undefined); // awaited before the first load, or below
  // Each extension's layer starts as soon as its tcz is verified, while the other downloads run.
  const early = new EarlyLayers({ cache, epoch, log });
  const baseFile = settleable<CachedFile>();
  // Settled with the finished image once the build has it (or its failure), for a streamed load.
  let imageDone: Settleable<{ config: ImageConfig; layers: ArchiveLayer[] }> | undefined;
  // Partial images carry a label of their own, so none can be mistaken for (or be) a finished image.
  const partialRecipe = { ...recipe, image: { ...recipe.image, labels: { ...recipe.image?.labels, 'dbco.partial': 'true' } } };
  /** Starts loading the layers into the engine as they are written: the preload, or the one streamed load. */
  const startLoading = (pending: Promise<LayerBlob>[], ids: (i: number) => string, lockDigest: () => string): Promise<LayerBlob[]> => {
    const loader = loaderOf(state, target!, opts);
    if (preloadPays(target!.info)) {
      // As for the streamed load below: when every layer comes from the cache, nothing is preloaded.
      return anyWritten(pending).then((written) => (written
        ? loader.preload(pending, (ready) => buildImageConfig({
          recipe: partialRecipe, lockDigest: lockDigest(), epoch, layers: ready.map((b, i) => ({ id: ids(i), diffId: b.diffId })),
        })) as Promise<LayerBlob[]>
        : Promise.all(pending)));
    }
    // One load, sent as the layers are written; setup 'build' needs the layers in the engine first.
    // A failed build is reported by the build, whether or not a load was sent (settleable's promise is handled).
    imageDone = settleable();
    const image = imageDone.promise;
    // Nothing is sent until a layer is really written: when every one comes from the cache, the
    // engine may hold the image already, and a warm run only tags it (finish).
    state.streamed = anyWritten(pending).then((written) => (written ? loader.loadAsBuilt(pending, image, internalRef('load', '')) : undefined));
    state.streamed.catch(() => undefined); // awaited by finish(), or below when the build fails
    return Promise.all(pending);
  };
  const maxLayers = opts.maxLayers ?? recipe.image?.max_layers ?? DEFAULT_MAX_LAYERS;
  let earlyLoad: EarlyLoad | undefined;
  /**
   * The install order is known once the .dep walk is over, before the downloads are: the engine then
   * starts taking the base and each extension's layer as soon as it is written, while the rest are
   * still being fetched. Not when the layer budget would merge extensions (other layers), nor for setup
   * 'build' on engines where a load is a whole import (its container needs the whole stage loaded first;
   * dockerd's graph driver preloads the stage's layers as for any build).
   */
  const onOrder = (names: string[]): void => {
    if (!target || (setup === 'build' && !preloadPays(target.info)) || names.length > extensionRoom(maxLayers, setup)) return;
    trace(`order known: ${names.length} extension(s)`);
    const lower = early.tarsInOrder(baseFile.promise, names);
    const layers: Layer[] = [];
    lower.forEach((p, i) => p.then((t) => { layers[i] = t.layer; trace(`layer ${t.layer.id} written`); }, () => undefined));
    const config = settleable<LayerBlob>();
    const pending = [...lower.map((p) => p.then((t) => t.blob)), config.promise];
    let lockDigest = `sha256:${'0'.repeat(64)}`;
    const loaded = engineReady!.then(() => startLoading(pending, (i) => layers[i]?.id ?? 'config', () => lockDigest));
    loaded.catch(() => undefined); // awaited once the rootfs is assembled, or when the build fails
    earlyLoad = {
      names, lower, config, loaded,
      setLockDigest: (d) => { lockDigest = d; },
      abort: (err) => { early.fail(err); config.reject(err); baseFile.reject(err); },
    };
  };

  try {
    trace('prepare start');
    const inputs = await prepare(loaded, {
      mirror: opts.mirror, cache: cacheRoot, offline: opts.offline, frozen: opts.frozen, allowOutsideSrc: opts.allowOutsideSrc, kernel: false, log,
      ...(opts.sbom ? { info: true } : {}),
      onExtension: (ext) => { trace(`${ext.name} verified`); early.start(ext); },
      onBase: (file) => { trace('base verified'); early.startBase(file); baseFile.resolve(file); },
      onOrder,
    });
    // The release as resolved (`release: latest` is the mirror's answer by now): what the labels name.
    recipe = inputs.recipe;
    trace('prepared');
    const rootfs = await assembleRootfs(inputs, { cache, epoch, maxLayers, setup, log, startTars: true, early });

    const inputFor = (layers: ConfigLayer[]) => ({ recipe, lockDigest: inputs.lockDigest, epoch, layers });
    let built: LayerBlob[];
    if (earlyLoad) {
      const { lower, config, names } = earlyLoad;
      earlyLoad.setLockDigest(inputs.lockDigest);
      // Checked before waiting for the layers: a name of the early order that never came would never settle.
      const resolved = inputs.extensions.map((e) => e.name);
      if (resolved.length !== names.length || resolved.some((n, i) => n !== names[i])) {
        throw new DockerError(`internal: the install order loaded while fetching (${names.join(', ')}) is not the resolution's (${resolved.join(', ')})`);
      }
      // The layers sent are the ones the rootfs was assembled from (the same objects), config last.
      const sent = (await Promise.all(lower)).map((t) => t.layer);
      const image = rootfs.layers.slice(0, -1);
      if (sent.length !== image.length || sent.some((l, i) => l !== image[i])) {
        throw new DockerError(`internal: the layers loaded while fetching (${sent.map((l) => l.id).join(', ')}) are not the image's (${image.map((l) => l.id).join(', ')})`);
      }
      config.resolve(materializeLayer(rootfs.layers.at(-1)!, { cache, epoch }));
      await engineReady;
      built = await earlyLoad.loaded;
    } else {
      const cached = await Promise.all(rootfs.layers.map((layer) => cachedLayerBlob(layer, { cache, epoch })));
      await engineReady;
      if (cached.every((b) => b !== undefined)) {
        built = cached as LayerBlob[];
      } else {
        const pending = inOrder(rootfs.layers, PARALLEL_LAYERS, (layer) => materializeLayer(layer, { cache, epoch }));
        built = target && (preloadPays(target.info) || setup !== 'build')
          ? await startLoading(pending, (i) => rootfs.layers[i]!.id, () => inputs.lockDigest)
          : await Promise.all(pending);
      }
    }
    const blobs: ArchiveLayer[] = [...built];
    const rebuilt = built.map((b) => !b.reused);
    const configLayers: ConfigLayer[] = built.map((b, i) => ({ id: rootfs.layers[i]!.id, diffId: b.diffId }));
    const configInput = inputFor(configLayers);

    let setupRan = false;
    if (setup === 'build' && inputs.extensions.length > 0) {
      const stage = buildImageConfig(configInput);
      let setupBlob = await cachedSetupLayer(cache, stage.id);
      if (!setupBlob) {
        engine ??= await connectEngine().catch((err: unknown) => {
          throw new DockerError(`image.setup 'build' runs the setup scripts in a container, even with --output: ${(err as Error).message}. ` +
            "Without an engine, use image.setup: boot or none", { cause: err });
        });
        log.info(`running setup scripts of ${inputs.extensions.length} extension(s) in a container`);
        setupBlob = await setupInContainer(engine, loaderOf(state, engine, opts), stage, blobs, rootfs.layers,
          inputs.extensions.map((e) => e.name), epoch, log, cache, opts.onInterrupt);
        setupRan = true;
      }
      // 1024 bytes is a tar with no entries (the two end blocks): nothing changed, no layer to add.
      if (setupBlob.size > 1024) {
        blobs.push(setupBlob);
        rebuilt.push(setupRan);
        configLayers.push({ id: 'setup', diffId: setupBlob.diffId });
      }
    } else if (setup === 'none' && inputs.extensions.length > 0) {
      log.info("image.setup is 'none': the extensions' setup scripts (/usr/local/tce.installed/*) and ldconfig were not run");
    }

    const config = buildImageConfig({ ...configInput, setupWrapper: setup === 'boot' ? SETUP_WRAPPER_PATH : undefined });
    imageDone?.resolve({ config, layers: blobs });
    const layers = configLayers.map((l, i) => ({ ...l, size: blobs[i]!.size, rebuilt: rebuilt[i]! }));
    // Loaded on use: the CycloneDX library costs a few hundred ms of start-up that a build without --sbom need not pay.
    const sbom = opts.sbom ? (await import('../sbom.js')).sbomOfBuild(inputs, { kind: 'image', name: recipe.name, version: tag }, epoch) : undefined;
    return { recipe, inputs, tag, config, blobs, layers, setupRan, ...state, ...(engine ? { engine } : {}), ...(sbom ? { sbom } : {}) };
  } catch (err) {
    // A streamed load stops at the failure (its archive ends early, so the engine makes no image); it
    // must be over before the run's references are removed, and nothing started may go on writing.
    earlyLoad?.abort(err);
    imageDone?.reject(err);
    await early.settle();
    await earlyLoad?.loaded.catch(() => undefined);
    await state.streamed?.catch(() => undefined);
    await engineReady?.catch(() => undefined);
    await release(state as ArchBuild);
    throw err;
  }
}

async function setupInContainer(
  engine: Engine, loader: Loader, stage: ReturnType<typeof buildImageConfig>, blobs: ArchiveLayer[], layers: Layer[],
  extensions: string[], epoch: number, log: Logger, cache: Cache, onInterrupt: DockerImageOptions['onInterrupt'],
): Promise<ArchiveLayer> {
  // A reference of this run's own (a concurrent build of the same image must not untag ours); the
  // loader removes it at the end, after the final load that leaves out the layers it holds.
  const ref = internalRef('setup', stage.id.slice(7, 19));
  // Large changed files wait here between the container export and the layer tar.
  const spoolDir = await tempFolder(cache.tmpDir, 'setup');
  try {
    await loader.hold(stage, blobs, ref);
    const layer = await runSetup(engine, ref, {
      lower: flattenLayers(layers), extensions, epoch, cacheKey: `setup:${stage.id}`, spoolDir, log, track: onInterrupt,
    });
    log.info(`setup changed ${layer.entries.length} path(s), removed ${layer.whiteouts?.length ?? 0}`);
    return await storeSetupLayer(cache, stage.id, layer, epoch);
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

/** A load started as soon as the install order was known (onOrder in buildArch). */
interface EarlyLoad {
  /** Base and extension layers, in image order, each with its tar once written. */
  /** The extensions' install order it was started with. */
  names: string[];
  lower: Promise<{ layer: Layer; blob: LayerBlob }>[];
  /** The config layer's tar: the last one, settled once the rootfs is assembled. */
  config: Settleable<LayerBlob>;
  /** Every layer's tar, once the engine has taken them (preload) or as written (streamed load). */
  loaded: Promise<LayerBlob[]>;
  /** The lock digest, known once prepare is over: what the partial images' labels carry from then on. */
  setLockDigest(digest: string): void;
  /** The build failed: fails what still waits, so the load ends without an image. */
  abort(err: unknown): void;
}

/** true as soon as one of the layers is written this run (not taken from the cache); false when none is. */
function anyWritten(pending: Promise<LayerBlob>[]): Promise<boolean> {
  return new Promise((resolve) => {
    for (const p of pending) p.then((b) => { if (!b.reused) resolve(true); }, () => resolve(false));
    void Promise.allSettled(pending).then(() => resolve(false));
  });
}

/** fn over items, at most `limit` at once, started in order; one promise per item, in item order. */
function inOrder<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  let next = 0;
  const slots = items.map(() => {
    let settle!: { resolve: (r: R) => void; reject: (e: unknown) => void };
    const promise = new Promise<R>((resolve, reject) => { settle = { resolve, reject }; });
    promise.catch(() => undefined); // a failure is reported through whoever awaits it, not as unhandled
    return { promise, settle };
  });
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        slots[i]!.settle.resolve(await fn(items[i]!));
      } catch (err) {
        slots[i]!.settle.reject(err);
        // The build is lost: start nothing more, and fail what was never started with the same cause.
        while (next < items.length) slots[next++]!.settle.reject(err);
      }
    }
  };
  for (let w = 0; w < Math.min(limit, items.length); w++) void worker();
  return slots.map((s) => s.promise);
}
