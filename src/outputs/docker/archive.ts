import { createReadStream } from 'node:fs';
import { DockerError } from '../../errors.js';
import { canonicalJson, sha256Hex } from '../../canonical-json.js';
import type { ImageConfig } from './config.js';
import type { Entry } from '../../formats/entry.js';
import { writeTar } from '../../formats/tar/index.js';

export const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar';

/** A layer tar already on disk (materializeLayer's result). */
export interface ArchiveLayer {
  path: string;
  /** sha256:hex of the file: for uncompressed layers, digest and diff_id are the same. */
  diffId: string;
  size: number;
}

export interface ArchiveInput {
  config: ImageConfig;
  layers: ArchiveLayer[];
  /** Tags written to manifest.json and the OCI index, e.g. 'demo:latest'. May be empty. */
  tags: string[];
  /** Header mtime of every member. */
  mtime: number;
  /**
   * diffIds whose blobs are left out: layers this process already loaded into the engine (which then
   * skips them by chain ID). Only for the engine; an archive meant to be kept has every blob.
   */
  omit?: ReadonlySet<string>;
}

export interface ArchivePlan {
  manifestDigest: string;
  /** The small JSON members, by archive path. */
  members: Map<string, Buffer>;
  /** Blob path -> layer file, each once even when two layers are identical. */
  layerBlobs: Map<string, ArchiveLayer>;
}

const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

/** Docker's normalization: 'demo:1' -> 'docker.io/library/demo:1'; a name with a registry host stays. */
export function fullReference(tag: string): string {
  const slash = tag.indexOf('/');
  const first = slash < 0 ? '' : tag.slice(0, slash);
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain) return tag;
  return slash < 0 ? `docker.io/library/${tag}` : `docker.io/${tag}`;
}

function tagPart(tag: string): string {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/') ? tag.slice(colon + 1) : 'latest';
}

/**
 * The archive `docker save` (Docker 25+) writes: at once a docker-archive (manifest.json) and an OCI
 * image layout (oci-layout, index.json, blobs/sha256), so docker load, skopeo and umoci all read it.
 */
export function planArchive(input: ArchiveInput): ArchivePlan {
  const configHex = hexOf(input.config.id);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_MANIFEST,
    config: { mediaType: MEDIA_CONFIG, digest: input.config.id, size: input.config.bytes.length },
    layers: input.layers.map((l) => ({ mediaType: MEDIA_LAYER, digest: l.diffId, size: l.size })),
  };
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const manifestDigest = `sha256:${sha256Hex(manifestBytes)}`;
  const descriptors = (input.tags.length ? input.tags : [undefined]).map((tag) => ({
    mediaType: MEDIA_MANIFEST,
    digest: manifestDigest,
    size: manifestBytes.length,
    annotations: tag
      ? { 'io.containerd.image.name': fullReference(tag), 'org.opencontainers.image.ref.name': tagPart(tag) }
      : undefined,
  }));
  const index = { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: descriptors };
  const dockerManifest = [{
    Config: `blobs/sha256/${configHex}`,
    RepoTags: input.tags.length ? input.tags : null,
    Layers: input.layers.map((l) => `blobs/sha256/${hexOf(l.diffId)}`),
  }];

  const members = new Map<string, Buffer>([
    [`blobs/sha256/${configHex}`, input.config.bytes],
    [`blobs/sha256/${hexOf(manifestDigest)}`, manifestBytes],
    ['index.json', Buffer.from(canonicalJson(index))],
    ['manifest.json', Buffer.from(JSON.stringify(dockerManifest))],
    ['oci-layout', Buffer.from(canonicalJson({ imageLayoutVersion: '1.0.0' }))],
  ]);
  const layerBlobs = new Map<string, ArchiveLayer>();
  for (const l of input.layers) layerBlobs.set(`blobs/sha256/${hexOf(l.diffId)}`, l);
  return { manifestDigest, members, layerBlobs };
}

/** Streams the archive: small members from memory, layers straight from their cached files. */
export function writeImageArchive(input: ArchiveInput): AsyncIterable<Uint8Array> {
  const plan = planArchive(input);
  const dir = (p: string): Entry => ({ path: p, kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: input.mtime, size: 0 });
  const file = (p: string, size: number, open: () => AsyncIterable<Uint8Array>): Entry =>
    ({ path: p, kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: input.mtime, size, open });
  const entries: Entry[] = [dir('blobs'), dir('blobs/sha256')];
  for (const [name, bytes] of plan.members) entries.push(file(name, bytes.length, async function* () { yield bytes; }));
  for (const [name, layer] of plan.layerBlobs) {
    if (plan.members.has(name) || input.omit?.has(layer.diffId)) continue;
    entries.push(file(name, layer.size, () => readLayerFile(layer)));
  }
  return writeTar(entries, { mtime: input.mtime });
}

async function* readLayerFile(layer: ArchiveLayer): AsyncIterable<Uint8Array> {
  let read = 0;
  for await (const chunk of createReadStream(layer.path, { highWaterMark: 1 << 20 })) {
    read += (chunk as Buffer).length;
    if (read > layer.size) break;
    yield chunk as Buffer;
  }
  if (read !== layer.size) {
    throw new DockerError(`layer file ${layer.path} is ${read} bytes, expected ${layer.size}: the layer cache changed underneath`);
  }
}
