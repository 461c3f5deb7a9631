import { sharedBlockPool } from '../io/block-pool.js';
import { readJsonRecord } from '../io/json-record.js';
import type { Entry, EntryMeta } from '../formats/entry.js';
import { openSquashfs } from '../formats/squashfs/index.js';
import { FormatError } from '../errors.js';
import type { PreparedExtension } from '../resolve/prepared.js';
import { withMtime } from './base-layer.js';
import { derivedPath, writeRecord } from './derived-store.js';
import { normalizeEntries } from './flatten.js';
import { LAYER_FORMAT } from './layer-format.js';
import { lazyFileSource } from './lazy-file.js';
import type { Layer } from './layer.js';

/** What a layer needs of an extension: its name and verified file (not its place in the resolution). */
export type TczFile = Pick<PreparedExtension, 'name' | 'file'>;

/**
 * One extension as a layer: the tcz's squashfs tree, exactly what tce-load copies to / (`cp -a` of the
 * mounted image keeps owners, modes, devices and links). Nothing recipe-specific goes in, so the same
 * tcz gives the same layer (and tar) in every recipe.
 *
 * The entry list is kept as a small manifest in the derived store: a warm build assembles the layer
 * without opening the tcz, and a file's bytes are read from the squashfs only if something opens it.
 */
export async function extensionLayer(ext: TczFile, opts: { cacheRoot: string; epoch: number }): Promise<Layer> {
  const { sha256 } = ext.file;
  const cacheKey = `tcz:${sha256}:${LAYER_FORMAT}:epoch=${opts.epoch}`;
  const id = `ext:${ext.name}`;
  const manifestPath = derivedPath(opts.cacheRoot, 'tcz', `${sha256}.${LAYER_FORMAT}.json`);
  const cached = await readManifest(manifestPath);
  if (cached) {
    const open = lazyOpener(ext);
    const entries = cached.map((m): Entry => (m.kind === 'file' ? { ...m, mtime: opts.epoch, open: () => open(m.path) } : { ...m, mtime: opts.epoch }));
    return { id, entries, cacheKey };
  }
  const raw: Entry[] = [];
  const squashfs = await openTcz(ext).catch((err: unknown) => rethrowNamed(err, ext));
  try {
    for await (const e of squashfs.entries()) raw.push(withMtime(e, opts.epoch));
  } catch (err) {
    rethrowNamed(err, ext);
  }
  const entries = normalizeEntries(raw);
  await writeRecord(opts.cacheRoot, manifestPath, JSON.stringify(entries.map(metaOf)));
  return { id, entries, cacheKey };
}

/** Bytes of the tcz's files taken from its uncompressed size: what the layer budget ranks by. */
export function layerSize(layer: Layer): number {
  let total = 0;
  for (const e of layer.entries) if (e.kind === 'file') total += e.size;
  return total;
}

function metaOf(e: Entry): EntryMeta {
  const { open: _open, mtime: _mtime, ...meta } = e;
  return { ...meta, mtime: 0 };
}

async function readManifest(p: string): Promise<EntryMeta[] | undefined> {
  const parsed = await readJsonRecord(p); // absent, torn or foreign: rebuild it
  return Array.isArray(parsed) ? (parsed as EntryMeta[]) : undefined;
}

/** Opens the squashfs once, on the first file read, and serves every later read from its index. */
function lazyOpener(ext: TczFile): (path: string) => AsyncIterable<Uint8Array> {
  let index: Promise<Map<string, Entry>> | undefined;
  const load = async (): Promise<Map<string, Entry>> => {
    const squashfs = await openTcz(ext);
    const map = new Map<string, Entry>();
    for await (const e of squashfs.entries()) map.set(e.path, e);
    return map;
  };
  return async function* open(path: string) {
    index ??= load();
    const map = await index.catch((err: unknown) => rethrowNamed(err, ext));
    let e = map.get(path);
    // The manifest put a hard-link group's data on its first path in sort order, which may be a link in the squashfs.
    for (let hops = 0; e?.kind === 'hardlink' && hops < 8; hops++) e = map.get(e.linkname ?? '');
    if (!e?.open) throw new FormatError('squashfs', `${ext.name}: ${path} is no longer a file in ${ext.file.path} (cache changed under the build?)`);
    yield* e.open();
  };
}

/** The tcz's squashfs; its data blocks are read and inflated by the shared worker pool, straight from the file. */
function openTcz(ext: TczFile): ReturnType<typeof openSquashfs> {
  return openSquashfs(lazyFileSource(ext.file.path, ext.file.size), { readBlockRun: sharedBlockPool()?.forFile(ext.file.path) });
}

function rethrowNamed(err: unknown, ext: TczFile): never {
  if (err instanceof FormatError && !err.message.includes(ext.name)) {
    throw new FormatError('squashfs', `${ext.name} (${ext.file.origin}): ${err.message.replace(/^squashfs: /, '')}`, { cause: err });
  }
  throw err;
}
