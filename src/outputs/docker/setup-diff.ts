import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Entry, EntryMeta } from '../../formats/entry.js';
import { comparePaths } from '../../formats/entry.js';
import type { Layer } from '../../rootfs/layer.js';

/** What a streaming tar reader yields: metadata, then the body to drain before the next entry. */
export interface ExportedEntry {
  entry: EntryMeta;
  body: AsyncIterable<Uint8Array>;
}

/** Paths Docker itself provides in every container: never part of what a setup script changed. */
// run/.containerenv: Podman's marker file, the counterpart of dockerd's .dockerenv.
const DOCKER_FILES = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab', '.dockerenv', 'run/.containerenv']);
const DOCKER_TREES = ['dev', 'proc', 'sys'];

export function isDockerManaged(p: string): boolean {
  if (DOCKER_FILES.has(p)) return true;
  return DOCKER_TREES.some((t) => p === t || p.startsWith(`${t}/`));
}

/** Bodies up to this size are held in memory; larger ones go to a spool file, so memory stays bounded. */
const INLINE_MAX = 1 << 20;

interface Kept {
  sha256: string;
  size: number;
  /** Re-reads the kept body; absent when the body was not kept. */
  open?: () => AsyncIterable<Uint8Array>;
  discard(): Promise<void>;
}

async function hashChunks(chunks: AsyncIterable<Uint8Array>, keep?: { size: number; spool: () => Promise<string> }): Promise<Kept> {
  const h = createHash('sha256');
  let size = 0;
  if (keep && keep.size > INLINE_MAX) {
    const file = await keep.spool();
    const fh = await open(file, 'w', 0o600);
    try {
      for await (const c of chunks) {
        h.update(c);
        size += c.length;
        await fh.write(c);
      }
    } finally {
      await fh.close();
    }
    return { sha256: h.digest('hex'), size, open: () => createReadStream(file), discard: () => rm(file, { force: true }) };
  }
  const parts: Buffer[] = [];
  for await (const c of chunks) {
    h.update(c);
    size += c.length;
    if (keep) parts.push(Buffer.from(c));
  }
  const data = keep ? Buffer.concat(parts) : undefined;
  return { sha256: h.digest('hex'), size, open: data ? async function* () { yield data; } : undefined, discard: async () => undefined };
}

const fileLike = (k: EntryMeta['kind']): boolean => k === 'file' || k === 'hardlink';

function sameMeta(a: EntryMeta, b: EntryMeta): boolean {
  if (fileLike(a.kind) !== fileLike(b.kind)) return false;
  if (!fileLike(a.kind) && a.kind !== b.kind) return false;
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.kind === 'symlink' && a.linkname !== b.linkname) return false;
  if ((a.kind === 'char' || a.kind === 'block') && (a.devmajor !== b.devmajor || a.devminor !== b.devminor)) return false;
  return true;
}

/**
 * The setup layer: what running the setup scripts changed, found by comparing the container's exported
 * tree with the tree it started from (metadata, then content sha256 where metadata agrees). Added and
 * changed entries are kept (mtime normalized to `epoch`), vanished ones become whiteouts. Bodies of
 * changed files are kept in memory when small, else in files under `spoolDir` (the caller removes it
 * once the layer is written).
 */
export async function diffSetupLayer(lower: Entry[], exported: AsyncIterable<ExportedEntry>, opts: { epoch: number; cacheKey: string; spoolDir: string }): Promise<Layer> {
  let spooled = 0;
  const spool = async (): Promise<string> => path.join(opts.spoolDir, `body-${spooled++}`);
  const lowerByPath = new Map(lower.map((e) => [e.path, e]));
  const lowerHashes = new Map<string, Promise<string>>();
  const lowerHash = (p: string): Promise<string> => {
    let h = lowerHashes.get(p);
    if (!h) {
      let e = lowerByPath.get(p);
      if (e?.kind === 'hardlink' && e.linkname) e = lowerByPath.get(e.linkname);
      h = e?.open ? hashChunks(e.open()).then((r) => r.sha256) : Promise.resolve('');
      lowerHashes.set(p, h);
    }
    return h;
  };

  const seen = new Set<string>();
  const exportedHash = new Map<string, string>();
  const changed = new Map<string, { meta: EntryMeta; body?: Kept }>();

  for await (const { entry, body } of exported) {
    const p = entry.path;
    if (!p || isDockerManaged(p)) {
      await hashChunks(body);
      continue;
    }
    seen.add(p);
    const before = lowerByPath.get(p);
    let contentHash = '';
    let kept: Kept | undefined;
    if (entry.kind === 'file') {
      // The tar stream cannot be re-read: keep the body until it is known to match the lower tree.
      kept = await hashChunks(body, { size: entry.size, spool });
      contentHash = kept.sha256;
      exportedHash.set(p, contentHash);
    } else {
      await hashChunks(body);
      if (entry.kind === 'hardlink' && entry.linkname) contentHash = exportedHash.get(entry.linkname) ?? '';
    }
    let same = before !== undefined && sameMeta(before, entry);
    if (same && fileLike(entry.kind)) same = contentHash === (await lowerHash(p));
    if (same) await kept?.discard();
    else changed.set(p, { meta: entry, body: kept });
  }

  const entries: Entry[] = [];
  for (const { meta, body } of changed.values()) {
    const e: Entry = { ...meta, mtime: opts.epoch };
    if (meta.kind === 'file') {
      e.size = body?.size ?? 0;
      e.open = body?.open ?? (async function* () {});
    } else if (meta.kind === 'hardlink' && meta.linkname && !changed.has(meta.linkname)) {
      // Its target is unchanged and so lives in a lower layer: a layer may only link within itself.
      const target = lowerByPath.get(meta.linkname);
      const source = target?.kind === 'hardlink' && target.linkname ? lowerByPath.get(target.linkname) : target;
      e.kind = 'file';
      delete e.linkname;
      e.size = source?.size ?? 0;
      e.open = source?.open;
    }
    entries.push(e);
  }
  entries.sort((a, b) => comparePaths(a.path, b.path));

  const whiteouts: string[] = [];
  for (const e of [...lower].sort((a, b) => comparePaths(a.path, b.path))) {
    if (seen.has(e.path) || isDockerManaged(e.path)) continue;
    if (whiteouts.some((w) => e.path.startsWith(`${w}/`))) continue;
    whiteouts.push(e.path);
  }
  return { id: 'setup', entries, whiteouts, cacheKey: opts.cacheKey };
}
