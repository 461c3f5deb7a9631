import { Cache, metadataMaxAgeMs } from '../cache/index.js';
import { DigestMismatchError, OfflineError } from '../errors.js';
import { Semaphore } from '../io/semaphore.js';
import type { CachedFile } from '../cache/cached-file.js';
import type { Logger } from '../io/logger.js';
import { DEFAULT_RETRY, MemorySink, download, exists, retryFromEnv, type RetryPolicy } from './download.js';
import { isLatestPath } from '../recipe/release.js';
import { checkMetaText } from './meta-check.js';
import { FetchProgress } from './progress.js';
import type { Expected, MirrorSource } from './types.js';
import { blobByDigest, checkDigests, checkRelPath, parseMd5Txt, satisfies, toCachedFile } from './verify.js';

export interface HttpMirrorOptions {
  cache: Cache;
  offline?: boolean;
  log?: Logger;
  /** Parallel requests (default 8); ignored when `semaphore` is given. */
  concurrency?: number;
  /** Share one bound between several sources. */
  semaphore?: Semaphore;
  retry?: Partial<RetryPolicy>;
  /** Progress style; defaults to whether stderr is a terminal. */
  tty?: boolean;
}

/**
 * Pause before the request that confirms a 404 of a .dep (or .md5.txt, .tcz.info): a transient 404 from
 * a flaky proxy is gone by the next request, and every extension without dependencies pays this pause
 * on a cold resolve (300 ms, the retry backoff, was a quarter of a 12-extension build).
 */
const CONFIRM_PAUSE_MS = 50;

/** Metadata files are small; anything bigger is not a .dep or .md5.txt. */
const MAX_TEXT = 4 * 1024 * 1024;

/**
 * A TC mirror over http(s). Texts come from the cache's metadata store when answered before (so a
 * warm resolve is offline), payloads from the URL index when verified before.
 */
export class HttpMirror implements MirrorSource {
  readonly location: string;
  private readonly base: string;
  private readonly sem: Semaphore;
  private readonly policy: RetryPolicy;
  private readonly progress: FetchProgress;
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(location: string, private readonly opts: HttpMirrorOptions) {
    this.location = location;
    this.base = location.replace(/\/+$/, '');
    this.sem = opts.semaphore ?? new Semaphore(opts.concurrency ?? 8);
    this.policy = { ...DEFAULT_RETRY, ...retryFromEnv(), ...opts.retry };
    this.progress = new FetchProgress(opts.log, opts.tty ?? Boolean(process.stderr.isTTY));
  }

  urlOf(relPath: string): string {
    return `${this.base}/${encodeURI(relPath)}`;
  }

  text(relPath: string): Promise<string | null> {
    checkRelPath(this.location, relPath);
    const url = this.urlOf(relPath);
    return this.once(`text:${url}`, () => this.loadText(url));
  }

  fetch(relPath: string, expect: Expected = {}): Promise<CachedFile | null> {
    checkRelPath(this.location, relPath);
    const url = this.urlOf(relPath);
    const key = `fetch:${url}:${expect.md5 ?? ''}:${expect.sha256 ?? ''}:${expect.size ?? ''}`;
    return this.once(key, () => this.loadPayload(relPath, url, expect));
  }

  exists(relPath: string): Promise<boolean> {
    checkRelPath(this.location, relPath);
    const url = this.urlOf(relPath);
    return this.once(`exists:${url}`, () => this.probe(url));
  }

  private async probe(url: string): Promise<boolean> {
    const { cache } = this.opts;
    if (await cache.lookup(url)) return true;
    // Stored beside the texts under a key no real file can have (a URL fragment is never sent).
    const key = `${url}#exists`;
    const known = await cache.getMeta(key, metadataMaxAgeMs(Boolean(this.opts.offline)));
    if (known) return known.present;
    if (this.opts.offline) throw new OfflineError(`--offline: whether ${url} exists is not in the cache (${cache.root})`);
    const found = await this.sem.run(() => exists(url, this.policy));
    await cache.setMeta(key, found ? '' : null);
    return found;
  }

  /** Concurrent asks for the same thing share one request. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async loadText(url: string): Promise<string | null> {
    const { cache } = this.opts;
    const known = await cache.getMeta(url, metadataMaxAgeMs(Boolean(this.opts.offline)));
    if (known) return known.present ? known.text : null;
    if (this.opts.offline) throw new OfflineError(`--offline: ${url} is not in the cache (${cache.root})`);
    const text = await this.askText(url);
    await cache.setMeta(url, text);
    return text;
  }

  /**
   * The mirror's answer, believed only once it looks right (checkMetaText; a bad body is asked again a
   * few times, then refused). A 404 for a .dep means "no dependencies" for a day, one for an
   * .md5.txt "payload unchecked", one for a .tcz.info "no version in the SBOM" (and one for latest-*
   * refuses `release: latest`), so each is believed only when a second request after a pause says the
   * same: a mirror mid-sync or a flaky proxy answers one transient 404, not two in a row.
   */
  private async askText(url: string): Promise<string | null> {
    const attempts = 3;
    let confirmations = url.endsWith('.dep') || url.endsWith('.md5.txt') || url.endsWith('.tcz.info') || isLatestPath(url) ? 1 : 0;
    for (let attempt = 1; ; attempt++) {
      const sink = new MemorySink(MAX_TEXT);
      // Texts go before queued payloads: the walk waits for each .dep before it can ask for the next level.
      const found = await this.sem.run(() => download(url, sink, this.policy), { first: true });
      if (!found) {
        if (confirmations-- > 0) {
          await pause(Math.min(this.policy.baseDelayMs, CONFIRM_PAUSE_MS));
          continue;
        }
        return null;
      }
      const text = sink.bytes().toString('utf8');
      try {
        checkMetaText(url, text);
        return text;
      } catch (err) {
        if (attempt >= attempts) throw err;
        await pause(this.policy.baseDelayMs * attempt);
      }
    }
  }

  private async loadPayload(relPath: string, url: string, expect: Expected): Promise<CachedFile | null> {
    const { cache } = this.opts;
    const md5Url = this.urlOf(`${relPath}.md5.txt`);
    const rec = await cache.lookup(url);
    if (rec && satisfies(rec, expect)) {
      if (expect.md5 !== undefined || rec.md5Checked) return toCachedFile(cache.blobPath(rec.sha256), rec, url);
      // Stored while the mirror had no .md5.txt: check it now that one may be there (asked again after the TTL).
      const mt = await this.text(`${relPath}.md5.txt`);
      if (mt === null) return toCachedFile(cache.blobPath(rec.sha256), rec, url);
      const want = parseMd5Txt(md5Url, mt);
      if (want === rec.md5) {
        await cache.record({ ...rec, md5Checked: true });
        return toCachedFile(cache.blobPath(rec.sha256), rec, url);
      }
      this.opts.log?.warn(`${url}: the copy in the cache ${cache.root} was fetched while the mirror had no .md5.txt and does not match its md5 ${want}: fetching it again`);
    }
    const known = await blobByDigest(cache, expect, url);
    if (known) return known;
    if (this.opts.offline) throw new OfflineError(`--offline: ${url} is not in the cache (${cache.root})`);

    // The md5 and the payload travel in parallel: one round trip instead of two per file.
    const md5Text = expect.md5 === undefined ? this.text(`${relPath}.md5.txt`) : Promise.resolve(null);
    md5Text.catch(() => undefined);

    const file = await cache.tempFile();
    let counted = false;
    let ok = false;
    this.progress.start();
    try {
      const found = await this.sem.run(() =>
        download(url, file, this.policy, (delta, total) => {
          if (!counted && total !== undefined) {
            counted = true;
            this.progress.announce(total);
          }
          this.progress.bytes(delta);
        }),
      );
      const info = await file.finish();
      if (!found) {
        await cache.discard(file.path);
        await md5Text.catch(() => undefined);
        return null;
      }
      const mt = await md5Text;
      try {
        checkDigests(url, expect, mt === null ? undefined : parseMd5Txt(md5Url, mt), info);
      } catch (err) {
        // A wrong or garbled .md5.txt must not stick in the metadata store: the next run asks again.
        if (expect.md5 === undefined && !(err instanceof DigestMismatchError && err.algorithm === 'sha256')) await cache.deleteMeta(md5Url);
        throw err;
      }
      const path = await cache.commit(file.path, info.sha256);
      await cache.record({ url, ...info, md5Checked: expect.md5 !== undefined || mt !== null });
      ok = true;
      return toCachedFile(path, info, url);
    } catch (err) {
      await file.abandon();
      await cache.discard(file.path);
      // Leave no work running behind a failure (the md5 request may still be storing its answer).
      await md5Text.catch(() => undefined);
      throw err;
    } finally {
      this.progress.done(url, file.size, ok);
    }
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
