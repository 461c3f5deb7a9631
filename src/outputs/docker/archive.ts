import { createReadStream } from 'node:fs';
import { DockerError } from '../../errors.js';
import { canonicalJson, sha256Hex } from '../../canonical-json.js';
import type { ImageConfig } from './config.js';
import type { Entry } from '../../formats/entry.js';
import { writeTar, writeTarInOrder } from '../../formats/tar/index.js';

export const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MEDIA_CYCLONEDX = 'application/vnd.cyclonedx+json';
/** The OCI empty descriptor's blob `{}`: the config of an artifact that has none. */
const EMPTY_BLOB = Buffer.from('{}');

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
  /**
   * A CycloneDX SBOM of the image: written as an OCI 1.1 artifact whose subject is the image manifest,
   * listed in index.json beside the image (the image and its digest stay what they are without it).
   */
  sbom?: Buffer;
}

/** One platform's image of a multi-arch build. */
export interface ArchiveImage {
  config: ImageConfig;
  layers: ArchiveLayer[];
  sbom?: Buffer;
}

/** Several platforms of one image under the same tags: index.json names one image index of them all. */
export interface IndexArchiveInput {
  images: ArchiveImage[];
  tags: string[];
  mtime: number;
}

export interface ArchivePlan {
  /** The image manifest (one platform) or the image index (several) the tags name. */
  manifestDigest: string;
  /** Per platform: its image manifest and, with an SBOM, the artifact manifest whose subject it is. */
  platforms: { platform: string; manifestDigest: string; manifestSize: number; sbomManifestDigest?: string }[];
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

interface PlannedManifest { bytes: Buffer; digest: string }

function planned(value: unknown): PlannedManifest {
  const bytes = Buffer.from(canonicalJson(value));
  return { bytes, digest: `sha256:${sha256Hex(bytes)}` };
}

function imageManifest(config: ImageConfig, layers: ArchiveLayer[]): PlannedManifest {
  return planned({
    schemaVersion: 2,
    mediaType: MEDIA_MANIFEST,
    config: { mediaType: MEDIA_CONFIG, digest: config.id, size: config.bytes.length },
    layers: layers.map((l) => ({ mediaType: MEDIA_LAYER, digest: l.diffId, size: l.size })),
  });
}

/** An OCI 1.1 artifact: the SBOM as its one layer, `subject` the image manifest it describes. */
function sbomManifest(sbom: Buffer, subject: PlannedManifest): PlannedManifest & { blob: PlannedManifest } {
  const blob = { bytes: sbom, digest: `sha256:${sha256Hex(sbom)}` };
  return {
    ...planned({
      schemaVersion: 2,
      mediaType: MEDIA_MANIFEST,
      artifactType: MEDIA_CYCLONEDX,
      config: { mediaType: MEDIA_EMPTY, digest: `sha256:${sha256Hex(EMPTY_BLOB)}`, size: EMPTY_BLOB.length, data: EMPTY_BLOB.toString('base64') },
      layers: [{ mediaType: MEDIA_CYCLONEDX, digest: blob.digest, size: sbom.length }],
      subject: { mediaType: MEDIA_MANIFEST, digest: subject.digest, size: subject.bytes.length },
    }),
    blob,
  };
}

function platformOf(config: ImageConfig): { architecture: string; os: string } {
  const c = JSON.parse(config.bytes.toString('utf8')) as { architecture: string; os: string };
  return { architecture: c.architecture, os: c.os };
}

function tagAnnotations(tag: string | undefined): Record<string, string> | undefined {
  return tag ? { 'io.containerd.image.name': fullReference(tag), 'org.opencontainers.image.ref.name': tagPart(tag) } : undefined;
}

/**
 * The archive `docker save` (Docker 25+) writes: at once a docker-archive (manifest.json) and an OCI
 * image layout (oci-layout, index.json, blobs/sha256), so docker load, skopeo and umoci all read it.
 */
export function planArchive(input: ArchiveInput): ArchivePlan {
  const configHex = hexOf(input.config.id);
  const manifest = imageManifest(input.config, input.layers);
  const manifestBytes = manifest.bytes;
  const manifestDigest = manifest.digest;
  const descriptors: Record<string, unknown>[] = (input.tags.length ? input.tags : [undefined]).map((tag) => ({
    mediaType: MEDIA_MANIFEST,
    digest: manifestDigest,
    size: manifestBytes.length,
    annotations: tagAnnotations(tag),
  }));
  const members = new Map<string, Buffer>([
    [`blobs/sha256/${configHex}`, input.config.bytes],
    [`blobs/sha256/${hexOf(manifestDigest)}`, manifestBytes],
  ]);
  const p = platformOf(input.config);
  const platform: ArchivePlan['platforms'][number] = { platform: `${p.os}/${p.architecture}`, manifestDigest, manifestSize: manifestBytes.length };
  if (input.sbom) {
    descriptors.push(addSbom(members, input.sbom, manifest));
    platform.sbomManifestDigest = descriptors[descriptors.length - 1]!.digest as string;
  }
  const index = { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: descriptors };
  const dockerManifest = [{
    Config: `blobs/sha256/${configHex}`,
    RepoTags: input.tags.length ? input.tags : null,
    Layers: input.layers.map((l) => `blobs/sha256/${hexOf(l.diffId)}`),
  }];
  members.set('index.json', Buffer.from(canonicalJson(index)));
  members.set('manifest.json', Buffer.from(JSON.stringify(dockerManifest)));
  members.set('oci-layout', Buffer.from(canonicalJson({ imageLayoutVersion: '1.0.0' })));
  const layerBlobs = new Map<string, ArchiveLayer>();
  for (const l of input.layers) layerBlobs.set(`blobs/sha256/${hexOf(l.diffId)}`, l);
  return { manifestDigest, platforms: [platform], members: input.sbom ? sortedMembers(members) : members, layerBlobs };
}

/**
 * The SBOM artifact's blobs into `members`; its descriptor for index.json. Listed at the top of the
 * layout, not inside the image (index), so the image's digest does not depend on whether an SBOM was
 * asked for; a push finds it there as an artifact with a subject (src/outputs/oci/walk.ts).
 */
function addSbom(members: Map<string, Buffer>, sbom: Buffer, subject: PlannedManifest): Record<string, unknown> {
  const art = sbomManifest(sbom, subject);
  members.set(`blobs/sha256/${hexOf(art.blob.digest)}`, art.blob.bytes);
  members.set(`blobs/sha256/${hexOf(art.digest)}`, art.bytes);
  members.set(`blobs/sha256/${sha256Hex(EMPTY_BLOB)}`, EMPTY_BLOB);
  return { mediaType: MEDIA_MANIFEST, artifactType: MEDIA_CYCLONEDX, digest: art.digest, size: art.bytes.length };
}

/**
 * Several platforms (and SBOMs) of one image: index.json names one image index, as `docker save` of a
 * multi-platform image does, so `skopeo inspect oci-archive:FILE` needs no reference and picks the
 * platform. The image index lists each platform's manifest; index.json lists it and, beside it, each
 * platform's SBOM artifact (addSbom). manifest.json, read by `docker load`, holds one image: linux/amd64
 * when there is one (Docker runs on 64-bit hosts only; the choice must not depend on the building
 * machine, or the archive's bytes would), else the first. Another platform loads with `dbco image --docker --platform`.
 */
export function planIndexArchive(input: IndexArchiveInput): ArchivePlan {
  if (input.images.length === 0) throw new DockerError('an image index needs at least one image');
  const members = new Map<string, Buffer>();
  const layerBlobs = new Map<string, ArchiveLayer>();
  const descriptors: Record<string, unknown>[] = [];
  const artifacts: Record<string, unknown>[] = [];
  const platforms: ArchivePlan['platforms'] = [];
  for (const image of input.images) {
    const manifest = imageManifest(image.config, image.layers);
    members.set(`blobs/sha256/${hexOf(image.config.id)}`, image.config.bytes);
    members.set(`blobs/sha256/${hexOf(manifest.digest)}`, manifest.bytes);
    for (const l of image.layers) layerBlobs.set(`blobs/sha256/${hexOf(l.diffId)}`, l);
    const platform = platformOf(image.config);
    descriptors.push({ mediaType: MEDIA_MANIFEST, digest: manifest.digest, size: manifest.bytes.length, platform });
    const entry: ArchivePlan['platforms'][number] = { platform: `${platform.os}/${platform.architecture}`, manifestDigest: manifest.digest, manifestSize: manifest.bytes.length };
    if (image.sbom) {
      const art = addSbom(members, image.sbom, manifest);
      artifacts.push(art);
      entry.sbomManifestDigest = art.digest as string;
    }
    platforms.push(entry);
  }
  const imageIndex = planned({ schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: descriptors });
  members.set(`blobs/sha256/${hexOf(imageIndex.digest)}`, imageIndex.bytes);
  const top = (input.tags.length ? input.tags : [undefined]).map((tag) => ({
    mediaType: MEDIA_INDEX, digest: imageIndex.digest, size: imageIndex.bytes.length, annotations: tagAnnotations(tag),
  }));
  members.set('index.json', Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: [...top, ...artifacts] })));
  const loadable = input.images.find((i) => platformOf(i.config).architecture === 'amd64') ?? input.images[0]!;
  members.set('manifest.json', Buffer.from(JSON.stringify([{
    Config: `blobs/sha256/${hexOf(loadable.config.id)}`,
    RepoTags: input.tags.length ? input.tags : null,
    Layers: loadable.layers.map((l) => `blobs/sha256/${hexOf(l.diffId)}`),
  }])));
  members.set('oci-layout', Buffer.from(canonicalJson({ imageLayoutVersion: '1.0.0' })));
  return { manifestDigest: imageIndex.digest, platforms, members: sortedMembers(members), layerBlobs };
}

/** Blobs first, then the layout's own files, in a fixed order: the same images give the same tar bytes. */
function sortedMembers(m: Map<string, Buffer>): Map<string, Buffer> {
  const rank = (k: string): string => (k.startsWith('blobs/') ? `0${k}` : `1${k}`);
  return new Map([...m].sort(([a], [b]) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0)));
}

/** Streams the archive: small members from memory, layers straight from their cached files. */
export function writeImageArchive(input: ArchiveInput | IndexArchiveInput): AsyncIterable<Uint8Array> {
  const plan = 'images' in input ? planIndexArchive(input) : planArchive(input);
  const omit = 'images' in input ? undefined : input.omit;
  const dir = (p: string): Entry => ({ path: p, kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: input.mtime, size: 0 });
  const file = (p: string, size: number, open: () => AsyncIterable<Uint8Array>): Entry =>
    ({ path: p, kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: input.mtime, size, open });
  const entries: Entry[] = [dir('blobs'), dir('blobs/sha256')];
  for (const [name, bytes] of plan.members) entries.push(file(name, bytes.length, async function* () { yield bytes; }));
  for (const [name, layer] of plan.layerBlobs) {
    if (plan.members.has(name) || omit?.has(layer.diffId)) continue;
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

/** An image whose layers are still being built: what writeImageArchiveAsBuilt streams. */
export interface ArchiveAsBuilt {
  /** The layers in image order, each settling when its tar is written. */
  pending: Promise<ArchiveLayer>[];
  /** The finished image (config, and every layer: `pending`'s and any added after), once the build has it. */
  image: Promise<{ config: ImageConfig; layers: ArchiveLayer[] }>;
  tags: string[];
  mtime: number;
  /** Called for each layer as it is reached: true leaves its blob out (the engine holds it). */
  omit?: (layer: ArchiveLayer, index: number) => boolean;
  /** Called with each blob's size just before it is sent (progress). */
  onLayer?: (size: number) => void;
}

/**
 * The archive writeImageArchive writes, for the engine only, sent as the build goes: each layer blob
 * as soon as it and the ones below it are written, then the config, the manifests, index.json and
 * manifest.json once the image is known. Engines read the whole archive before they look at
 * manifest.json (dockerd untars it first, the containerd store ingests blobs as they come, Podman
 * spools it to a file), so the order does not matter to them; it is not the --output archive's order.
 */
export function writeImageArchiveAsBuilt(input: ArchiveAsBuilt): AsyncIterable<Uint8Array> {
  const dir = (p: string): Entry => ({ path: p, kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: input.mtime, size: 0 });
  const file = (p: string, size: number, open: () => AsyncIterable<Uint8Array>): Entry =>
    ({ path: p, kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: input.mtime, size, open });
  async function* entries(): AsyncIterable<Entry> {
    yield dir('blobs');
    yield dir('blobs/sha256');
    const done = new Set<string>();
    const layerEntry = (name: string, layer: ArchiveLayer): Entry => {
      done.add(name);
      input.onLayer?.(layer.size);
      return file(name, layer.size, () => readLayerFile(layer));
    };
    for (let i = 0; i < input.pending.length; i++) {
      const layer = await input.pending[i]!;
      const name = `blobs/sha256/${hexOf(layer.diffId)}`;
      if (done.has(name)) continue;
      if (input.omit?.(layer, i)) { done.add(name); continue; }
      yield layerEntry(name, layer);
    }
    const { config, layers } = await input.image;
    const plan = planArchive({ config, layers, tags: input.tags, mtime: input.mtime });
    for (const [name, layer] of plan.layerBlobs) {
      if (done.has(name) || plan.members.has(name)) continue;
      if (input.omit?.(layer, layers.indexOf(layer))) continue;
      yield layerEntry(name, layer);
    }
    for (const [name, bytes] of plan.members) yield file(name, bytes.length, async function* () { yield bytes; });
  }
  return writeTarInOrder(entries(), { mtime: input.mtime });
}
