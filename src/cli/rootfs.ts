import type { Command } from 'commander';
import { DbcoError } from '../errors.js';
import { Cache, defaultCacheDir } from '../cache/index.js';
import { prepare } from '../pipeline/prepare.js';
import { archOfPlatform } from '../recipe/arch.js';
import { assembleRootfs } from '../rootfs/assemble.js';
import { flattenLayers } from '../rootfs/flatten.js';
import { buildEpoch } from '../rootfs/epoch.js';
import { writeTar } from '../formats/tar/index.js';
import { writeStreamAtomic } from '../outputs/docker/stream-file.js';
import { stderrLogger } from './log.js';
import { setupOf } from '../recipe/defaults.js';
import { allowOutsideSrcOption, buildOptions, platformOption } from './flags.js';

interface RootfsOptions {
  output: string;
  layer?: string;
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  quiet?: boolean;
  allowOutsideSrc?: boolean;
  platform?: string;
}

/**
 * `dbco rootfs RECIPE -o FILE.tar [--layer ID]`: the assembled tree (or one layer of it) as a plain
 * tar, e.g. for `docker build` with Dockerfile.base or for inspection.
 */
export function registerRootfs(program: Command): void {
  const cmd = program
    .command('rootfs')
    .description('write the assembled rootfs (or one layer of it) as a plain tar')
    .argument('<recipe>', 'recipe YAML file')
    .requiredOption('-o, --output <file>', 'tar file to write')
    .option('--layer <id>', 'only this layer (base, ext:NAME.tcz, config); whiteouts stay as .wh. entries');
  platformOption(allowOutsideSrcOption(buildOptions(cmd)), 'the arch of a multi-arch recipe to write')
    .action(async (recipePath: string, opts: RootfsOptions) => {
      const log = stderrLogger(opts.quiet);
      const cacheRoot = opts.cache ?? defaultCacheDir();
      const cache = new Cache(cacheRoot);
      const inputs = await prepare(recipePath, {
        mirror: opts.mirror, cache: cacheRoot, offline: opts.offline, frozen: opts.frozen, allowOutsideSrc: opts.allowOutsideSrc, kernel: false, log,
        ...(opts.platform ? { arch: archOfPlatform(opts.platform) } : {}),
      });
      const epoch = buildEpoch();
      const rootfs = await assembleRootfs(inputs, { cache, epoch, setup: setupOf(inputs.recipe), log });
      let tar;
      if (opts.layer) {
        const layer = rootfs.layers.find((l) => l.id === opts.layer);
        if (!layer) {
          throw new DbcoError('USAGE', `rootfs: --layer ${opts.layer}: no such layer; the layers are ${rootfs.layers.map((l) => l.id).join(', ')}`);
        }
        tar = writeTar(layer.entries, { mtime: epoch, whiteouts: layer.whiteouts });
      } else {
        tar = writeTar(flattenLayers(rootfs.layers), { mtime: epoch });
      }
      const { size } = await writeStreamAtomic(tar, opts.output);
      log.info(`wrote ${opts.output} (${size} bytes)`);
    });
}
