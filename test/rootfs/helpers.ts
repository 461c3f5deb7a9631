import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Entry } from '../../src/formats/entry.js';
import type { CachedFile } from '../../src/cache/cached-file.js';
import type { PreparedExtension, PreparedInputs } from '../../src/resolve/prepared.js';
import type { Recipe } from '../../src/recipe/schema.js';
import { requireTool, sharedMirror } from '../helpers/env.js';
import type { TreeOptions } from '../helpers/tree.js';

export const BASE64 = (): string => path.join(sharedMirror(), '6.x/x86_64/release/distribution_files/rootfs64.gz');
export const TCZ14 = (name: string): string => path.join(sharedMirror(), '14.x/x86_64/tcz', name);

/**
 * A mirror folder under `dir` holding the real 6.4.1 rootfs64.gz and the 14.x iproute2 chain (iproute2 ->
 * db -> libdb) in 6.x's tcz folder: a small recipe with real dependencies, resolved without a server.
 */
export function iproute2Mirror(dir: string): string {
  const mirror = path.join(dir, 'mirror');
  const rel = '6.x/x86_64/release/distribution_files';
  mkdirSync(path.join(mirror, rel), { recursive: true });
  for (const f of ['rootfs64.gz', 'rootfs64.gz.md5.txt']) copyFileSync(path.join(sharedMirror(), rel, f), path.join(mirror, rel, f));
  const src14 = path.join(sharedMirror(), '14.x/x86_64/tcz');
  mkdirSync(path.join(mirror, '6.x/x86_64/tcz'), { recursive: true });
  for (const f of readdirSync(src14).filter((n) => /^(iproute2|db|libdb)\.tcz/.test(n))) copyFileSync(path.join(src14, f), path.join(mirror, '6.x/x86_64/tcz', f));
  return mirror;
}

export function cachedFile(file: string): CachedFile {
  return { path: file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex'), size: statSync(file).size, origin: file };
}

export function extension(file: string, name = path.basename(file)): PreparedExtension {
  return { name, file: cachedFile(file), deps: [] };
}

export function inputs(opts: { base?: string; extensions?: PreparedExtension[]; recipe?: Partial<Recipe>; recipeDir?: string }): PreparedInputs {
  const recipe: Recipe = { name: 'test', release: '6.4.1', arch: 'x86_64', base: 'rootfs64.gz', ...opts.recipe };
  const recipeDir = opts.recipeDir ?? '/nonexistent-recipe-dir';
  return {
    recipe,
    recipePath: path.join(recipeDir, 'recipe.yaml'),
    recipeDir,
    recipeDigest: '0'.repeat(64),
    lockDigest: '0'.repeat(64),
    base: cachedFile(opts.base ?? BASE64()),
    extensions: opts.extensions ?? [],
  };
}

/** A rootfs promises content, modes and owners (not mtimes or link groups); Linux reads every symlink back as 0777. */
export const ROOTFS_TREE: TreeOptions = { symlinkMode: 0o777 };

export async function textOf(e: Entry | undefined): Promise<string> {
  if (!e?.open) throw new Error(`no file ${e?.path}`);
  const parts: Buffer[] = [];
  for await (const c of e.open()) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}

/** Builds a tcz from a staged folder with the real mksquashfs (gzip, 4 KiB blocks as TC does). */
export function mksquashfs(stage: string, out: string, extra: string[] = []): string {
  requireTool('mksquashfs');
  execFileSync('mksquashfs', [stage, out, '-noappend', '-no-progress', '-b', '4096', ...extra], { stdio: 'pipe' });
  return out;
}

export function gunzipCpioInto(gz: string, dir: string): void {
  requireTool('cpio');
  execFileSync('sh', ['-c', 'gzip -dc "$1" | cpio -idm --quiet --no-absolute-filenames', 'sh', gz], { cwd: dir, stdio: 'pipe' });
}
