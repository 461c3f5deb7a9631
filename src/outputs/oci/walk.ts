import {
  isIndex, isManifest, LayoutError, readJsonBlob,
  type Descriptor, type ImageIndex, type ImageManifest, type OciLayout,
} from './layout.js';

/** A manifest or index with its exact bytes: what a registry stores under its digest. */
export interface ManifestNode {
  desc: Descriptor;
  bytes: Buffer;
  kind: 'manifest' | 'index';
  /** Blob descriptors (config + layers) of a manifest; none for an index. */
  blobs: Descriptor[];
  subject?: Descriptor;
}

/** One image of a layout (a manifest or an index) in push order: blobs, then manifests children first. */
export interface ImageGraph {
  root: Descriptor;
  /** Every blob once, in the order met. */
  blobs: Descriptor[];
  /** Children before parents; the root last. */
  manifests: ManifestNode[];
}

/** What a layout holds at its top level: images, and artifacts that refer to one of them by `subject`. */
export interface LayoutContents {
  images: Descriptor[];
  /** Each artifact's own graph (its blobs and manifest), with the subject it names. */
  artifacts: { graph: ImageGraph; subject: Descriptor }[];
}

const MAX_DEPTH = 8;

async function readNode(layout: OciLayout, desc: Descriptor): Promise<ManifestNode> {
  if (isIndex(desc.mediaType)) {
    const { bytes, json } = await readJsonBlob<ImageIndex>(layout, desc);
    if (!Array.isArray(json.manifests)) throw new LayoutError(layout.where, `index ${desc.digest} has no manifests`);
    return { desc, bytes, kind: 'index', blobs: [], subject: json.subject };
  }
  if (isManifest(desc.mediaType)) {
    const { bytes, json } = await readJsonBlob<ImageManifest>(layout, desc);
    if (!json.config || !Array.isArray(json.layers)) throw new LayoutError(layout.where, `manifest ${desc.digest} has no config or layers`);
    return { desc, bytes, kind: 'manifest', blobs: [json.config, ...json.layers], subject: json.subject };
  }
  throw new LayoutError(layout.where, `${desc.digest}: unsupported media type ${JSON.stringify(desc.mediaType)}`);
}

/** Walks one image: an index's children first (each a manifest or a nested index), the root last. */
export async function walkImage(layout: OciLayout, root: Descriptor): Promise<ImageGraph> {
  const blobs = new Map<string, Descriptor>();
  const manifests = new Map<string, ManifestNode>();
  const visit = async (desc: Descriptor, depth: number): Promise<void> => {
    if (manifests.has(desc.digest)) return;
    if (depth > MAX_DEPTH) throw new LayoutError(layout.where, `indexes nest deeper than ${MAX_DEPTH} at ${desc.digest}`);
    const node = await readNode(layout, desc);
    if (node.kind === 'index') {
      const { json } = await readJsonBlob<ImageIndex>(layout, desc);
      for (const child of json.manifests) await visit(child, depth + 1);
    }
    for (const b of node.blobs) {
      if (layout.blobSize(b.digest) === undefined) throw new LayoutError(layout.where, `manifest ${desc.digest} names blob ${b.digest}, which the layout lacks`);
      if (!blobs.has(b.digest)) blobs.set(b.digest, b);
    }
    manifests.set(desc.digest, node);
  };
  await visit(root, 0);
  return { root, blobs: [...blobs.values()], manifests: [...manifests.values()] };
}

/**
 * Splits the top-level index into images and artifacts. Several descriptors of the same digest (one
 * per tag) are one image; an artifact is a top-level manifest whose `subject` names another.
 */
export async function layoutContents(layout: OciLayout): Promise<LayoutContents> {
  const images = new Map<string, Descriptor>();
  const artifacts: LayoutContents['artifacts'] = [];
  for (const desc of layout.index.manifests) {
    if (images.has(desc.digest) || artifacts.some((a) => a.graph.root.digest === desc.digest)) continue;
    const node = await readNode(layout, desc);
    if (node.subject) artifacts.push({ graph: await walkImage(layout, desc), subject: node.subject });
    else images.set(desc.digest, desc);
  }
  return { images: [...images.values()], artifacts };
}
