import type { Command } from 'commander';
import { DbcoError, RecipeError } from '../errors.js';
import { setupOf } from '../recipe/defaults.js';
import { loadRecipe } from '../recipe/load.js';
import { resultTable, type CheckResult } from '../outputs/checks/evaluate.js';
import { buildOptions, memoryOption } from './flags.js';
import { stderrLogger } from './log.js';

interface TestOptions {
  docker?: boolean;
  disk?: boolean;
  from?: string;
  output?: string;
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  memory?: number;
  quiet?: boolean;
}

/** `dbco test RECIPE --docker|--disk`: the recipe's checks against what it builds; a pass/fail table on stdout. */
export function registerTest(program: Command): void {
  const cmd = program
    .command('test')
    .description("build the image (--docker) or the disk (--disk) and run the recipe's checks in it")
    .argument('<recipe>', 'recipe YAML file')
    .option('--docker', 'run the checks in containers of the image (built and loaded as dbco image --docker does)')
    .option('--disk', 'boot the disk in QEMU and run the checks in the guest, as root')
    .option('--from <file>', '--disk: test this disk instead of building it')
    .option('-o, --output <file>', '--disk: where the built disk goes (as dbco image --disk -o)');
  memoryOption(buildOptions(cmd), '--disk: guest')
    .action(async (recipePath: string, opts: TestOptions) => {
      if (Boolean(opts.docker) === Boolean(opts.disk)) throw new DbcoError('USAGE', 'test: give exactly one of --docker or --disk');
      const log = stderrLogger(opts.quiet);
      const { recipe, path: file } = await loadRecipe(recipePath);
      const checks = recipe.checks ?? [];
      if (checks.length === 0) throw new RecipeError(file, 'checks', 'no checks to run: add checks (run, and stdout, stdout_matches or exit)');
      const common = { mirror: opts.mirror, cache: opts.cache, offline: opts.offline, frozen: opts.frozen };
      let results: CheckResult[];
      if (opts.docker) {
        const { runDockerChecks } = await import('../outputs/docker/run-checks.js');
        results = await runDockerChecks(recipePath, checks, { ...common, log, setup: setupOf(recipe) });
      } else {
        let disk = opts.from;
        if (!disk) {
          const { runDiskImage } = await import('../outputs/disk/index.js');
          disk = (await runDiskImage(recipePath, { ...common, output: opts.output, memory: opts.memory, log })).output;
        }
        const { runDiskChecks } = await import('../outputs/disk/run-checks.js');
        results = await runDiskChecks(disk, checks, { arch: recipe.arch, memoryMiB: opts.memory, log });
      }
      process.stdout.write(resultTable(results));
      if (results.some((r) => !r.pass)) process.exitCode = 1;
    });
}
