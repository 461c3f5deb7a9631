import { stat } from 'node:fs/promises';
import { DigestMismatchError, FetchError } from '../errors.js';
import type { BlobInfo, Cache, IndexRecord } from '../cache/index.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Expected } from './types.js';

/** The md5 in a TC `.md5.txt` (`<md5>  NAME`), lower-cased. */
export function parseMd5Txt(url: string, text: string): string {
  const token = text.trim().split(/\s+/)[0] ?? '';
  if (!/^[0-9a-fA-F]{32}$/.test(token)) throw new FetchError(url, `malformed md5 file: ${JSON.stringify(text.slice(0, 80))}`);
  return token.toLowerCase();
}

/** Throws when the bytes just fetched from `url` are not what `expect` (and the mirror's md5) say. */
export function checkDigests(url: string, expect: Expected, mirrorMd5: string | undefined, info: BlobInfo): void {
  const md5 = expect.md5?.toLowerCase() ?? mirrorMd5;
  if (md5 !== undefined && md5 !== info.md5) throw new DigestMismatchError(url, 'md5', md5, info.md5);
  const sha = expect.sha256?.toLowerCase();
  if (sha !== undefined && sha !== info.sha256) throw new DigestMismatchError(url, 'sha256', sha, info.sha256);
  if (expect.size !== undefined && expect.size !== info.size) throw new FetchError(url, `size mismatch: expected ${expect.size} bytes, got ${info.size}`);
}

/** Whether a payload verified before still satisfies what the caller now expects. */
export function satisfies(rec: BlobInfo, expect: Expected): boolean {
  return (
    (expect.sha256 === undefined || expect.sha256.toLowerCase() === rec.sha256) &&
    (expect.md5 === undefined || expect.md5.toLowerCase() === rec.md5) &&
    (expect.size === undefined || expect.size === rec.size)
  );
}

export function toCachedFile(path: string, rec: BlobInfo | IndexRecord, origin: string): CachedFile {
  return { path, sha256: rec.sha256, size: rec.size, md5: rec.md5, origin };
}

/** Mirror-relative paths come from .dep files and recipes: refuse anything that could leave the mirror. */
export function checkRelPath(location: string, rel: string): void {
  const parts = rel.split('/');
  if (rel.length === 0 || rel.includes('\0') || rel.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new FetchError(`${location}/${rel}`, 'not a safe mirror-relative path');
  }
}

/**
 * The cache already holds the exact bytes a lock asks for (by sha256), whatever URL they came from:
 * no network needed. Undefined when it does not, or when the size disagrees.
 */
export async function blobByDigest(cache: Cache, expect: Expected, origin: string): Promise<CachedFile | undefined> {
  const sha = expect.sha256?.toLowerCase();
  if (sha === undefined || !(await cache.has(sha))) return undefined;
  const p = cache.blobPath(sha);
  const { size } = await stat(p);
  if (expect.size !== undefined && expect.size !== size) return undefined;
  return { path: p, sha256: sha, size, ...(expect.md5 ? { md5: expect.md5.toLowerCase() } : {}), origin };
}
