import { fileURLToPath } from 'node:url';
import { Cache } from '../cache/index.js';
import { openReadStream } from '../io/read-file-stream.js';
import { DigestMismatchError, FetchError, OfflineError } from '../errors.js';
import { openIso9660, type Iso9660 } from '../formats/iso9660/index.js';
import { openFileSource, type FileSource } from '../io/file-source.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import { DEFAULT_RETRY, download, type RetryPolicy } from './download.js';
import type { Expected, MirrorSource } from './types.js';
import { blobByDigest, checkDigests, checkRelPath, parseMd5Txt, satisfies, toCachedFile } from './verify.js';

export interface IsoMirrorOptions {
  cache: Cache;
  offline?: boolean;
  log?: Logger;
  arch: 'x86' | 'x86_64';
  major: string;
  retry?: Partial<RetryPolicy>;
}

export interface IsoMirror extends MirrorSource {
  /** Mirror-relative path of the kernel in the ISO's /boot, if any. */
  kernel?: string;
  /** Mirror-relative path of the initramfs in the ISO's /boot, if any. */
  initramfs?: string;
  /** The verified ISO in the cache. */
  readonly isoPath: string;
  close(): Promise<void>;
}

/** .dep, .md5.txt, .lst files are small; a payload asked for as text is a caller's mistake. */
const MAX_TEXT = 4 * 1024 * 1024;

/** Preference order of what TC ISOs keep in /boot (Core, CorePure64, TinyCore, CorePlus, rootfs+modules). */
const KERNELS = { x86_64: ['vmlinuz64', 'vmlinuz'], x86: ['vmlinuz'] };
const INITRAMFS = {
  x86_64: ['corepure64.gz', 'core64.gz', 'rootfs64.gz', 'core.gz', 'rootfs.gz'],
  x86: ['core.gz', 'rootfs.gz'],
};

/** Brings the ISO into the cache (verified by sha256) and returns its blob path. */
async function cacheIso(iso: string, sha256: string, opts: IsoMirrorOptions): Promise<string> {
  const { cache } = opts;
  const want = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want)) throw new FetchError(iso, `ISO sha256 must be 64 hex digits, got ${JSON.stringify(sha256)}`);
  if (await cache.has(want)) return cache.blobPath(want);
  if (/^https?:\/\//i.test(iso)) {
    if (opts.offline) throw new OfflineError(`--offline: ISO ${iso} (sha256 ${want}) is not in the cache (${cache.root})`);
    const file = await cache.tempFile();
    try {
      opts.log?.info(`downloading ${iso}`);
      const found = await download(iso, file, { ...DEFAULT_RETRY, ...opts.retry });
      const info = await file.finish();
      if (!found) throw new FetchError(iso, 'ISO not found (HTTP 404)');
      checkDigests(iso, { sha256: want }, undefined, info);
      return await cache.commit(file.path, info.sha256);
    } catch (err) {
      await file.abandon();
      await cache.discard(file.path);
      throw err;
    }
  }
  const p = iso.startsWith('file:') ? fileURLToPath(iso) : iso;
  try {
    return (await cache.putStream(await openReadStream(p), (info) => checkDigests(p, { sha256: want }, undefined, info))).path;
  } catch (err) {
    if (err instanceof DigestMismatchError) throw err;
    throw new FetchError(p, `cannot read ISO: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A TC ISO served as a mirror for one release: `{major}.x/{arch}/tcz/NAME` is /cde/optional/NAME and
 * `{major}.x/{arch}/release/distribution_files/FILE` is /boot/FILE. Files are extracted into the cache.
 */
export async function openIsoMirror(iso: string, sha256: string, opts: IsoMirrorOptions): Promise<IsoMirror> {
  const isoPath = await cacheIso(iso, sha256, opts);
  const src: FileSource = await openFileSource(isoPath);
  let image: Iso9660;
  try {
    image = await openIso9660(src);
  } catch (err) {
    await src.close();
    throw err;
  }
  const tczPrefix = `${opts.major}.x/${opts.arch}/tcz/`;
  const bootPrefix = `${opts.major}.x/${opts.arch}/release/distribution_files/`;
  const inner = (rel: string): string | undefined => {
    for (const [prefix, dir] of [[tczPrefix, 'cde/optional/'], [bootPrefix, 'boot/']] as const) {
      if (rel.startsWith(prefix) && !rel.slice(prefix.length).includes('/')) return dir + rel.slice(prefix.length);
    }
    return undefined;
  };
  const originOf = (innerPath: string) => `iso:${iso}!/${innerPath}`;
  const key = (innerPath: string) => `iso:sha256:${sha256.toLowerCase()}!/${innerPath}`;

  async function readText(innerPath: string): Promise<string | null> {
    const e = await image.lookup(innerPath);
    if (!e || e.kind !== 'file' || !e.open) return null;
    if (e.size > MAX_TEXT) throw new FetchError(originOf(innerPath), `${e.size} bytes is too large for a metadata text`);
    const parts: Uint8Array[] = [];
    for await (const c of e.open()) parts.push(c);
    return Buffer.concat(parts).toString('utf8');
  }

  const boot = (await image.list('boot')) ?? [];
  const bootNames = new Set(boot.filter((e) => e.kind === 'file').map((e) => e.path.slice('boot/'.length)));
  const kernel = KERNELS[opts.arch].find((n) => bootNames.has(n));
  const initramfs = INITRAMFS[opts.arch].find((n) => bootNames.has(n));

  const mirror: IsoMirror = {
    location: iso,
    isoPath,
    ...(kernel ? { kernel: bootPrefix + kernel } : {}),
    ...(initramfs ? { initramfs: bootPrefix + initramfs } : {}),
    urlOf(rel) {
      const i = inner(rel);
      return i ? originOf(i) : `iso:${iso}!?${rel}`;
    },
    async exists(rel) {
      checkRelPath(iso, rel);
      const i = inner(rel);
      return i !== undefined && (await image.lookup(i))?.kind === 'file';
    },
    async text(rel) {
      checkRelPath(iso, rel);
      const i = inner(rel);
      return i ? readText(i) : null;
    },
    async fetch(rel, expect: Expected = {}): Promise<CachedFile | null> {
      checkRelPath(iso, rel);
      const i = inner(rel);
      if (!i) return null;
      const { cache } = opts;
      const rec = await cache.lookup(key(i));
      if (rec && satisfies(rec, expect)) return toCachedFile(cache.blobPath(rec.sha256), rec, originOf(i));
      const known = await blobByDigest(cache, expect, originOf(i));
      if (known) return known;
      const e = await image.lookup(i);
      if (!e || e.kind !== 'file' || !e.open) return null;
      let md5: string | undefined;
      if (expect.md5 === undefined) {
        const t = await readText(`${i}.md5.txt`);
        if (t !== null) md5 = parseMd5Txt(originOf(`${i}.md5.txt`), t);
      }
      const stored = await cache.putStream(e.open(), (info) => checkDigests(originOf(i), expect, md5, info));
      await cache.record({ url: key(i), sha256: stored.sha256, md5: stored.md5, size: stored.size });
      return toCachedFile(stored.path, stored, originOf(i));
    },
    close: () => src.close(),
  };
  return mirror;
}
