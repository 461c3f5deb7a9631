import type { Command } from 'commander';
import { allowOutsideSrcOption, buildOptions, memoryOption, parsePositiveInt, platformOption } from './flags.js';
import { DbcoError, UsageError } from '../errors.js';
import { imageReferenceProblem } from '../recipe/image-ref.js';
import type { DockerImageOptions } from '../outputs/docker/build.js';
import { stderrLogger } from './log.js';
import { registerRootfs } from './rootfs.js';
import { pushOption, type PushCommandOptions } from './push.js';

/** Options shared by --docker and --disk; the disk output reads its own extras from the same object. */
export interface ImageCommandOptions extends Omit<DockerImageOptions, 'log' | 'sbom'>, Omit<PushCommandOptions, 'cache'> {
  docker?: boolean;
  disk?: boolean;
  format?: 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'vhdx' | 'ova';
  subformat?: 'streamOptimized' | 'monolithicSparse' | 'fixed' | 'dynamic';
  packerTemplateOnly?: boolean;
  packer?: boolean;
  buildDir?: string;
  memory?: number;
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  /** --sbom FILE: the CycloneDX SBOM (one per platform: FILE.<arch>.json beside it). */
  sbom?: string;
}

export function registerImage(program: Command): void {
  const cmd = program
    .command('image')
    .description('build a Docker image (--docker) or a bootable disk (--disk) from a recipe')
    .argument('<recipe>', 'recipe YAML file')
    .option('--docker', 'build a Docker image: load it into the engine, or write it with --output')
    .option('--disk', 'build a GRUB-bootable disk image')
    .option('-t, --tag <ref>', 'image reference (default: image.tag, else <name>:latest)')
    .option('-o, --output <file>', '--docker: write the image archive (docker load / OCI layout) here instead of loading it; --disk: the disk file')
    .option('--max-layers <n>', 'most layers the image may have (default: image.max_layers, else 100)', parsePositiveInt)
    .option('--format <fmt>', '--disk: raw, qcow2, vmdk, vhd, vhdx or ova (default: the -o extension, else disk.format, else raw)')
    .option('--subformat <sub>', '--disk: vmdk streamOptimized (default) or monolithicSparse; vhd dynamic (default) or fixed')
    .option('--packer-template-only', '--disk: write the Packer template and stop')
    .option('--no-packer', '--disk: host-side assembly only, no VM stage')
    .option('--build-dir <dir>', '--disk: folder for the Packer template, logs and intermediate disks')
    .option('--sbom <file>', 'write the CycloneDX 1.6 SBOM here (a multi-arch build: one per arch, <file> with the arch before its extension); --output and --push then carry it as an OCI artifact of the image')
    .option('-v, --verbose', "--disk: show Packer's output as it runs (always written to <build dir>/packer.log)")
    .option('--json', '--docker/--push: print the result as JSON (engine, image ID, config and manifest digests, tag, layers, pushed digests)');
  platformOption(pushOption(allowOutsideSrcOption(memoryOption(buildOptions(cmd), '--disk: VM'))), 'the one arch of a multi-arch recipe to build (default: --output and --push take all in one index, loading takes the host\'s)')
    .action(async (recipePath: string, opts: ImageCommandOptions) => {
      const tagProblem = opts.tag === undefined ? null : imageReferenceProblem(opts.tag);
      if (tagProblem) throw new UsageError(`--tag ${tagProblem}`);
      const pushing = Boolean(opts.push?.length);
      if (opts.disk ? opts.docker || pushing : !opts.docker && !pushing) {
        throw new DbcoError('USAGE', 'image: give exactly one of --docker (or --push) or --disk');
      }
      // --disk belongs to the disk output (src/outputs/disk); this command only dispatches to it.
      if (opts.disk) {
        const formats = ['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'ova'];
        if (opts.format && !formats.includes(opts.format)) {
          throw new UsageError(`image: --format ${opts.format}: expected one of ${formats.join(', ')}`);
        }
        const subformats = ['streamOptimized', 'monolithicSparse', 'fixed', 'dynamic'];
        if (opts.subformat && !subformats.includes(opts.subformat)) {
          throw new UsageError(`image: --subformat ${opts.subformat}: expected one of ${subformats.join(', ')}`);
        }
        // The disk output prints its own result (the disk path) on stdout.
        await (await import('../outputs/disk/index.js')).runDiskImage(recipePath, opts);
        return;
      }
      const log = stderrLogger(opts.quiet);
      const started = Date.now();
      // Loaded on use: a warm `dbco resolve` must not pay for the engine client and the image builder.
      const { runDockerImage } = await import('../outputs/docker/build.js');
      const { connectRegistries, pushRefs, pushedLines } = await import('./push.js');
      const connected = pushing ? await connectRegistries(opts.push!, opts, log) : undefined;
      const result = await runDockerImage(recipePath, {
        tag: opts.tag, output: opts.output, mirror: opts.mirror, cache: opts.cache,
        offline: opts.offline, frozen: opts.frozen, maxLayers: opts.maxLayers, allowOutsideSrc: opts.allowOutsideSrc, log,
        load: opts.docker ? undefined : false,
        ...(opts.platform ? { platform: opts.platform } : {}),
        ...(pushing ? { allPlatforms: true } : {}),
        ...(opts.sbom ? { sbom: true } : {}),
      }).catch((err: unknown) => {
        for (const c of connected?.values() ?? []) c.close();
        throw err;
      });
      if (result.platforms.length > 1) {
        for (const p of result.platforms) log.info(`${p.platform}: image ${p.id}, manifest ${p.manifestDigest}`);
      }
      const rebuilt = result.layers.filter((l) => l.rebuilt).map((l) => l.id);
      log.info(`${result.layers.length} layer(s): ${result.layers.map((l) => l.id).join(', ')}`);
      log.info(`rebuilt: ${rebuilt.length ? rebuilt.join(', ') : 'none (all layers from the cache)'}`);
      if (opts.output) {
        log.info(`wrote ${opts.output} in ${((Date.now() - started) / 1000).toFixed(1)} s (docker load -i ${opts.output})`);
      } else if (result.engine) {
        const { describeEngine } = await import('../outputs/docker/engine-info.js');
        const engine = `${describeEngine(result.engine)} at ${result.engine.where}`;
        log.info(result.alreadyLoaded ? `${engine} already had this image: tagged only` : `loaded into ${engine}`);
      }
      const sbomFiles = result.sboms && opts.sbom
        ? await (await import('../outputs/sbom.js')).writeSbomFiles(opts.sbom, result.sboms)
        : [];
      for (const f of sbomFiles) log.info(`wrote the SBOM ${f}`);
      // --push reads the image from the cached layers: the same layout --output writes, no archive needed.
      const { layoutFromBuild } = await import('../outputs/oci/layout.js');
      const pushed = pushing ? await pushRefs(layoutFromBuild(result.archive), opts.push!, opts, log, connected) : [];
      if (opts.json) {
        const { archive: _archive, sboms, ...rest } = result;
        // The artifact exists only where something carries it: the archive, or a registry that took it
        // (one that refuses OCI manifests gets the image as Docker schema 2 and no SBOM artifact).
        const carried = (digest: string): boolean => Boolean(opts.output) || pushed.some((p) => p.referrers.some((r) => r.digest === digest));
        const sbom = (sboms ?? []).map((s, i) => ({ platform: s.platform, file: sbomFiles[i], ...(carried(s.artifactDigest) ? { artifactDigest: s.artifactDigest } : {}) }));
        process.stdout.write(`${JSON.stringify({ ...rest, engine: rest.engine ?? null, pushed, ...(sbom.length ? { sbom } : {}) }, null, 2)}\n`);
      } else {
        process.stdout.write(`${result.id}\n${result.tag}\n${pushedLines(pushed)}`);
      }
    });
  registerRootfs(program);
}
