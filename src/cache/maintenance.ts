import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { removeStaleTemps } from './atomic.js';
import { liveUsers } from './users.js';

/**
 * `dbco cache ls|verify|gc` over a cache folder (see Cache for the layout). Last use is the mtime:
 * every build touches the blobs and derived layers it uses (markUsed), so gc can prune what no recent
 * build used. gc never removes what was used within GC_GRACE_MS, nor a blob a given lock names; while a
 * build runs (users.ts) it removes only metadata and index records, which any run asks or fetches again,
 * and leaves blobs and derived layers for a later gc. Every write is temp + rename, so gc never sees a
 * partial file.
 */
export const GC_GRACE_MS = 60 * 60 * 1000;

export type Kind = 'blobs' | 'metadata' | 'index' | 'derived layers' | 'setup layers' | 'derived other' | 'temp';

export interface CacheItem {
  path: string;
  kind: Kind;
  size: number;
  mtimeMs: number;
}

const KINDS: Kind[] = ['blobs', 'metadata', 'index', 'derived layers', 'setup layers', 'derived other', 'temp'];

function kindOf(rel: string): Kind {
  const [top, sub] = rel.split(path.sep);
  if (top === 'blobs') return 'blobs';
  if (top === 'meta') return 'metadata';
  if (top === 'index') return 'index';
  if (top === 'tmp') return 'temp';
  if (top === 'derived') return sub === 'layers' ? 'derived layers' : sub === 'docker-setup' ? 'setup layers' : 'derived other';
  return 'derived other';
}

/** Every file in the cache with its kind, size and last use. */
export async function listCache(root: string): Promise<CacheItem[]> {
  const out: CacheItem[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (dir === root && e.name === 'users') continue; // build marks (users.ts), not content
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        try {
          const st = await stat(p);
          out.push({ path: p, kind: kindOf(path.relative(root, p)), size: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // removed meanwhile by another process
        }
      }
    }
  };
  await walk(root);
  return out;
}

export function summarize(items: CacheItem[]): { kind: Kind; count: number; bytes: number }[] {
  return KINDS.map((kind) => {
    const of = items.filter((i) => i.kind === kind);
    return { kind, count: of.length, bytes: of.reduce((n, i) => n + i.size, 0) };
  });
}

async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Checks every blob against its name and every derived layer tar against its recorded diffId. */
export async function verifyCache(root: string): Promise<{ checked: number; bad: string[] }> {
  const items = await listCache(root);
  const bad: string[] = [];
  let checked = 0;
  for (const it of items) {
    let want: string | undefined;
    if (it.kind === 'blobs') want = path.basename(it.path);
    else if ((it.kind === 'derived layers' || it.kind === 'setup layers') && it.path.endsWith('.tar')) {
      try {
        const meta = JSON.parse(await readFile(it.path.replace(/\.tar$/, '.json'), 'utf8')) as { diffId?: string };
        want = meta.diffId?.replace(/^sha256:/, '');
      } catch {
        continue; // no record yet (being written) or torn: the builder rebuilds it
      }
    }
    if (want === undefined) continue;
    checked++;
    let got: string;
    try {
      got = await sha256File(it.path);
    } catch {
      continue;
    }
    if (got !== want) bad.push(`${it.path}: sha256 ${got}, expected ${want}`);
  }
  return { checked, bad };
}

/** Marks cache files as used now, for gc; best effort (a read-only cache simply keeps its dates). */
export async function markUsed(paths: Iterable<string>): Promise<void> {
  const now = new Date();
  await Promise.all([...paths].map((p) => utimes(p, now, now).catch(() => undefined)));
}

export interface GcOptions {
  keepDays: number;
  maxSize?: number;
  /** sha256 hex of blobs a lock names: kept whatever their age. */
  keep?: Set<string>;
  now?: number;
}

/**
 * Removes what no recent build used: entries last used more than keepDays ago, then, while the cache is
 * larger than maxSize, the least recently used; never anything used within GC_GRACE_MS or a kept blob.
 * Temp files go when their writer is gone or they are older than the grace.
 */
export async function gcCache(root: string, opts: GcOptions): Promise<{ removed: number; freed: number; left: number; deferred: number }> {
  const now = opts.now ?? Date.now();
  let removed = await removeStaleTemps(path.join(root, 'tmp'), GC_GRACE_MS, now);
  let freed = 0;
  // While builds run, what they read (blobs, derived and setup layers) stays; metadata and index
  // records are safe to drop at any time (a missing one is asked or fetched again).
  const busy = liveUsers(root).length > 0;
  const all = (await listCache(root)).filter((i) => i.kind !== 'temp' && !i.path.startsWith(path.join(root, 'users')));
  const items = busy ? all.filter((i) => i.kind === 'metadata' || i.kind === 'index') : all;
  const deferred = all.length - items.length;
  const protectedItem = (i: CacheItem): boolean =>
    now - i.mtimeMs < GC_GRACE_MS || (i.kind === 'blobs' && (opts.keep?.has(path.basename(i.path)) ?? false));
  let deferredLate = 0;
  const drop = async (i: CacheItem): Promise<void> => {
    // A build may have started since the listing: asked again right before each blob or layer goes.
    if (i.kind !== 'metadata' && i.kind !== 'index' && liveUsers(root).length > 0) {
      deferredLate++;
      return;
    }
    await rm(i.path, { force: true });
    removed++;
    freed += i.size;
  };
  const keepMs = opts.keepDays * 24 * 3600 * 1000;
  const alive: CacheItem[] = [];
  for (const i of items) {
    if (!protectedItem(i) && now - i.mtimeMs > keepMs) await drop(i);
    else alive.push(i);
  }
  let total = alive.reduce((n, i) => n + i.size, 0);
  if (opts.maxSize !== undefined && total > opts.maxSize) {
    for (const i of [...alive].sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      if (total <= opts.maxSize) break;
      if (protectedItem(i)) continue;
      await drop(i);
      total -= i.size;
    }
  }
  return { removed, freed, left: total, deferred: deferred + deferredLate };
}

/** '500M', '2G', '1024' (bytes) -> bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}
