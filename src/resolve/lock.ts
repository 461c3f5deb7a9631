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
  recipe: { name: string; digest: string };
  release: string;
  arch: string;
  base: LockedFile & { iso?: { path: string; sha256: string } };
  kernel?: LockedFile;
  kernelVersion?: string;
  /** In install order. */
  extensions: LockedExtension[];
}

/** `recipes/x.yaml` -> `recipes/x.lock.json`. */
export function lockPathFor(recipePath: string): string {
  const dir = path.dirname(recipePath);
  const base = path.basename(recipePath).replace(/\.[^.]*$/, '');
  return path.join(dir, `${base}.lock.json`);
}

/** Sorted keys at every level, 2-space indent, trailing newline: one text per lock, whatever built it. */
export function lockJson(value: unknown): string {
  return `${canonicalJson(value, 2)}\n`;
}

export function lockDigest(lock: Lock): string {
  return sha256Hex(lockJson(lock));
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
  if (old.recipe.digest !== now.recipe.digest) diffs.push(`recipe digest: lock has ${old.recipe.digest}, recipe is ${now.recipe.digest}`);
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
