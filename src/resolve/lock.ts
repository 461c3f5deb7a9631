import { canonicalJson, sha256Hex } from '../canonical-json.js';
import { writeFileAtomic } from '../cache/atomic.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DbcoError } from '../errors.js';

export const LOCK_VERSION = 1;

export interface LockedFile {
  /** Mirror-relative path (e.g. 7.x/x86/tcz/curl.tcz), or the recipe-relative path of a local file. */
  path: string;
  url: string;
  size: number;
  md5: string;
  sha256: string;
}

export interface LockedExtension extends LockedFile {
  name: string;
  deps: string[];
}

export interface Lock {
  version: number;
  /**
   * `digest`: sha256 of the parsed recipe's canonical JSON, so a comment or layout edit is no change
   * (locks written before held the file bytes' sha256; both are accepted). `fields`: the same per
   * top-level field, so --frozen can say which fields changed.
   */
  recipe: { name: string; digest: string; fields?: Record<string, string> };
  release: string;
  arch: string;
  base: LockedFile & { iso?: { path: string; sha256: string } };
  kernel?: LockedFile;
  kernelVersion?: string;
  /** In install order. */
  extensions: LockedExtension[];
}

/** What the lock records of the recipe: its content's digest and each top-level field's. */
export function recipeDigests(recipe: object): { digest: string; fields: Record<string, string> } {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(recipe)) if (v !== undefined) fields[k] = sha256Hex(canonicalJson(v));
  return { digest: sha256Hex(canonicalJson(recipe)), fields };
}

/** True when the lock was made from this recipe's content (or, for an older lock, these bytes). */
export function lockMatchesRecipe(lock: Lock, loaded: { recipe: object; digest: string }): boolean {
  return lock.recipe.digest === recipeDigests(loaded.recipe).digest || lock.recipe.digest === loaded.digest;
}

/** The recipe fields that differ from what the lock recorded, for a readable --frozen message. */
export function recipeFieldChanges(lock: Lock, recipe: object): string {
  const now = recipeDigests(recipe).fields;
  const old = lock.recipe.fields;
  if (!old) return 'the recipe changed since it was locked (an older lock: it does not say which fields)';
  const names = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  const changed = names.filter((n) => old[n] !== now[n]).map((n) => (!(n in old) ? `${n} (added)` : !(n in now) ? `${n} (removed)` : n));
  return `recipe fields changed since it was locked: ${changed.join(', ')}`;
}

/**
 * A lock is shared (committed beside the recipe): a local file's origin is written relative to the
 * recipe's folder, never as this host's absolute path. URLs stay as they are.
 */
export function portableOrigin(origin: string, recipeDir: string): string {
  const bang = origin.indexOf('!');
  const file = bang < 0 ? origin : origin.slice(0, bang);
  if (!path.isAbsolute(file)) return origin;
  const rel = path.relative(recipeDir, file).split(path.sep).join('/');
  return bang < 0 ? rel : `${rel}${origin.slice(bang)}`;
}

/** `recipes/x.yaml` -> `recipes/x.lock.json`; one lock per arch for a multi-arch recipe: `x.x86_64.lock.json`. */
export function lockPathFor(recipePath: string, arch?: string): string {
  const dir = path.dirname(recipePath);
  const base = path.basename(recipePath).replace(/\.[^.]*$/, '');
  return path.join(dir, `${base}${arch ? `.${arch}` : ''}.lock.json`);
}

/** Sorted keys at every level, 2-space indent, trailing newline: one text per lock, whatever built it. */
export function lockJson(value: unknown): string {
  return `${canonicalJson(value, 2)}\n`;
}

export function lockDigest(lock: Lock): string {
  return sha256Hex(lockJson(lock));
}

/**
 * The digest of the lock's parts a rootfs image is made of: the kernel and its version are left out. An
 * image never holds the kernel, and whether a lock has it depends only on whether some run downloaded it
 * (a Docker build does not; `dbco lock` does), which must not change the image's label and so its ID.
 * A KERNEL-named extension still counts: its resolved name is in the extensions.
 */
export function rootfsLockDigest(lock: Lock): string {
  const { kernel: _kernel, kernelVersion: _version, ...rest } = lock;
  return lockDigest(rest);
}

export async function readLock(file: string): Promise<Lock | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DbcoError('LOCK', `${file}: cannot read lock: ${(err as Error).message}`, { cause: err });
  }
  let lock: Lock;
  try {
    lock = JSON.parse(text) as Lock;
  } catch (err) {
    throw new DbcoError('LOCK', `${file}: not valid JSON: ${(err as Error).message} (delete it and run dbco lock)`);
  }
  if (lock?.version !== LOCK_VERSION || !Array.isArray(lock.extensions) || !lock.base || !lock.recipe) {
    throw new DbcoError('LOCK', `${file}: not a version ${LOCK_VERSION} dbco lock (delete it and run dbco lock)`);
  }
  return lock;
}

/** Temp file beside it, fsync, rename: readers see the old lock or the new one. */
export async function writeLock(file: string, lock: Lock): Promise<void> {
  await writeFileAtomic(path.dirname(path.resolve(file)), file, lockJson(lock));
}

/**
 * What changed between a lock and a new resolution, one line each, for --frozen. Urls are not
 * compared: the same files from another mirror are the same resolution.
 */
export function lockDifferences(old: Lock, now: Lock): string[] {
  const diffs: string[] = [];
  if (old.recipe.digest !== now.recipe.digest) {
    diffs.push(old.recipe.fields && now.recipe.fields
      ? `recipe fields changed: ${[...new Set([...Object.keys(old.recipe.fields), ...Object.keys(now.recipe.fields)])].sort().filter((n) => old.recipe.fields![n] !== now.recipe.fields![n]).join(', ')}`
      : 'recipe: changed since it was locked');
  }
  if (old.release !== now.release || old.arch !== now.arch) diffs.push(`release: lock has ${old.release}/${old.arch}, now ${now.release}/${now.arch}`);
  fileDiff('base', old.base, now.base, diffs);
  fileDiff('kernel', old.kernel, now.kernel, diffs);
  if ((old.kernelVersion ?? '') !== (now.kernelVersion ?? '')) diffs.push(`kernel version: lock has ${old.kernelVersion ?? '(none)'}, now ${now.kernelVersion ?? '(none)'}`);
  diffs.push(...extensionDifferences(old.extensions, now.extensions));
  const byName = new Map(old.extensions.map((e) => [e.name, e]));
  for (const e of now.extensions) {
    const o = byName.get(e.name);
    if (o) fileDiff(e.name, o, e, diffs);
  }
  return diffs;
}

/** Names, order and deps only: what `dbco resolve --frozen` can check without payloads. */
export function extensionDifferences(old: { name: string; deps: string[] }[], now: { name: string; deps: string[] }[]): string[] {
  const diffs: string[] = [];
  const oldNames = old.map((e) => e.name);
  const newNames = now.map((e) => e.name);
  for (const n of newNames) if (!oldNames.includes(n)) diffs.push(`extension added: ${n}`);
  for (const n of oldNames) if (!newNames.includes(n)) diffs.push(`extension removed: ${n}`);
  const common = newNames.filter((n) => oldNames.includes(n));
  if (common.join() !== oldNames.filter((n) => newNames.includes(n)).join()) diffs.push(`install order changed: now ${newNames.join(', ')}`);
  const byName = new Map(old.map((e) => [e.name, e]));
  for (const e of now) {
    const o = byName.get(e.name);
    if (o && o.deps.join() !== e.deps.join()) diffs.push(`${e.name}: deps were [${o.deps.join(', ')}], now [${e.deps.join(', ')}]`);
  }
  return diffs;
}

function fileDiff(label: string, a: LockedFile | undefined, b: LockedFile | undefined, diffs: string[]): void {
  if (!a && !b) return;
  if (!a || !b) {
    diffs.push(`${label}: ${a ? 'removed' : 'added'}`);
    return;
  }
  if (a.path !== b.path) diffs.push(`${label}: path was ${a.path}, now ${b.path}`);
  else if (a.sha256 !== b.sha256) diffs.push(`${label}: sha256 was ${a.sha256}, now ${b.sha256}`);
}
