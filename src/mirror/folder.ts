import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cache } from '../cache/index.js';
import { openReadStream } from '../io/read-file-stream.js';
import { DigestMismatchError, FetchError } from '../errors.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import type { Expected, MirrorSource } from './types.js';
import { checkDigests, checkRelPath, parseMd5Txt, satisfies, toCachedFile } from './verify.js';

export interface FolderMirrorOptions {
  cache: Cache;
  log?: Logger;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A local folder in mirror layout (a path or file:// URL). Payloads are copied into the cache while
 * hashed, so later stages only ever read verified cache blobs; a file whose size, mtime and inode are
 * unchanged since it was verified is not re-read.
 */
export class FolderMirror implements MirrorSource {
  readonly location: string;
  readonly root: string;

  constructor(location: string, private readonly opts: FolderMirrorOptions) {
    this.location = location;
    this.root = path.resolve(location.startsWith('file:') ? fileURLToPath(location) : location);
  }

  urlOf(relPath: string): string {
    return path.join(this.root, relPath);
  }

  async text(relPath: string): Promise<string | null> {
    checkRelPath(this.location, relPath);
    try {
      return await readFile(this.urlOf(relPath), 'utf8');
    } catch (err) {
      if (isMissing(err)) return null;
      throw new FetchError(this.urlOf(relPath), (err as Error).message, { cause: err });
    }
  }

  async exists(relPath: string): Promise<boolean> {
    checkRelPath(this.location, relPath);
    try {
      return (await stat(this.urlOf(relPath))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw new FetchError(this.urlOf(relPath), (err as Error).message, { cause: err });
    }
  }

  async fetch(relPath: string, expect: Expected = {}): Promise<CachedFile | null> {
    checkRelPath(this.location, relPath);
    const { cache } = this.opts;
    const file = this.urlOf(relPath);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      if (isMissing(err)) return null;
      throw new FetchError(file, (err as Error).message, { cause: err });
    }
    if (!st.isFile()) return null;
    const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const rec = await cache.lookup(file);
    let mirrorMd5: string | undefined;
    if (expect.md5 === undefined) {
      const t = await this.text(`${relPath}.md5.txt`);
      if (t !== null) mirrorMd5 = parseMd5Txt(`${file}.md5.txt`, t);
    }
    // A copy made while the .md5.txt was missing is trusted only until one appears.
    if (rec && rec.stamp === stamp && satisfies(rec, expect) && (mirrorMd5 === undefined || mirrorMd5 === rec.md5)) {
      return toCachedFile(cache.blobPath(rec.sha256), rec, file);
    }

    try {
      const stored = await cache.putStream(await openReadStream(file), (info) => checkDigests(file, expect, mirrorMd5, info));
      await cache.record({ url: file, sha256: stored.sha256, md5: stored.md5, size: stored.size, stamp, md5Checked: expect.md5 !== undefined || mirrorMd5 !== undefined });
      this.opts.log?.info(`copied ${file} (${stored.size} bytes)`);
      return toCachedFile(stored.path, stored, file);
    } catch (err) {
      if (err instanceof DigestMismatchError || err instanceof FetchError) throw err;
      throw new FetchError(file, (err as Error).message, { cause: err });
    }
  }
}
