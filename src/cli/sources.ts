import type { Command } from 'commander';
import type { SourceOptions } from '../resolve/prepared.js';
import { openSession, resolveSession } from '../resolve/session.js';
import { fetchSession } from '../pipeline/fetch.js';
import { extensionDifferences, lockMatchesRecipe, writeLock } from '../resolve/lock.js';
import { OfflineError } from '../errors.js';
import { formatTree } from '../resolve/tree.js';
import { stderrLogger } from './log.js';
import { buildOptions, platformOption } from './flags.js';
import { loadRecipeDocument } from '../recipe/load.js';
import { defaultCacheDir } from '../cache/index.js';
import { archesOf, archOfPlatform, PLATFORM } from '../recipe/arch.js';
import type { Arch } from '../recipe/schema.js';

interface CommonFlags {
  mirror?: string;
  cache?: string;
  offline?: boolean;
  frozen?: boolean;
  quiet?: boolean;
  platform?: string;
}

function withCommon(cmd: Command): Command {
  return platformOption(buildOptions(cmd), 'one arch of a multi-arch recipe (default: each in turn)');
}

/**
 * The arches a command runs for: the one --platform names, else each arch of a multi-arch recipe in
 * turn (each resolves against its own mirror folder and has its own lock), else the recipe's one
 * (undefined: the single-arch path, unchanged).
 */
async function archRuns(recipe: string, f: CommonFlags): Promise<(Arch | undefined)[]> {
  if (f.platform) return [archOfPlatform(f.platform)];
  // Through the cache's record of validated recipes: a warm run still never loads the YAML parser.
  const { document } = await loadRecipeDocument(recipe, { cacheRoot: f.cache ?? defaultCacheDir() });
  const arches = archesOf(document);
  return arches.length > 1 ? arches : [undefined];
}

function withArch(opts: SourceOptions, arch: Arch | undefined): SourceOptions {
  return arch ? { ...opts, arch } : opts;
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
      const runs = await archRuns(recipe, f);
      if (runs.length > 1 && f.json) {
        // One JSON document: { "x86": [...], "x86_64": [...] }.
        const all: Record<string, { name: string; deps: string[] }[]> = {};
        for (const arch of runs) all[arch!] = await resolveOne(recipe, withArch(sourceOptions(f), arch), f);
        process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      for (const arch of runs) {
        if (runs.length > 1) process.stdout.write(`# ${PLATFORM[arch!]}\n`);
        const exts = await resolveOne(recipe, withArch(sourceOptions(f), arch), f);
        if (!f.tree) print(exts, Boolean(f.json));
      }
    });

  withCommon(program.command('fetch <recipe>'))
    .description('download and verify the base, kernel and every resolved extension into the cache')
    .action(async (recipe: string, f: CommonFlags) => {
      for (const arch of await archRuns(recipe, f)) {
        // The .tcz.info answers too: a later `dbco image --offline --sbom` reads them from the cache. An
        // --offline fetch only checks what the cache holds; .info is not part of that.
        const opts = { ...withArch(sourceOptions(f), arch), info: !f.offline };
        const s = await openSession(recipe, opts);
        const { inputs } = await fetchSession(s).finally(() => s.close());
        const bytes = inputs.extensions.reduce((n, e) => n + e.file.size, inputs.base.size + (inputs.kernel?.size ?? 0));
        opts.log!.info(`fetched ${arch ? `${arch}: ` : ''}${inputs.extensions.length} extensions, base${inputs.kernel ? ', kernel' : ''}: ${bytes} bytes in ${s.cache.root}`);
      }
    });

  withCommon(program.command('lock <recipe>'))
    .description('resolve and fetch, then write <recipe>.lock.json next to the recipe (sha256 of every file)')
    .action(async (recipe: string, f: CommonFlags) => {
      for (const arch of await archRuns(recipe, f)) {
        const opts = withArch(sourceOptions(f), arch);
        const s = await openSession(recipe, opts);
        const { lock } = await fetchSession(s).finally(() => s.close());
        await writeLock(s.lockPath, lock);
        opts.log!.info(`wrote ${s.lockPath} (${lock.extensions.length} extensions)`);
      }
    });
}

/** One arch's resolution; prints the tree itself (it needs the session) and returns [] then. */
async function resolveOne(recipe: string, opts: SourceOptions, f: CommonFlags & { tree?: boolean }): Promise<{ name: string; deps: string[] }[]> {
  const s = await openSession(recipe, opts);
  if (f.offline && s.lock && lockMatchesRecipe(s.lock, s.loaded) && !f.tree) {
    // Offline with a current lock: the lock is the answer.
    await s.close();
    return s.lock.extensions.map((e) => ({ name: e.name, deps: e.deps }));
  }
  const run = await resolveSession(s).finally(() => s.close());
  if (f.frozen && s.lock) {
    const diffs = extensionDifferences(s.lock.extensions, run.resolution.extensions);
    if (diffs.length > 0) throw new OfflineError(`--frozen: the resolution differs from ${s.lockPath}:\n  ${diffs.join('\n  ')}`);
  }
  if (f.tree) {
    process.stdout.write(formatTree(run.resolution, s.recipe.name));
    return [];
  }
  return run.resolution.extensions.map((e) => ({ name: e.name, deps: e.deps }));
}

function print(exts: { name: string; deps: string[] }[], json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(exts.map((e) => ({ name: e.name, deps: e.deps })), null, 2)}\n`);
  else process.stdout.write(exts.map((e) => `${e.name}\n`).join(''));
}
