import type { Command } from 'commander';
import type { SourceOptions } from '../resolve/prepared.js';
import { openSession, resolveSession } from '../resolve/session.js';
import { fetchSession } from '../pipeline/fetch.js';
import { extensionDifferences, lockMatchesRecipe, writeLock } from '../resolve/lock.js';
import { OfflineError } from '../errors.js';
import { formatTree } from '../resolve/tree.js';
import { stderrLogger } from './log.js';
import { buildOptions } from './flags.js';

interface CommonFlags {
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  quiet?: boolean;
}

function withCommon(cmd: Command): Command {
  return buildOptions(cmd);
}

function sourceOptions(f: CommonFlags): SourceOptions {
  return {
    ...(f.mirror ? { mirror: f.mirror } : {}),
    ...(f.cache ? { cache: f.cache } : {}),
    offline: Boolean(f.offline),
    frozen: Boolean(f.frozen),
    log: stderrLogger(Boolean(f.quiet)),
  };
}

/** `dbco resolve`, `dbco fetch`, `dbco lock`. */
export function registerSources(program: Command): void {
  withCommon(program.command('resolve <recipe>'))
    .description('list the extensions a recipe installs, dependencies first (as tce-load orders them)')
    .option('--json', 'JSON: [{name, deps}] in install order')
    .option('--tree', 'the dependency tree')
    .action(async (recipe: string, f: CommonFlags & { json?: boolean; tree?: boolean }) => {
      const s = await openSession(recipe, sourceOptions(f));
      if (f.offline && s.lock && lockMatchesRecipe(s.lock, s.loaded) && !f.tree) {
        // Offline with a current lock: the lock is the answer.
        print(s.lock.extensions.map((e) => ({ name: e.name, deps: e.deps })), Boolean(f.json));
        await s.close();
        return;
      }
      const run = await resolveSession(s).finally(() => s.close());
      if (f.frozen && s.lock) {
        const diffs = extensionDifferences(s.lock.extensions, run.resolution.extensions);
        if (diffs.length > 0) throw new OfflineError(`--frozen: the resolution differs from ${s.lockPath}:\n  ${diffs.join('\n  ')}`);
      }
      if (f.tree) process.stdout.write(formatTree(run.resolution, s.recipe.name));
      else print(run.resolution.extensions, Boolean(f.json));
    });

  withCommon(program.command('fetch <recipe>'))
    .description('download and verify the base, kernel and every resolved extension into the cache')
    .action(async (recipe: string, f: CommonFlags) => {
      const opts = sourceOptions(f);
      const s = await openSession(recipe, opts);
      const { inputs } = await fetchSession(s).finally(() => s.close());
      const bytes = inputs.extensions.reduce((n, e) => n + e.file.size, inputs.base.size + (inputs.kernel?.size ?? 0));
      opts.log!.info(`fetched ${inputs.extensions.length} extensions, base${inputs.kernel ? ', kernel' : ''}: ${bytes} bytes in ${s.cache.root}`);
    });

  withCommon(program.command('lock <recipe>'))
    .description('resolve and fetch, then write <recipe>.lock.json next to the recipe (sha256 of every file)')
    .action(async (recipe: string, f: CommonFlags) => {
      const opts = sourceOptions(f);
      const s = await openSession(recipe, opts);
      const { lock } = await fetchSession(s).finally(() => s.close());
      await writeLock(s.lockPath, lock);
      opts.log!.info(`wrote ${s.lockPath} (${lock.extensions.length} extensions)`);
    });
}

function print(exts: { name: string; deps: string[] }[], json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(exts.map((e) => ({ name: e.name, deps: e.deps })), null, 2)}\n`);
  else process.stdout.write(exts.map((e) => `${e.name}\n`).join(''));
}
