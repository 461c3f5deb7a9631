import { Command, InvalidArgumentError } from 'commander';
import { DbcoError } from '../errors.js';
import { runDockerImage } from '../outputs/docker/build.js';
import { stderrLogger } from './log.js';
import { registerRootfs } from './rootfs.js';

/** Options shared by --docker and --disk; the disk output reads its own extras from the same object. */
export interface ImageCommandOptions {
  docker?: boolean;
  disk?: boolean;
  tag?: string;
  output?: string;
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  maxLayers?: number;
  format?: 'raw' | 'qcow2';
  packerTemplateOnly?: boolean;
  quiet?: boolean;
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

export function registerImage(program: Command): void {
  program
    .command('image')
    .description('build a Docker image (--docker) or a bootable disk (--disk) from a recipe')
    .argument('<recipe>', 'recipe YAML file')
    .option('--docker', 'build a Docker image: load it into the engine, or write it with --output')
    .option('--disk', 'build a GRUB-bootable disk image')
    .option('-t, --tag <ref>', 'image reference (default: image.tag, else <name>:latest)')
    .option('-o, --output <file>', '--docker: write the image archive (docker load / OCI layout) here instead of loading it; --disk: the disk file')
    .option('--mirror <url>', 'TC mirror URL or folder (overrides the recipe)')
    .option('--cache <dir>', 'cache folder (default: DBCO_CACHE, else ./cache)')
    .option('--offline', 'use only the cache; fail if something is missing')
    .option('--frozen', 'fail unless the lock file matches the recipe exactly')
    .option('--max-layers <n>', 'most layers the image may have (default: image.max_layers, else 100)', parsePositiveInt)
    .option('--format <fmt>', '--disk: raw or qcow2')
    .option('--packer-template-only', '--disk: write the Packer template and stop')
    .option('-q, --quiet', 'print only the result')
    .action(async (recipePath: string, opts: ImageCommandOptions) => {
      if (Boolean(opts.docker) === Boolean(opts.disk)) {
        throw new DbcoError('USAGE', 'image: give exactly one of --docker or --disk');
      }
      // --disk belongs to the disk output (src/outputs/disk); this command only dispatches to it.
      if (opts.disk) {
        const diskModule = '../outputs/disk/index.js';
        const disk = (await import(diskModule)) as { runDiskImage(recipePath: string, opts: ImageCommandOptions): Promise<unknown> };
        await disk.runDiskImage(recipePath, opts);
        return;
      }
      const log = stderrLogger(opts.quiet);
      const started = Date.now();
      const result = await runDockerImage(recipePath, {
        tag: opts.tag, output: opts.output, mirror: opts.mirror, cache: opts.cache,
        offline: opts.offline, frozen: opts.frozen, maxLayers: opts.maxLayers, log,
      });
      log.info(`${result.layers.length} layer(s): ${result.layers.map((l) => l.id).join(', ')}`);
      if (opts.output) {
        log.info(`wrote ${opts.output} in ${((Date.now() - started) / 1000).toFixed(1)} s (docker load -i ${opts.output})`);
      } else if (result.alreadyLoaded) {
        log.info('the engine already had this image: tagged only');
      }
      process.stdout.write(`${result.id}\n${result.tag}\n`);
    });
  registerRootfs(program);
}
