import { readJsonRecord } from '../io/json-record.js';
import { createHash } from 'node:crypto';
import { access, chmod, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { HashingFile } from '../io/hashing-file.js';
import { removeStaleTemps, tempName, writeRecordAtomic } from './atomic.js';

export { writeFileAtomic } from './atomic.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** Temp files older than this belong to a crashed process, whatever their pid says. */
export const STALE_TEMP_MS = 6 * 60 * 60 * 1000;

export interface BlobInfo {
  sha256: string;
  md5: string;
  size: number;
}

/** A verified payload previously fetched from `url`; `stamp` lets local sources detect a changed file. */
export interface IndexRecord extends BlobInfo {
  url: string;
  stamp?: string;
  /**
   * Whether an md5 from outside the bytes (the mirror's .md5.txt, a lock) vouched for them. A payload
   * stored while its .md5.txt was missing is checked again once the md5 appears.
   */
  md5Checked?: boolean;
}

/** A metadata answer from a mirror: the text, or the fact that the file is absent (404). */
export type MetaAnswer = { url: string; present: true; text: string } | { url: string; present: false };

/**
 * How long a mirror's metadata answers (.dep, .md5.txt, whether a file exists) are trusted before a run
 * that may use the network asks again: DBCO_METADATA_TTL seconds, default a day. --offline trusts them
 * whatever their age; a lock pins the payloads themselves by sha256.
 */
export function metadataMaxAgeMs(offline: boolean, env = process.env): number {
  if (offline) return Infinity;
  const ttl = env.DBCO_METADATA_TTL;
  return ttl !== undefined && /^\d+$/.test(ttl) ? Number(ttl) * 1000 : 24 * 3600 * 1000;
}

/** DBCO_CACHE, else ./cache under the working directory. */
export function defaultCacheDir(): string {
  const env = process.env.DBCO_CACHE;
  return env && env.length > 0 ? path.resolve(env) : path.resolve(process.cwd(), 'cache');
}

function urlKey(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

/**
 * The content-addressed cache shared by every dbco process on the machine:
 *   blobs/sha256/<hex>   verified payloads, read-only
 *   meta/<key>.json      mirror metadata answers (.dep, .md5.txt, absent), keyed by URL
 *   index/<key>.json     URL -> blob of a payload verified before
 *   tmp/                 in-flight writes; renamed into place only once complete and verified
 * Every write is temp + fsync + rename, so concurrent processes never see a partial file and need no locks.
 */
export class Cache {
  readonly root: string;
  private tempsSwept = false;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }

  blobPath(sha256: string): string {
    const hex = sha256.toLowerCase();
    if (!HEX64.test(hex)) throw new RangeError(`not a sha256 hex digest: ${JSON.stringify(sha256)}`);
    return path.join(this.root, 'blobs', 'sha256', hex);
  }

  async has(sha256: string): Promise<boolean> {
    if (!HEX64.test(sha256.toLowerCase())) return false;
    try {
      await access(this.blobPath(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /** A new temp file that hashes what is written; pass it to `commit` once verified, or `discard`. */
  async tempFile(): Promise<HashingFile> {
    await this.sweepTemps();
    return HashingFile.create(await tempName(this.tmpDir));
  }

  /**
   * Moves a finished, verified temp file into the blob store. If another process stored the same
   * content first, the rename replaces identical bytes, which is harmless.
   */
  async commit(tmpPath: string, sha256: string): Promise<string> {
    const dest = this.blobPath(sha256);
    try {
      await chmod(tmpPath, 0o444);
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(tmpPath, dest);
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw err;
    }
    return dest;
  }

  async discard(tmpPath: string): Promise<void> {
    await rm(tmpPath, { force: true });
  }

  /**
   * Streams `chunks` into the store. `verify` sees the digests before the blob becomes visible and
   * throws to reject it (nothing is kept then).
   */
  async putStream(chunks: AsyncIterable<Uint8Array>, verify?: (info: BlobInfo) => void): Promise<BlobInfo & { path: string }> {
    const file = await this.tempFile();
    let info: BlobInfo;
    try {
      for await (const chunk of chunks) await file.write(chunk);
      info = await file.finish();
      verify?.(info);
    } catch (err) {
      await file.abandon();
      await this.discard(file.path);
      throw err;
    }
    return { ...info, path: await this.commit(file.path, info.sha256) };
  }

  async putBytes(bytes: Uint8Array, verify?: (info: BlobInfo) => void): Promise<BlobInfo & { path: string }> {
    return this.putStream((async function* () { yield bytes; })(), verify);
  }

  private metaPath(url: string): string {
    return path.join(this.root, 'meta', `${urlKey(url)}.json`);
  }

  private indexPath(url: string): string {
    return path.join(this.root, 'index', `${urlKey(url)}.json`);
  }

  /**
   * The stored metadata answer for `url`, or undefined when never asked or answered longer than
   * `maxAgeMs` ago (answers stored without a time count as old).
   */
  async getMeta(url: string, maxAgeMs = Infinity): Promise<MetaAnswer | undefined> {
    const rec = await readJson(this.metaPath(url));
    if (!rec || rec.url !== url || typeof rec.present !== 'boolean') return undefined;
    const age = typeof rec.at === 'number' ? Date.now() - rec.at : Infinity;
    if (age > maxAgeMs) return undefined;
    if (rec.present) return typeof rec.text === 'string' ? { url, present: true, text: rec.text } : undefined;
    return { url, present: false };
  }

  /** Stores a metadata answer; `null` records that the mirror has no such file. */
  async setMeta(url: string, text: string | null): Promise<void> {
    await this.sweepTemps();
    const rec: MetaAnswer & { at: number } = text === null ? { url, present: false, at: Date.now() } : { url, present: true, text, at: Date.now() };
    await writeRecordAtomic(this.tmpDir, this.metaPath(url), JSON.stringify(rec));
  }

  async deleteMeta(url: string): Promise<void> {
    await rm(this.metaPath(url), { force: true });
  }

  /** The verified payload fetched from `url` before, if its blob is still in the store. */
  async lookup(url: string): Promise<IndexRecord | undefined> {
    const rec = await readJson(this.indexPath(url));
    if (!rec || rec.url !== url || typeof rec.sha256 !== 'string' || typeof rec.md5 !== 'string' || typeof rec.size !== 'number') return undefined;
    if (!(await this.has(rec.sha256))) return undefined;
    return {
      url,
      sha256: rec.sha256,
      md5: rec.md5,
      size: rec.size,
      ...(typeof rec.stamp === 'string' ? { stamp: rec.stamp } : {}),
      ...(rec.md5Checked === true ? { md5Checked: true } : {}),
    };
  }

  async record(rec: IndexRecord): Promise<void> {
    await this.sweepTemps();
    await writeRecordAtomic(this.tmpDir, this.indexPath(rec.url), JSON.stringify(rec));
  }

  /** Deletes temp files of crashed processes: writer gone, or older than maxAgeMs (once per Cache object). */
  async sweepTemps(maxAgeMs = STALE_TEMP_MS): Promise<number> {
    if (this.tempsSwept) return 0;
    this.tempsSwept = true;
    return removeStaleTemps(this.tmpDir, maxAgeMs);
  }
}

async function readJson(p: string): Promise<Record<string, unknown> | undefined> {
  // Unreadable records are treated as never written; the next answer overwrites them.
  const v = await readJsonRecord(p);
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}
