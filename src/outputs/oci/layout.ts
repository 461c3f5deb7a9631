import { createReadStream, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DbcoError } from '../../errors.js';
import { sha256Hex } from '../../canonical-json.js';
import { indexTarMembers } from '../../formats/tar/members.js';
import { openFileSource } from '../../io/file-source.js';
import { planArchive, planIndexArchive, type ArchiveInput, type IndexArchiveInput } from '../docker/archive.js';

/**
 * The one model every push reads: a read-only OCI image layout (image-spec image-layout.md), i.e. the
 * top-level index plus a way to open any blob by digest. It is built from the build's cached layer
 * files and config (nothing written) or from an archive/folder written with --output, so both push
 * the same bytes. Multi-arch indexes and artifacts (manifests with a `subject`, e.g. an SBOM) are
 * just more descriptors and blobs in it.
 */
export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

/** An image manifest or an artifact manifest (config + layers/blobs, maybe a subject). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface OciLayout {
  /** index.json: the images (manifests or indexes) and artifacts the layout holds. */
  readonly index: ImageIndex;
  /** Where it came from, for messages. */
  readonly where: string;
  /** Size of a blob the layout holds, or undefined. */
  blobSize(digest: string): number | undefined;
  /** Streams a blob from its file; never the whole blob in memory. */
  open(digest: string): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

export class LayoutError extends DbcoError {
  constructor(readonly where: string, message: string) {
    super('LAYOUT', `${where}: ${message}`);
  }
}

export const isIndex = (mediaType: string | undefined): boolean => mediaType === MEDIA_OCI_INDEX || mediaType === MEDIA_DOCKER_LIST;
export const isManifest = (mediaType: string | undefined): boolean => mediaType === MEDIA_OCI_MANIFEST || mediaType === MEDIA_DOCKER_MANIFEST;
const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Small blobs (manifests, indexes, configs) read whole, checked against their descriptor. */
export async function readBlob(layout: OciLayout, desc: Pick<Descriptor, 'digest' | 'size'>, limit = 4 << 20): Promise<Buffer> {
  if (desc.size > limit) throw new LayoutError(layout.where, `${desc.digest} is ${desc.size} bytes: too large for a manifest or config`);
  const parts: Buffer[] = [];
  for await (const c of layout.open(desc.digest)) parts.push(Buffer.from(c));
  const bytes = Buffer.concat(parts);
  if (bytes.length !== desc.size || `sha256:${sha256Hex(bytes)}` !== desc.digest) {
    throw new LayoutError(layout.where, `blob ${desc.digest} does not match its descriptor (${bytes.length} bytes)`);
  }
  return bytes;
}

export async function readJsonBlob<T>(layout: OciLayout, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<{ bytes: Buffer; json: T }> {
  const bytes = await readBlob(layout, desc);
  try {
    return { bytes, json: JSON.parse(bytes.toString('utf8')) as T };
  } catch {
    throw new LayoutError(layout.where, `blob ${desc.digest} is not JSON`);
  }
}

interface BlobFile {
  path: string;
  /** Byte offset of the blob inside `path` (a tar member), 0 for a file of its own. */
  offset: number;
  size: number;
}

function parseIndex(where: string, bytes: Buffer): ImageIndex {
  let index: ImageIndex;
  try {
    index = JSON.parse(bytes.toString('utf8')) as ImageIndex;
  } catch {
    throw new LayoutError(where, 'index.json is not JSON');
  }
  if (!index || !Array.isArray(index.manifests)) throw new LayoutError(where, 'index.json has no manifests list');
  for (const d of index.manifests) {
    if (!d || typeof d.digest !== 'string' || !DIGEST.test(d.digest) || typeof d.size !== 'number') {
      throw new LayoutError(where, `index.json names a bad descriptor ${JSON.stringify(d)}`);
    }
  }
  return index;
}

/** A layout whose small members are in memory and whose large blobs are files (or tar members). */
function layoutOf(where: string, memory: Map<string, Buffer>, files: Map<string, BlobFile>, close = async () => {}): OciLayout {
  const indexBytes = memory.get('index.json');
  if (!indexBytes) throw new LayoutError(where, 'no index.json: not an OCI image layout');
  const index = parseIndex(where, indexBytes);
  const blobPath = (digest: string): string => {
    if (!DIGEST.test(digest)) throw new LayoutError(where, `unsupported digest ${JSON.stringify(digest)}`);
    return `blobs/sha256/${hexOf(digest)}`;
  };
  return {
    index,
    where,
    blobSize(digest) {
      const p = blobPath(digest);
      return memory.get(p)?.length ?? files.get(p)?.size;
    },
    open(digest) {
      const p = blobPath(digest);
      const bytes = memory.get(p);
      if (bytes) return (async function* () { yield bytes; })();
      const file = files.get(p);
      if (!file) throw new LayoutError(where, `no blob ${digest}`);
      return streamFile(where, digest, file);
    },
    close,
  };
}

async function* streamFile(where: string, digest: string, file: BlobFile): AsyncIterable<Uint8Array> {
  let read = 0;
  if (file.size > 0) {
    const stream = createReadStream(file.path, { start: file.offset, end: file.offset + file.size - 1, highWaterMark: 1 << 20 });
    for await (const chunk of stream) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  if (read !== file.size) throw new LayoutError(where, `blob ${digest}: read ${read} bytes of ${file.size} from ${file.path}: the file changed underneath`);
}

/**
 * The layout a build would write with --output, straight from the cached layer files and config:
 * pushing it needs no archive. Same planner as the archive writer, so both give the same digests.
 */
export function layoutFromBuild(input: ArchiveInput | IndexArchiveInput, where = 'build'): OciLayout {
  const plan = 'images' in input ? planIndexArchive(input) : planArchive(input);
  const files = new Map<string, BlobFile>();
  for (const [p, layer] of plan.layerBlobs) files.set(p, { path: layer.path, offset: 0, size: layer.size });
  return layoutOf(where, plan.members, files);
}

/** Members read into memory when the layout is opened: index.json and anything this small. */
const SMALL = 64 * 1024;

/** An OCI image layout in a tar (what `dbco image --output` writes) or in a folder. */
export async function openLayout(location: string): Promise<OciLayout> {
  let st;
  try {
    st = await stat(location);
  } catch {
    throw new LayoutError(location, 'no such file or folder');
  }
  return st.isDirectory() ? openLayoutFolder(location) : openLayoutArchive(location);
}

async function openLayoutArchive(file: string): Promise<OciLayout> {
  const src = await openFileSource(file);
  try {
    const members = await indexTarMembers(src);
    const memory = new Map<string, Buffer>();
    const files = new Map<string, BlobFile>();
    for (const [p, m] of members) {
      if (p === 'index.json' || (p.startsWith('blobs/') && m.size <= SMALL)) memory.set(p, Buffer.from(await src.read(m.offset, m.size)));
      else if (p.startsWith('blobs/')) files.set(p, { path: file, offset: m.offset, size: m.size });
    }
    if (!members.has('oci-layout')) throw new LayoutError(file, 'no oci-layout member: not an OCI image layout archive');
    return layoutOf(file, memory, files);
  } catch (err) {
    if (err instanceof DbcoError) throw err.code === 'LAYOUT' ? err : new LayoutError(file, err.message);
    throw err;
  } finally {
    await src.close();
  }
}

async function openLayoutFolder(dir: string): Promise<OciLayout> {
  const memory = new Map<string, Buffer>();
  try {
    memory.set('index.json', await readFile(path.join(dir, 'index.json')));
  } catch {
    throw new LayoutError(dir, 'no index.json: not an OCI image layout');
  }
  const layout = layoutOf(dir, memory, new Map());
  return {
    ...layout,
    blobSize(digest) {
      if (!DIGEST.test(digest)) return undefined;
      try {
        return statSync(path.join(dir, 'blobs', 'sha256', hexOf(digest))).size;
      } catch {
        return undefined;
      }
    },
    open(digest) {
      if (!DIGEST.test(digest)) throw new LayoutError(dir, `unsupported digest ${JSON.stringify(digest)}`);
      const p = path.join(dir, 'blobs', 'sha256', hexOf(digest));
      return (async function* () {
        let size: number;
        try {
          size = (await stat(p)).size;
        } catch {
          throw new LayoutError(dir, `no blob ${digest}`);
        }
        yield* streamFile(dir, digest, { path: p, offset: 0, size });
      })();
    },
  };
}
