import { createHash } from 'node:crypto';
import { MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, type Descriptor } from '../oci/layout.js';
import type { ManifestNode } from '../oci/walk.js';

const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const LAYER_TYPES: Record<string, string> = {
  'application/vnd.oci.image.layer.v1.tar': 'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

/**
 * The same image in Docker's v2 schema 2 media types, for registries that refuse OCI ones. The blobs
 * do not change; manifests do, so each parent is rewritten to name its children's new digests.
 * Artifacts (manifests with a subject) have no schema 2 form and stay out.
 */
export function toDockerSchema2(nodes: ManifestNode[]): ManifestNode[] {
  const renamed = new Map<string, Descriptor>();
  return nodes.map((node) => {
    const json = JSON.parse(node.bytes.toString('utf8')) as Record<string, unknown>;
    let mediaType = node.desc.mediaType;
    if (node.kind === 'manifest' && mediaType === MEDIA_OCI_MANIFEST) {
      mediaType = MEDIA_DOCKER_MANIFEST;
      const config = json.config as Descriptor;
      json.config = { ...config, mediaType: DOCKER_CONFIG };
      json.layers = (json.layers as Descriptor[]).map((l) => ({ ...l, mediaType: LAYER_TYPES[l.mediaType] ?? l.mediaType }));
    } else if (node.kind === 'index' && mediaType === MEDIA_OCI_INDEX) {
      mediaType = MEDIA_DOCKER_LIST;
      json.manifests = (json.manifests as Descriptor[]).map((d) => {
        const r = renamed.get(d.digest);
        return r ? { ...d, mediaType: r.mediaType, digest: r.digest, size: r.size } : d;
      });
    }
    json.mediaType = mediaType;
    delete json.subject;
    delete json.artifactType;
    const bytes = Buffer.from(JSON.stringify(json));
    const desc: Descriptor = { ...node.desc, mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
    renamed.set(node.desc.digest, desc);
    return { ...node, desc, bytes };
  });
}
