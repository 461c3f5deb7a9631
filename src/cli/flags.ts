import { statSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { UsageError } from '../errors.js';

/**
 * The flags several commands share, written once so each reads the same everywhere: one
 * `--mirror <url|dir>`, one `--cache <dir>`, one `-q`, one unit for `--memory`.
 */
export function mirrorOption(cmd: Command): Command {
  return cmd.option('--mirror <url|dir>', 'TC mirror URL or folder (default: $DBCO_MIRROR, else the recipe\'s mirror, else http://tinycorelinux.net)');
}

export function cacheOption(cmd: Command): Command {
  return cmd.option('--cache <dir>', 'cache folder (default: $DBCO_CACHE, else ./cache)');
}

export function quietOption(cmd: Command): Command {
  return cmd.option('-q, --quiet', 'print only the result on stdout and warnings/errors on stderr');
}

export function offlineOption(cmd: Command): Command {
  return cmd.option('--offline', 'use only the cache and the lock; fail naming what is missing');
}

export function frozenOption(cmd: Command): Command {
  return cmd.option('--frozen', 'refuse a resolution that differs from the lock file');
}

/** --platform: one arch of a multi-arch recipe (src/recipe/arch.ts). */
export function platformOption(cmd: Command, what: string): Command {
  return cmd.option('--platform <os/arch>', `linux/386 or linux/amd64: ${what}`);
}

/** --mirror, --cache, --offline, --frozen, -q: what every build command takes. */
export function buildOptions(cmd: Command): Command {
  return quietOption(frozenOption(offlineOption(cacheOption(mirrorOption(cmd)))));
}

export function allowOutsideSrcOption(cmd: Command): Command {
  return cmd.option('--allow-outside-src', 'let files[].src read host files outside the recipe\'s folder (refused by default)');
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

/** Guest memory, in MiB everywhere (`dbco boot`, `dbco image --disk`). */
export function parseMemoryMiB(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 16) throw new InvalidArgumentError('expected MiB, at least 16');
  return Number(value);
}

export function memoryOption(cmd: Command, what: string, dflt?: number): Command {
  return cmd.option('--memory <mib>', `${what} memory in MiB${dflt ? ` (default ${dflt})` : ''}`, parseMemoryMiB, dflt);
}

function kindOf(p: string): 'dir' | 'other' | 'missing' {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

function checkFileToWrite(flag: string, out: string, example: string): void {
  if (kindOf(out) === 'dir') throw new UsageError(`${flag} ${out}: is a folder; give the file to write, e.g. ${path.join(out, example)}`);
  const parent = path.dirname(path.resolve(out));
  const pk = kindOf(parent);
  if (pk === 'missing') throw new UsageError(`${flag} ${out}: folder ${parent} does not exist (dbco does not create it)`);
  if (pk !== 'dir') throw new UsageError(`${flag} ${out}: ${parent} is not a folder`);
}

/**
 * Checked before a command does any work, so a wrong path is one clear line rather than a failure
 * deep in a build: `-o` (and `--sbom`) names a file whose folder exists (dbco never creates parents: a typo would
 * otherwise scatter folders), and the cache, when it exists, is a folder.
 */
export function checkPaths(opts: { output?: unknown; cache?: unknown; sbom?: unknown }, env: NodeJS.ProcessEnv = process.env): void {
  if (typeof opts.output === 'string') checkFileToWrite('-o', opts.output, 'out.tar');
  if (typeof opts.sbom === 'string') checkFileToWrite('--sbom', opts.sbom, 'sbom.cdx.json');
  const cache = typeof opts.cache === 'string' ? opts.cache : env.DBCO_CACHE;
  if (cache && kindOf(cache) === 'other') {
    throw new UsageError(`${typeof opts.cache === 'string' ? '--cache' : 'DBCO_CACHE'} ${cache}: is a file, not a folder`);
  }
}
